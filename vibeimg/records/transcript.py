"""A conversation's transcript as data: its turns, what each sent and saved, and the
JSON Lines text it is kept as (a header line, then one line per turn).

Plain data with no file access: :mod:`vibeimg.records.sessions` stores it. A line that is
not what vibeimg wrote is never guessed at: reading stops with :class:`SessionError`
(exit 2), naming the line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError

FORMAT = 1  # the transcript's own version, in its header line
LIVE_STATUSES = ("completed", "partial")  # turns whose images the conversation builds on


class SessionError(UsageError):
    """A session that does not exist, a bad name, or a transcript that cannot be read."""


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TurnImage:
    """An image a turn made, as it was saved."""

    path: str  # absolute
    sha256: str
    bytes: int
    format: str
    size: str | None = None
    revised_prompt: str | None = None
    sidecar: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> TurnImage:
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise ValueError("an image without a path")
        return cls(path=data["path"], sha256=str(data.get("sha256", "")),
                   bytes=_int(data.get("bytes", 0), "bytes"),
                   format=str(data.get("format", "")), size=_opt_str(data.get("size")),
                   revised_prompt=_opt_str(data.get("revised_prompt")),
                   sidecar=_opt_str(data.get("sidecar")))


@dataclass
class Turn:
    """One turn of a conversation: what was asked and sent, what came back."""

    number: int
    prompt: str
    status: str  # completed, partial, failed, interrupted: the run's own status
    created: str = ""
    prompt_sent: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # the image tool's, text model...
    context: dict[str, Any] = field(default_factory=dict)  # what was resent with it
    inputs: list[dict[str, Any]] = field(default_factory=list)  # images given (-i, /use)
    images: list[TurnImage] = field(default_factory=list)
    request_id: str | None = None
    response_id: str | None = None
    usage: dict[str, Any] | None = None
    image_usage: dict[str, Any] | None = None
    estimated_cost_usd: float = 0.0
    # What the images asked for and not received may have cost (a cut or cancelled turn)
    possible_cost_usd: float = 0.0
    error: str | None = None
    offline: bool = False
    undone: str | None = None  # when it was undone (its files stay)

    @property
    def live(self) -> bool:
        """Whether the conversation builds on it: it saved an image and was not undone."""
        return self.status in LIVE_STATUSES and bool(self.images) and self.undone is None

    @property
    def image_paths(self) -> list[Path]:
        return [Path(image.path) for image in self.images]

    def as_json(self) -> dict[str, Any]:
        return {"type": "turn", "turn": self.number, **{
            k: v for k, v in asdict(self).items() if k != "number"}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Turn:
        number = data.get("turn")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError("a turn without a number")
        if not isinstance(data.get("prompt"), str):
            raise ValueError("a turn without a prompt")
        images = data.get("images", [])
        if not isinstance(images, list):
            raise ValueError("'images' is not a list")
        return cls(
            number=number, prompt=data["prompt"], status=str(data.get("status", "completed")),
            created=str(data.get("created", "")), prompt_sent=_opt_str(data.get("prompt_sent")),
            options=_dict(data.get("options")), context=_dict(data.get("context")),
            inputs=[i for i in data.get("inputs") or [] if isinstance(i, dict)],
            images=[TurnImage.from_json(i) for i in images],
            request_id=_opt_str(data.get("request_id")),
            response_id=_opt_str(data.get("response_id")),
            usage=data.get("usage") if isinstance(data.get("usage"), dict) else None,
            image_usage=data.get("image_usage")
            if isinstance(data.get("image_usage"), dict) else None,
            estimated_cost_usd=float(_number(data.get("estimated_cost_usd", 0.0))),
            possible_cost_usd=_number(data.get("possible_cost_usd", 0.0), "possible_cost_usd"),
            error=_opt_str(data.get("error")), offline=bool(data.get("offline", False)),
            undone=_opt_str(data.get("undone")),
        )


@dataclass
class Transcript:
    """A session: its name and every turn, in order."""

    name: str
    created: str = ""
    turns: list[Turn] = field(default_factory=list)

    @property
    def live_turns(self) -> list[Turn]:
        """The conversation as it stands: turns with images, not undone."""
        return [turn for turn in self.turns if turn.live]

    @property
    def last(self) -> Turn | None:
        live = self.live_turns
        return live[-1] if live else None

    @property
    def next_number(self) -> int:
        return max((turn.number for turn in self.turns), default=0) + 1

    @property
    def images(self) -> list[Path]:
        """Every image of the conversation as it stands, oldest first."""
        return [path for turn in self.live_turns for path in turn.image_paths]

    @property
    def updated(self) -> str:
        stamps = [t.undone or "" for t in self.turns] + [t.created for t in self.turns]
        return max([self.created, *stamps])

    @property
    def estimated_cost_usd(self) -> float:
        """Every turn's estimated cost, undone ones included (they were billed)."""
        return round(sum(t.estimated_cost_usd for t in self.turns if not t.offline), 6)

    @property
    def possible_cost_usd(self) -> float:
        """What every turn's images not received may have cost (cut, cancelled turns)."""
        return round(sum(t.possible_cost_usd for t in self.turns if not t.offline), 6)

    def add(self, turn: Turn) -> Turn:
        """Append ``turn``; a number another process took meanwhile moves on."""
        if any(t.number == turn.number for t in self.turns):
            turn.number = self.next_number
        self.turns.append(turn)
        return turn

    def undo(self) -> Turn:
        """Drop the last turn of the conversation (it stays in the file, marked undone)."""
        last = self.last
        if last is None:
            raise SessionError(f"the session {self.name} has no turn to undo",
                               hint=f"'vibeimg history show {self.name}' lists its turns")
        last.undone = now_text()
        return last

    def to_text(self) -> str:
        header = {"type": "session", "name": self.name, "created": self.created,
                  "format": FORMAT}
        lines = [header, *(turn.as_json() for turn in self.turns)]
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)

    @classmethod
    def parse(cls, name: str, text: str, path: Path) -> Transcript:
        transcript = cls(name=name)
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                if data.get("type") == "session":
                    transcript.created = str(data.get("created", ""))
                elif data.get("type") == "turn":
                    transcript.turns.append(Turn.from_json(data))
                else:
                    raise ValueError("neither a session header nor a turn")
            except (ValueError, TypeError, RecursionError) as exc:
                raise damaged(path, f"line {number} is not a turn vibeimg wrote ({exc})") \
                    from None
        return transcript


def damaged(path: Path, why: str) -> SessionError:
    return SessionError(
        f"the session file {path} cannot be read: {why}",
        hint="fix that line or move the file aside; vibeimg leaves it as it is, and the "
             "images stay where they are")


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"'{what}' is not a whole number")
    return value


def _number(value: Any, what: str = "estimated_cost_usd") -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"'{what}' is not a number")
    return float(value)
