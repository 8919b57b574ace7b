"""What ``chat-stream --session`` and ``vibeimg chat`` share: choosing the session,
options given again, undoing a turn, and recording one without losing the run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.errors import UsageError, VibeimgError, WriteError
from vibeimg.ui import Reporter
from vibeimg.units import count_of

if TYPE_CHECKING:
    from vibeimg.jobs.chat.result import ChatStreamResult
    from vibeimg.jobs.chat.session import TurnPlan, TurnSettings
    from vibeimg.records.transcript import Transcript

#: Command-line parameters a session turn takes from the last turn unless given again,
#: by the TurnSettings field they set.
INHERITABLE = {"size": "size", "quality": "quality", "output_format": "output_format",
               "compression": "compression", "moderation": "moderation", "model": "model",
               "instructions": "instructions"}


def chosen_session(name: str | None, continue_last: bool, *, context: str | None = None,
                   undo: bool = False) -> str | None:
    """The session named by ``--session`` or ``--continue`` (the latest), or None."""
    if name is not None and continue_last:
        raise UsageError("--session and --continue both name the conversation",
                         hint="give one: --continue takes the most recent")
    if name is None and not continue_last:
        if undo or context is not None:
            flag = "--undo" if undo else "--context"
            raise UsageError(f"{flag} needs a conversation",
                             hint="add --session NAME, or --continue for the most recent")
        return None
    from vibeimg.records import sessions  # only for a conversation

    return sessions.check_session_name(name) if name is not None else sessions.latest_name()


def given_options(ctx: Any) -> list[str]:
    """The settings given on the command line or in the environment, not by default."""
    given = []
    for parameter, setting in INHERITABLE.items():
        source = ctx.get_parameter_source(parameter)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.append(setting)
    return given


def plan_session_turn(ctx: Any, name: str, prompt: str, settings: TurnSettings, *,
                      create: bool, context: str | None, images: list[Path]) -> TurnPlan:
    """The next turn of the session ``name``, options not given taken from its last."""
    from vibeimg.jobs.chat.session import plan_turn
    from vibeimg.records import sessions

    transcript = sessions.load(name, create=create)
    return plan_turn(transcript, prompt, settings.inherit(transcript, given_options(ctx)),
                     context=context, images=images)


def undo_last_turn(name: str, reporter: Reporter, *, json_output: bool) -> Transcript:
    """Drop the session's last turn; say which, and that its files stay."""
    from vibeimg.cli.stdout import print_json
    from vibeimg.records import sessions

    transcript, turn = sessions.undo_turn(name)
    left = len(transcript.live_turns)
    if json_output:
        print_json({"session": name, "undone": turn.number, "prompt": turn.prompt,
                    "images": [image.path for image in turn.images], "turns": left})
    files = ", ".join(Path(image.path).name for image in turn.images)
    reporter.info(f"session {name}: turn {turn.number} undone ({one_line(turn.prompt)}); "
                  f"its files stay on disk ({files}); {count_of(left, 'turn')} left")
    return transcript


def one_line(text: str, width: int = 60) -> str:
    words = " ".join(text.split())
    return words if len(words) <= width else words[: width - 1] + "…"


def record_turn_or_warn(turn: TurnPlan, result: ChatStreamResult, *, offline: bool,
                        reporter: Reporter) -> VibeimgError | None:
    """Write the turn to its session. A failure never loses the run's images nor the
    transcript (it is replaced whole or not at all): it is returned, for the caller to
    raise once the results are out, unless the run has an error of its own (then it is
    a warning)."""
    from vibeimg.jobs.chat.session import record_turn

    try:
        record_turn(turn, result, offline=offline)
    except UsageError as exc:  # the transcript was damaged meanwhile: exit 2
        error: VibeimgError = UsageError(
            f"turn {turn.number} not recorded in the session {turn.name}: {exc.message}",
            hint=exc.hint)
    except OSError as exc:
        error = WriteError(
            f"turn {turn.number} not recorded in the session {turn.name}: cannot write its "
            f"transcript: {exc.strerror or exc}",
            hint="the images are saved and the transcript is as it was; check the data "
                 "folder ('vibeimg doctor')")
    else:
        return None
    if result.error is not None:
        reporter.warn(error.one_line())
        return None
    return error


def print_lines(lines: list[str]) -> None:
    """Lines for people (a conversation's turns): control characters shown escaped."""
    from vibeimg.ui import printable

    for line in lines:
        sys.stdout.write(printable(line, newlines=True) + "\n")
    sys.stdout.flush()
