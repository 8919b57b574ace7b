"""The gateway's answers: a successful one read as a stream, an unsuccessful one as
the error it means.

A dropped connection or a timeout while an answer is being read is a request that went
out: its error is marked as of unknown outcome (it may be billed) and never resent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from vibeimg.errors import (
    BadResponseError,
    GatewayError,
    NetworkError,
    status_error,
)
from vibeimg.settings.resolve import key_fix
from vibeimg.units import human_bytes
from vibeimg.wire.retry import (
    RETRY_STATUSES,
    UNKNOWN_OUTCOME,
    UNKNOWN_OUTCOME_STATUSES,
)

Trace = Callable[[str], None]


#: The header every answer of vibeimg's emulator carries (its version): nothing it
#: answers is billed, so runs against it are marked offline wherever costs are shown.
EMULATOR_HEADER = "x-vibeimg-emulator"


def error_from_response(response: httpx.Response, body: bytes,
                        key_origin: str | None = None) -> GatewayError:
    """The gateway's error body (``{"error": {...}}``) as one exception.

    ``key_origin`` (as in ``Settings.origins``) says where the key came from, so that a
    refused key's hint points at the place to fix it.
    """
    request_id = response.headers.get("x-request-id")
    message = ""
    code = None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested absurdly deep
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            code = error.get("code") or error.get("type")
        elif isinstance(error, str):
            message = error
        elif isinstance(payload.get("message"), str):
            message = payload["message"]
    if not message:
        text = body[:200].decode("utf-8", "replace").strip()
        message = text or response.reason_phrase or "no error message"
    status = response.status_code
    hint = None
    if status in (401, 403):
        hint = key_fix(key_origin)
    elif status in UNKNOWN_OUTCOME_STATUSES:
        hint = UNKNOWN_OUTCOME
    elif status in RETRY_STATUSES:
        hint = "the gateway is busy; try again later or raise --retries"
    error = status_error(status, message, request_id=request_id, code=code, hint=hint)
    error.outcome_unknown = status in UNKNOWN_OUTCOME_STATUSES
    return error


def unknown_outcome(error: NetworkError) -> NetworkError:
    """``error``, marked as the failure of a request that went out (it may be billed)."""
    error.outcome_unknown = True
    return error


@dataclass
class GatewayResponse:
    """A successful, still open answer from the gateway, read as a stream."""

    http: httpx.Response
    request_id: str | None
    started: float
    trace: Trace | None = None
    emulator: str | None = None  # the emulator's version, when it answered

    @property
    def offline(self) -> bool:
        """Whether vibeimg's emulator answered: nothing was billed."""
        return self.emulator is not None

    def iter_bytes(self) -> Iterator[bytes]:
        """The body's bytes; a dropped connection becomes a NetworkError."""
        received = 0
        try:
            for chunk in self.http.iter_bytes():
                received += len(chunk)
                yield chunk
            if self.trace is not None:
                self.trace(f"   received {human_bytes(received)} in {self.elapsed:.2f} s"
                           f" [request id {self.request_id or '-'}]")
        except httpx.TimeoutException as exc:
            raise unknown_outcome(NetworkError(
                "timed out while receiving the answer", hint=UNKNOWN_OUTCOME,
                request_id=self.request_id,
            )) from exc
        except httpx.TransportError as exc:
            raise unknown_outcome(NetworkError(
                f"the connection dropped while receiving the answer ({type(exc).__name__})",
                hint=UNKNOWN_OUTCOME, request_id=self.request_id,
            )) from exc

    def read_json(self) -> Any:
        body = b"".join(self.iter_bytes())
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise BadResponseError(
                f"the gateway answered {len(body)} bytes that are not valid JSON",
                request_id=self.request_id,
            ) from exc

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
