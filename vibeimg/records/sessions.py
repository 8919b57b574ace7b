"""Conversations kept by vibeimg: one JSON Lines transcript per session in the data folder.

The gateway cannot hold a conversation (no ``previous_response_id``, SPEC.md section 5),
so vibeimg keeps it: ``DATA/sessions/NAME.jsonl`` holds a header line, then one line per
turn (prompt, options, what was sent, the images made with their SHA-256, request ids,
usage, cost). A turn that reached the gateway is written whatever its outcome, so turn
numbers (and the files named after them) are never reused; only the turns that saved an
image and were not undone are the conversation resent on the next turn.

The file is rewritten whole after each turn: written to a temporary file beside it,
flushed to disk, then renamed over it, under a lock, so a crash, a Ctrl-C or two
vibeimg processes at once never leave it half-written or drop a turn. A file edited
by hand into something else is never overwritten: every reader stops with
:class:`SessionError` (exit 2) naming the line and the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError
from vibeimg.settings.resolve import data_dir, make_private_folder

FORMAT = 1  # the transcript's own version, in its header line
MAX_NAME = 64
SUFFIX = ".jsonl"
LIVE_STATUSES = ("completed", "partial")  # turns whose images the conversation builds on


class SessionError(UsageError):
    """A session that does not exist, a bad name, or a transcript that cannot be read."""


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sessions_dir() -> Path:
    """Where the transcripts live (in the private data folder)."""
    return data_dir() / "sessions"


def check_session_name(name: str) -> str:
    """A session name usable as a file name and in image names: letters (any script),
    digits, ``-``, ``_`` and ``.``, starting with a letter or digit, not digits alone
    (those are the history's run ids), at most 64 characters."""
    text = name.strip()
    ok = (0 < len(text) <= MAX_NAME and text[0].isalnum() and not text.isdigit()
          and all(c.isalnum() or c in "-_." for c in text) and text.isprintable())
    if not ok:
        raise SessionError(
            f"{name!r} is not a usable session name",
            hint="use letters, digits, '-', '_' or '.', starting with a letter or digit, "
                 f"at most {MAX_NAME} characters, not digits alone (e.g. coast)")
    return text


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


def _number(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError("'estimated_cost_usd' is not a number")
    return float(value)


# -- storage ------------------------------------------------------------------------------
def transcript_path(name: str) -> Path:
    return sessions_dir() / f"{check_session_name(name)}{SUFFIX}"


def exists(name: str) -> bool:
    return transcript_path(name).is_file()


def load(name: str, *, create: bool = False) -> Transcript:
    """The session ``name``; a new, empty one with ``create`` (not written until a turn)."""
    path = transcript_path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if create:
            return Transcript(name=check_session_name(name), created=now_text())
        raise unknown_session(name) from None
    except OSError as exc:
        raise SessionError(f"cannot read the session file {path}: {exc.strerror or exc}",
                           hint="check its permissions") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise damaged(path, "it is not UTF-8 text") from None
    return Transcript.parse(check_session_name(name), text, path)


def unknown_session(name: str) -> SessionError:
    known = [info.name for info in list_sessions()]
    from difflib import get_close_matches  # noqa: PLC0415 - only for this error

    close = get_close_matches(name, known, n=1)
    hint = (f"did you mean {close[0]!r}? " if close else "") + (
        "'vibeimg history sessions' lists them; --session NAME with a prompt starts one")
    return SessionError(f"there is no session {name!r}", hint=hint)


def save(transcript: Transcript) -> Path:
    """Write the whole transcript atomically: a temporary file, fsync, rename."""
    folder = make_private_folder(sessions_dir())
    path = transcript_path(transcript.name)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{transcript.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:  # mkstemp: mode 0600, as prompts are private
            out.write(transcript.to_text().encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself reaches the disk
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return path


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the session's lock: read, change and write it with no other vibeimg between."""
    folder = make_private_folder(sessions_dir())
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the rename alone protects it
    except ImportError:
        yield
        return
    handle = os.open(folder / f".{check_session_name(name)}.lock", os.O_RDWR | os.O_CREAT,
                     0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


def add_turn(name: str, turn: Turn) -> Transcript:
    """Record ``turn`` in the session (created by its first turn), re-read under the lock
    so that a turn another vibeimg added meanwhile is kept."""
    with locked(name):
        transcript = load(name, create=True)
        transcript.add(turn)
        save(transcript)
    return transcript


def undo_turn(name: str) -> tuple[Transcript, Turn]:
    """Drop the session's last turn from the conversation; its images stay on disk."""
    with locked(name):
        transcript = load(name)
        turn = transcript.undo()
        save(transcript)
    return transcript, turn


@dataclass(frozen=True)
class SessionInfo:
    """A session as the list shows it."""

    name: str
    path: Path
    modified: float  # the file's modification time: its last turn or undo


def list_sessions() -> list[SessionInfo]:
    """Every session, most recently changed first."""
    try:
        entries = list(os.scandir(sessions_dir()))
    except OSError:
        return []
    found = []
    for entry in entries:
        stem = entry.name[: -len(SUFFIX)]
        if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
            continue
        try:
            check_session_name(stem)
        except SessionError:
            continue  # not a transcript vibeimg wrote
        with contextlib.suppress(OSError):
            if entry.is_file():
                found.append(SessionInfo(stem, Path(entry.path), entry.stat().st_mtime))
    return sorted(found, key=lambda info: (info.modified, info.name), reverse=True)


def fresh_name(stem: str) -> str:
    """A name no session has yet, from ``stem`` (a prompt's slug): ``stem``, ``stem-2``..."""
    base = stem[:MAX_NAME - 10].strip("-_.")
    if not _usable(base):  # empty, digits alone (a run id), odd characters
        base = f"chat-{base}" if base and _usable(f"chat-{base}") else "chat"
    name, number = base, 1
    while transcript_path(name).exists():
        number += 1
        name = f"{base}-{number}"
    return name


def _usable(name: str) -> bool:
    try:
        check_session_name(name)
    except SessionError:
        return False
    return True


def latest_name() -> str:
    """The session changed most recently (``--continue``)."""
    sessions = list_sessions()
    if not sessions:
        raise SessionError("there is no session to continue yet",
                           hint="start one with --session NAME")
    return sessions[0].name
