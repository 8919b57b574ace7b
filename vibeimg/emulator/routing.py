"""What the server and its endpoints share: requests, replies, faults, the route table.

Endpoint modules import from here and register a handler with :func:`route`; the
server imports the endpoint modules and this table. Imports run one way:
``server -> endpoints -> routing`` (never back to the server).

A handler gets the parsed request, the emulator's shared :class:`Context` and the
fault queued for it, and returns a :class:`Reply` or raises :class:`GatewayFault`,
which the server turns into the gateway's error body.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.emulator.faults import Fault, FaultQueue

API_PREFIX = "/v1"


class GatewayFault(Exception):
    """An error the emulated gateway answers with, in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass
class Reply:
    """What a handler answers: a whole body, or a stream of chunks (SSE)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Reply:
        return cls(status=status, body=json.dumps(payload).encode())


@dataclass
class RecordedRequest:
    """What the emulator received, for tests to assert on (and for the request log).

    ``received`` is when the body was in (``time.monotonic()``): latency counts from it,
    so that the time spent drawing an answer is part of the latency, not added to it.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    request_id: str
    status: int = 0
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    received: float = field(default_factory=time.monotonic)
    received_at: float = field(default_factory=time.time)  # the same moment, wall clock
    fault: str | None = None
    bytes_sent: int = 0

    def json(self) -> Any:
        return json.loads(self.body)

    def wait_for_latency(self, latency: float) -> None:
        """Sleep until ``latency`` seconds after the request arrived (no more, no less)."""
        left = self.received + latency - time.monotonic()
        if left > 0:
            time.sleep(left)


@dataclass
class EmulatorConfig:
    """Knobs: latency, faults, a key to require, a fixed image to serve, a request log."""

    latency: float = 0.0
    api_key: str | None = None  # None accepts any bearer; a value requires that key
    faults: list[str] = field(default_factory=list)
    retry_after: float = 1.0
    image_file: Path | None = None
    keepalive_interval: float = 1.0
    log_file: Path | None = None  # one JSON line per request received, appended
    # Every request kept in memory for ``Emulator.requests`` (tests read them). A server
    # that nobody reads from inside its process (mock-server) keeps none: its memory
    # would grow with every request, by every upload's bytes.
    keep_requests: bool = True


@dataclass
class Context:
    """Shared by every request of one emulator: settings, faults, the request log."""

    config: EmulatorConfig
    faults: FaultQueue
    log: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fixed_image: bytes | None = None


Handler = Callable[[RecordedRequest, Context, Fault | None], Reply]
ROUTES: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``method path``."""

    def register(handler: Handler) -> Handler:
        ROUTES[(method, path)] = handler
        return handler

    return register


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


class _Cut(bytes):
    """The type of CUT_STREAM."""


#: Yield this from a stream to drop the connection at that point.
CUT_STREAM = _Cut()


def is_cut(chunk: bytes) -> bool:
    return isinstance(chunk, _Cut)


def keepalive_ticks(deadline: float, interval: float,
                    busy: threading.Event | None = None) -> Iterator[None]:
    """Yield every ``interval`` seconds while there is time left before ``deadline``
    (``time.monotonic()``) or while ``busy`` is not set: when to send a keepalive. An
    interval that ends as the wait does still counts (a thread woken late by a busy
    machine sends the keepalive it owed)."""
    ticked = time.monotonic()

    def working() -> bool:
        return (busy is not None and not busy.is_set()) or time.monotonic() < deadline

    while working():
        tick = ticked + interval
        until = tick if busy is not None and not busy.is_set() else min(tick, deadline)
        if busy is not None and not busy.is_set():
            busy.wait(max(0.0, until - time.monotonic()))
        else:
            time.sleep(max(0.0, until - time.monotonic()))
        if time.monotonic() >= tick:
            ticked = tick
            yield None
