"""One exception tree for vibeimg, each kind carrying its exit code.

    VibeimgError                      exit code
    ├── UsageError                    USAGE      bad flags, files, images, masks, settings
    │   └── MissingKeyError           USAGE      no API key and not --offline
    ├── GatewayError                  (by HTTP status) the gateway answered with an error
    │   ├── AuthError                 AUTH       401 / 403
    │   ├── ApiError                  API        other 4xx
    │   └── ServerError               SERVER     5xx
    ├── BadResponseError              SERVER     2xx, but the body is not what SPEC.md promises
    ├── ResponseFailed                SERVER or API  a /responses stream reported a failure
    ├── NetworkError                  NETWORK    connection failed, timed out, dropped
    ├── WriteError                    WRITE      an image, a sidecar or stdout cannot be written
    ├── PartialFailure                PARTIAL    some of several images failed
    ├── Interrupted                   INTERRUPTED  Ctrl-C
    │   └── NotSent                   INTERRUPTED  a request dropped before it went out
    └── history.HistoryError          USAGE      the history database is damaged or locked

The command-line layer maps these to exit codes in exactly one place
(``vibeimg.cli.app``); the core only raises them. An error whose line a display
already wrote in its own form (``chat-stream --progress jsonl``) is marked
``reported``: it still sets the exit code there, without a second, plain line.
"""

from __future__ import annotations

import enum
import errno
from typing import Literal


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    FAILURE = 1  # an unexpected internal error
    USAGE = 2  # bad flags or input; nothing was sent
    AUTH = 3  # the gateway refused the key (401/403)
    API = 4  # the gateway refused the request (other 4xx)
    SERVER = 5  # the gateway failed (5xx) or answered garbage
    NETWORK = 6  # connection failed, timed out or dropped
    PARTIAL = 7  # some of several images were saved, others failed
    WRITE = 8  # a file or stdout could not be written (disk full...) after sending
    INTERRUPTED = 130  # Ctrl-C, or SIGTERM or SIGHUP (treated the same)
    BROKEN_PIPE = 141  # stdout's reader went away (| head): 128 + SIGPIPE, as a shell says


#: How a run ended, in every run document and in the history: one vocabulary.
RunStatus = Literal["completed", "partial", "failed", "interrupted"]
RUN_STATUSES: tuple[RunStatus, ...] = ("completed", "partial", "failed", "interrupted")


def run_status(error: VibeimgError | None) -> RunStatus:
    """How a run that ends with ``error`` (None: no error) ended; the one policy.

    Read from the error the run ends with, so it cannot disagree with the exit code:
    none is completed (exit 0), the partial-success code is partial, an interruption
    is interrupted, and any other error is failed.
    """
    if error is None:
        return "completed"
    if error.exit_code == ExitCode.INTERRUPTED:
        return "interrupted"
    if error.exit_code == ExitCode.PARTIAL:
        return "partial"
    return "failed"


class VibeimgError(Exception):
    """Base of every error vibeimg reports to its user as one line.

    Two facts about money ride on it: ``outcome_unknown`` (the request went out and no
    answer said what became of it: the gateway may have made and billed the image) and
    ``possible_cost_usd`` (what such a failure, or an answer that was billed but could
    not be used, may have cost; 0 when nothing can have been billed).
    """

    exit_code: ExitCode = ExitCode.FAILURE
    outcome_unknown: bool = False
    possible_cost_usd: float = 0.0
    #: Whether ``possible_cost_usd`` is a price extrapolated for a size off the table.
    cost_extrapolated: bool = False

    def __init__(
        self, message: str, *, hint: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.request_id = request_id  # the gateway's x-request-id, when it answered
        self.reported = False  # its line is already on stderr, in a display's own form

    def stops_batch(self) -> bool:
        """Whether every other item of a batch would end the same way, so that sending
        them would only waste money: a refused key, a full disk."""
        return False

    def one_line(self) -> str:
        """The message, the fix and the request id, on one line."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


class UsageError(VibeimgError):
    """Bad input of any kind, caught before any request is sent."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None, param: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.param = param


class MissingKeyError(UsageError):
    """No API key in any of the places settings come from."""

    def __str__(self) -> str:
        # From Python this ends a traceback, where only str() shows: the fix is its point.
        return self.one_line()


class GatewayError(VibeimgError):
    """The gateway answered with an HTTP error status."""

    exit_code = ExitCode.API

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, request_id=request_id)
        self.status = status
        self.code = code

    def one_line(self) -> str:
        return f"HTTP {self.status}: {super().one_line()}"


