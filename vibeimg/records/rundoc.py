"""The fields every run document shares, whatever the command that printed it.

``generate``, ``edit`` and ``chat-stream`` with ``--json``, ``mask-convert --json``,
and the summaries of ``batch`` and ``batch-merge`` all say how the run ended the same
way, so one script can check any of them:

    status     completed, partial, failed or interrupted (:func:`vibeimg.errors.run_status`)
    exit_code  the process's own exit code: 0 only with completed
    error      the error line also printed on stderr, or null
"""

from __future__ import annotations

from typing import Any

from vibeimg.errors import ExitCode, VibeimgError, run_status


def ending_fields(error: VibeimgError | None) -> dict[str, Any]:
    """``status``, ``exit_code`` and ``error`` for a run ending with ``error``."""
    return {
        "status": run_status(error),
        "exit_code": int(error.exit_code) if error is not None else int(ExitCode.OK),
        "error": error.one_line() if error is not None else None,
    }
