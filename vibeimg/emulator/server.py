"""A local stand-in of the gateway (SPEC.md) on loopback: real HTTP, no key, no network.

Endpoints live in their own modules and register a handler in ``ROUTES``. A handler
gets the parsed request and the server's settings, and returns a :class:`Reply`
or raises :class:`GatewayFault`, which becomes the gateway's error body. The server
adds what every answer has (``x-request-id``), checks the bearer, records every
request for tests, and applies the injected faults of :mod:`.faults`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    """What the emulator received, for tests to assert on."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    request_id: str
    status: int = 0
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class EmulatorConfig:
    """Knobs: latency, faults, a key to require, a fixed image to serve."""

    latency: float = 0.0
    api_key: str | None = None  # None accepts any bearer; a value requires that key
    faults: list[str] = field(default_factory=list)
    retry_after: float = 1.0
    image_file: Path | None = None
    keepalive_interval: float = 1.0


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
    def register(handler: Handler) -> Handler:
        ROUTES[(method, path)] = handler
        return handler

    return register


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm the body waits
    # for the client's delayed ACK, adding about 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is kept in memory, not printed."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        ctx = self.server.context
        request_id = new_request_id()
        path = self.path.split("?", 1)[0]
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) :]
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        record = RecordedRequest(
            method=self.command,
            path=path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            request_id=request_id,
        )
        with ctx.lock:
            ctx.log.append(record)
        try:
            reply, fault = self._dispatch(record, ctx)
        except GatewayFault as exc:
            reply, fault = Reply.json(exc.body(), exc.status), None
        except Exception as exc:
            error = GatewayFault(500, f"emulator error: {type(exc).__name__}: {exc}",
                                 kind="server_error")
            reply, fault = Reply.json(error.body(), 500), None
        record.status = reply.status
        self._send(reply, request_id, fault)

    def _dispatch(self, record: RecordedRequest, ctx: Context) -> tuple[Reply, Fault | None]:
        handler = ROUTES.get((record.method, record.path))
        if handler is None:
            raise GatewayFault(
                404, f"Invalid URL ({record.method} {API_PREFIX}{record.path})", code="not_found"
            )
        _check_auth(record, ctx.config)
        streamed = record.path == "/responses"
        fault = ctx.faults.take(stream=streamed, status_only=record.method != "POST")
        if fault is not None and fault.status is not None:
            error = _status_fault(fault.status)
            reply = Reply.json(error.body(), error.status)
            if fault.status == 429:
                reply.headers["Retry-After"] = f"{ctx.config.retry_after:g}"
            return reply, None
        return handler(record, ctx, fault), fault

    def _send(self, reply: Reply, request_id: str, fault: Fault | None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("x-request-id", request_id)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        try:
            if reply.stream is not None:
                self._send_stream(reply.stream)
                return
            body = reply.body
            if fault is not None and fault.kind == "bad-json":
                body = body[: max(1, len(body) // 2)]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault is not None and fault.kind == "drop":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self._abort()
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_stream(self, chunks: Iterable[bytes]) -> None:
        """Chunked transfer encoding; a handler that stops early cuts the stream."""
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in chunks:
            if isinstance(chunk, _Cut):
                self._abort()
                return
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        """Drop the connection without finishing the answer."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Cut(bytes):
    """The type of CUT_STREAM."""


#: Yield this from a stream to drop the connection at that point.
CUT_STREAM = _Cut()


def _check_auth(record: RecordedRequest, config: EmulatorConfig) -> None:
    header = record.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayFault(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            kind="invalid_request_error",
        )
    if config.api_key is not None and token.strip() != config.api_key:
        shown = token[:3] + "*" * 4 + token[-4:] if len(token) > 8 else "****"
        raise GatewayFault(
            401, f"Incorrect API key provided: {shown}.", code="invalid_api_key"
        )


def _status_fault(status: int) -> GatewayFault:
    messages = {
        400: ("Injected bad request.", "invalid_request_error"),
        401: ("Incorrect API key provided.", "invalid_request_error"),
        429: ("Rate limit reached for gpt-image-2. Please try again later.", "requests"),
        500: ("The server had an error while processing your request.", "server_error"),
        502: ("Bad gateway.", "server_error"),
        503: ("The engine is currently overloaded, please try again later.", "server_error"),
        504: ("Gateway timeout.", "server_error"),
    }
    message, kind = messages[status]
    code = "rate_limit_exceeded" if status == 429 else None
    return GatewayFault(status, message, kind=kind, code=code)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    context: Context

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a stream it stopped reading) is normal, not an error:
        don't print a traceback onto whatever stderr the process has at that moment."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Emulator:
    """Run the emulated gateway on a loopback port, in a background thread or in front."""

    def __init__(
        self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        # Import the endpoint modules so that they register their routes.
        from vibeimg.emulator import endpoints  # noqa: F401, PLC0415

        self.config = config or EmulatorConfig()
        fixed = self.config.image_file.read_bytes() if self.config.image_file else None
        self.context = Context(self.config, FaultQueue(self.config.faults), fixed_image=fixed)
        self._server = _Server((host, port), _RequestHandler)
        self._server.context = self.context
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        host_text = f"[{host}]" if ":" in host else host
        return f"http://{host_text}:{port}{API_PREFIX}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self.context.lock:
            return list(self.context.log)

    def api_requests(self) -> list[RecordedRequest]:
        """Requests that would cost money on the real gateway (POSTs)."""
        return [r for r in self.requests if r.method == "POST"]

    def add_fault(self, spec: str) -> None:
        self.context.faults.add(spec)

    def start(self) -> Emulator:
        # A short poll interval: stop() (the end of every --offline run) waits for it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="vibeimg-emulator", daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sleep_with_keepalive(seconds: float, interval: float) -> Iterable[float]:
    """Sleep ``seconds`` in steps of ``interval``, yielding after each step."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(interval, left))
        if deadline - time.monotonic() > 0:
            yield left