class AuthError(GatewayError):
    """401 or 403: the key is missing, wrong or not allowed."""

    exit_code = ExitCode.AUTH

    def stops_batch(self) -> bool:
        return True


class ApiError(GatewayError):
    """A 4xx other than auth: the gateway refused the request."""

    exit_code = ExitCode.API


class ServerError(GatewayError):
    """A 5xx: the gateway failed."""

    exit_code = ExitCode.SERVER


class BadResponseError(VibeimgError):
    """A success status, but a body that is not what the contract promises."""

    exit_code = ExitCode.SERVER


class ResponseFailed(VibeimgError):
    """A ``/responses`` stream reported a failure: an ``error`` event, ``response.failed``,
    ``response.incomplete``, or a completed response without any image.

    The exit code is API when the request itself was refused (moderation, invalid
    input, limits) and SERVER otherwise, chosen from the event's code.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        refused: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, request_id=request_id)
        self.code = code
        self.exit_code = ExitCode.API if refused else ExitCode.SERVER

    def one_line(self) -> str:
        """The message and the fix, then the event's code and the request id."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        if self.code:
            text += f" [code {self.code}]"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


class NetworkError(VibeimgError):
    """The connection failed, timed out or was dropped."""

    exit_code = ExitCode.NETWORK


class WriteError(VibeimgError):
    """A local write failed once the request was under way: disk full, folder gone,
    a name the filesystem refuses, stdout closed. The gateway may have billed it."""

    exit_code = ExitCode.WRITE
    errno: int | None = None  # the OSError's, when one caused it

    def stops_batch(self) -> bool:
        """The disk or the quota is full, or files may not grow this big (ulimit -f):
        every other image would be lost the same way."""
        return self.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


#: The fix for a failed write, by errno; anything else gets the general one.
_WRITE_FIXES = {
    errno.ENOSPC: "free some disk space, or choose another folder with --out-dir",
    errno.EDQUOT: "free some space within your quota, or choose another folder with --out-dir",
    errno.EFBIG: "the file is over a size limit (ulimit -f); raise it or choose another folder",
    errno.EACCES: "check the folder's permissions, or choose another with --out-dir",
    errno.EPERM: "check the folder's permissions, or choose another with --out-dir",
    errno.EROFS: "the disk is read-only; choose another folder with --out-dir",
    errno.ENOENT: "the output folder was removed; create it again or choose another",
    errno.ENAMETOOLONG: "choose a shorter name with -o",
    errno.EILSEQ: "the filesystem refuses that name; choose another with -o",
    errno.EINVAL: "the filesystem refuses that name; choose another with -o",
}


def save_error(exc: OSError, what: str = "the image") -> WriteError:
    """``cannot save the image: No space left on device`` with the fix, for an OSError."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _WRITE_FIXES.get(exc.errno or 0, "check the output folder, or choose another "
                                            "with --out-dir")
    error = WriteError(f"cannot save {what}: {reason}", hint=hint)
    error.errno = exc.errno
    return error


class PartialFailure(VibeimgError):
    """Some images of a run were saved and some failed."""

    exit_code = ExitCode.PARTIAL

    def __init__(self, message: str, *, failures: list[VibeimgError]) -> None:
        super().__init__(message)
        self.failures = failures


class Interrupted(VibeimgError):
    """Ctrl-C, SIGTERM or SIGHUP stopped the run; what was complete is kept."""

    exit_code = ExitCode.INTERRUPTED


class NotSent(Interrupted):
    """A request dropped before it went out (waiting to retry, or not yet sent) because
    the run was interrupted: the gateway did no work, so nothing was billed."""


def status_error(
    status: int,
    message: str,
    *,
    request_id: str | None = None,
    code: str | None = None,
    hint: str | None = None,
) -> GatewayError:
    """The error kind for an HTTP error status."""
    kind: type[GatewayError]
    if status in (401, 403):
        kind = AuthError
    elif status >= 500:
        kind = ServerError
    else:
        kind = ApiError
    return kind(message, status=status, request_id=request_id, code=code, hint=hint)
