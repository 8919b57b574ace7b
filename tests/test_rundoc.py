"""The fields every run document shares: status, exit code and error agree."""

from __future__ import annotations

import pytest

from vibeimg.errors import (
    ApiError,
    ExitCode,
    Interrupted,
    NetworkError,
    PartialFailure,
    UsageError,
    VibeimgError,
    run_status,
)
from vibeimg.records.rundoc import ending_fields


def test_no_error_is_completed_with_exit_code_zero() -> None:
    """A run without an error: completed, 0, no error line."""
    assert ending_fields(None) == {"status": "completed", "exit_code": 0, "error": None}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PartialFailure("2 of 3 saved", failures=[]), "partial"),
        (Interrupted("interrupted"), "interrupted"),
        (ApiError("refused", status=400), "failed"),
        (NetworkError("cannot connect"), "failed"),
        (UsageError("bad mask"), "failed"),
    ],
)
def test_the_status_follows_the_exit_code(error: VibeimgError, status: str) -> None:
    """Partial-success code: partial; 130: interrupted; any other error: failed."""
    assert run_status(error) == status
    fields = ending_fields(error)
    assert fields["exit_code"] == int(error.exit_code) != ExitCode.OK
    assert fields["error"] == error.one_line()
