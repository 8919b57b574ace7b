"""The fields every run document shares, whatever the command that printed it.

``generate``, ``edit`` and ``chat-stream`` with ``--json``, ``mask-convert --json``,
and the summaries of ``batch`` and ``batch-merge`` all say how the run ended the same
way, so one script can check any of them:

    status     completed, partial, failed or interrupted (chat-stream also has more
               specific words for how its stream ended)
    exit_code  the process's own exit code: 0 only with completed
    error      the error line also printed on stderr, or null

Here the status is read from the error the run ends with, so it cannot disagree
with the exit code: none is completed, the partial-success code is partial, Ctrl-C
is interrupted, and any other error is failed.
"""

from __future__ import annotations

from typing import Any, Literal

from vibeimg.errors import ExitCode, VibeimgError

RunStatus = Literal["completed", "partial", "failed", "interrupted"]


def status_for(error: VibeimgError | None) -> RunStatus:
    """The status a run ending with ``error`` (None: no error) gets."""
    if error is None:
        return "completed"
    if error.exit_code == ExitCode.INTERRUPTED:
        return "interrupted"
    if error.exit_code == ExitCode.PARTIAL:
        return "partial"
    return "failed"


def ending_fields(error: VibeimgError | None) -> dict[str, Any]:
    """``status``, ``exit_code`` and ``error`` for a run ending with ``error``."""
    return {
        "status": status_for(error),
        "exit_code": int(error.exit_code) if error is not None else int(ExitCode.OK),
        "error": error.one_line() if error is not None else None,
    }
