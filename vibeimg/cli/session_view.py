"""How conversations read on stdout: the list of sessions, and one session's turns.

Shared by ``vibeimg history sessions``, ``vibeimg history show SESSION`` and the slash
commands of ``vibeimg chat`` (``/images``, ``/cost``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.units import count_of

if TYPE_CHECKING:
    from vibeimg.records.sessions import SessionInfo
    from vibeimg.records.transcript import Transcript, Turn


def local_time(stamp: str) -> str:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return stamp
    return when.strftime("%Y-%m-%d %H:%M")


def printable(text: str) -> str:
    """One line of ``text`` with no control sequence left (prompts and revised prompts
    come from people and from the gateway, and must not drive the terminal)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def one_line(text: str, width: int = 70) -> str:
    words = printable(text)
    return words if len(words) <= width else words[: width - 1] + "…"


def cost_text(transcript: Transcript) -> str:
    """The session's estimated spend: image output of every turn, undone ones too."""
    online = [t for t in transcript.turns if not t.offline]
    if not online:
        return "none (offline emulator)" if transcript.turns else "$0.000"
    possible = transcript.possible_cost_usd
    maybe = f", and up to ${possible:.3f} possibly billed with no image received" \
        if possible else ""
    return f"${transcript.estimated_cost_usd:.3f} (image output only){maybe}"


def tokens_text(transcript: Transcript) -> str:
    text_tokens = sum(_total(t.usage) for t in transcript.turns)
    image_tokens = sum(_total(t.image_usage) for t in transcript.turns)
    return f"text model {text_tokens:,} tokens, image tokens {image_tokens:,}"


def _total(usage: dict[str, Any] | None) -> int:
    value = (usage or {}).get("total_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summary_json(info: SessionInfo, transcript: Transcript) -> dict[str, Any]:
    live = transcript.live_turns
    return {"name": transcript.name, "path": str(info.path), "created": transcript.created,
            "updated": transcript.updated, "turns": len(live),
            "turns_recorded": len(transcript.turns), "images": len(transcript.images),
            "estimated_cost_usd": transcript.estimated_cost_usd,
            "possible_cost_usd": transcript.possible_cost_usd,
            "last_prompt": live[-1].prompt if live else None}


def summary_line(transcript: Transcript) -> str:
    live = transcript.live_turns
    last = one_line(live[-1].prompt, 50) if live else "(no turn yet)"
    spent = "offline" if all(t.offline for t in transcript.turns) else \
        f"${transcript.estimated_cost_usd:.3f}"
    return (f"{transcript.name:<20} {local_time(transcript.updated)}  "
            f"{count_of(len(live), 'turn'):>8}  {len(transcript.images):>3} img  "
            f"{spent:>8}  {last}")


def turn_state(turn: Turn) -> str:
    if turn.undone:
        return "undone"
    if not turn.live:
        return f"{turn.status}, not in the conversation"
    return turn.status


def sent_text(turn: Turn) -> str:
    images = turn.context.get("images") or []
    earlier = turn.context.get("earlier_turns") or 0
    parts = [f"the words of {count_of(earlier, 'earlier turn')}"] if earlier else []
    if images:
        names = ", ".join(Path(str(i.get("path", "?"))).name for i in images
                          if isinstance(i, dict))
        parts.append(f"{count_of(len(images), 'image')} ({names})")
    mode = turn.context.get("mode", "last")
    return (" and ".join(parts) or "the prompt alone") + f" [context {mode}]"


def turn_lines(turn: Turn) -> list[str]:
    """One turn in full, as ``history show SESSION`` shows it."""
    head = (f"turn {turn.number}  {local_time(turn.created)}  {turn_state(turn)}  "
            + ("offline" if turn.offline else f"${turn.estimated_cost_usd:.3f}"))
    rows = [("prompt", turn.prompt), ("sent", sent_text(turn))]
    rows += [("image", f"{i.path}  {i.size or '?'}" + ("" if Path(i.path).exists()
                                                      else "  (no longer on disk)"))
             for i in turn.images]
    revised = dict.fromkeys(i.revised_prompt for i in turn.images if i.revised_prompt)
    rows += [("revised", text) for text in revised if text is not None]
    options = turn.options
    rows.append(("options", " ".join(f"{k}={options[k]}" for k in
                                     ("size", "quality", "output_format", "model")
                                     if options.get(k) is not None)))
    rows += [("request id", turn.request_id or ""), ("error", turn.error or "")]
    return [head] + [f"  {label:<11} {printable(value)}" for label, value in rows if value]


def session_lines(transcript: Transcript, path: Path) -> list[str]:
    """A session in full: its summary, then every turn."""
    undone = sum(1 for t in transcript.turns if not t.live)
    lines = [
        f"session     {transcript.name}",
        f"file        {path}",
        f"created     {local_time(transcript.created)}",
        f"turns       {len(transcript.live_turns)}"
        + (f" ({undone} more undone, failed or cancelled: counted in the cost)"
           if undone else ""),
        f"images      {len(transcript.images)}",
        f"cost        {cost_text(transcript)}; {tokens_text(transcript)}",
    ]
    for turn in transcript.turns:
        lines += ["", *turn_lines(turn)]
    return lines


def image_lines(transcript: Transcript) -> list[str]:
    """``/images``: every image of the conversation, by turn."""
    return [f"turn {turn.number}: {path}" for turn in transcript.live_turns
            for path in turn.image_paths]
