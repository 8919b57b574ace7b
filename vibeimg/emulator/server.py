"""A local stand-in of the gateway (SPEC.md) on loopback: real HTTP, no key, no network.

Endpoints live in their own modules (imported by :mod:`.endpoints`) and register a
handler in :data:`.routing.ROUTES`. The server adds what every answer has
(``x-request-id``, and ``x-vibeimg-emulator`` so that a client can tell it is not the
real gateway), checks the bearer, records every request (in memory for tests, and in
the JSON-lines request log when asked), and applies the injected faults of
:mod:`.faults`.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vibeimg.emulator import endpoints
from vibeimg.emulator.faults import Fault, FaultQueue
from vibeimg.emulator.requestlog import RequestLog
from vibeimg.emulator.routing import (
    API_PREFIX,
    ROUTES,
    Context,
    EmulatorConfig,
    GatewayFault,
    RecordedRequest,
    Reply,
    is_cut,
    new_request_id,
)
from vibeimg.version import __version__

__all__ = ["ROUTES", "Emulator", "EmulatorConfig", "GatewayFault", "RecordedRequest", "Reply"]

#: The header every answer carries: runs against the emulator can be told apart.
EMULATOR_HEADER = "x-vibeimg-emulator"
#: Connections waiting to be accepted. The standard library's 5 drops about one request
#: in a thousand at --concurrency 32 before it reaches the emulator; vibeimg allows up
#: to 64 at once, so this holds any of its runs with room to spare.
LISTEN_BACKLOG = 1024
#: Every endpoint module must have been imported for its routes to be registered.
_ENDPOINTS = endpoints.MODULES


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm the body waits
    # for the client's delayed ACK, adding about 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server
    _logged = False  # whether this request's log line is written (one request at a time)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in memory (and in the log file), not printed."""

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
        if ctx.config.keep_requests:
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
        self._logged = False
        try:
            self._send(reply, record, fault)
        finally:
            self._log(record)

    def _log(self, record: RecordedRequest) -> None:
        """Write the request's log line, once: just before the answer's last bytes go out,
        so that a client holding its answer finds the line already there."""
        if not self._logged and self.server.request_log is not None:
            self.server.request_log.write(record)
        self._logged = True

    def _dispatch(self, record: RecordedRequest, ctx: Context) -> tuple[Reply, Fault | None]:
        handler = ROUTES.get((record.method, record.path))
        if handler is None:
            raise GatewayFault(
                404, f"Invalid URL ({record.method} {API_PREFIX}{record.path})", code="not_found"
            )
        _check_auth(record, ctx.config)
        streamed = record.path == "/responses"
        fault = ctx.faults.take(stream=streamed, status_only=record.method != "POST")
        record.fault = fault.kind if fault is not None else None
        if fault is not None and fault.status is not None:
            error = _status_fault(fault.status)
            reply = Reply.json(error.body(), error.status)
            if fault.status == 429:
                reply.headers["Retry-After"] = f"{ctx.config.retry_after:g}"
            return reply, None
        return handler(record, ctx, fault), fault

    def _send(self, reply: Reply, record: RecordedRequest, fault: Fault | None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("x-request-id", record.request_id)
        self.send_header(EMULATOR_HEADER, __version__)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        try:
            if reply.stream is not None:
                self._send_stream(reply.stream, record)
                return
            body = reply.body
            if fault is not None and fault.kind == "bad-json":
                body = body[: max(1, len(body) // 2)]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault is not None and fault.kind == "drop":
                body = body[: len(body) // 2]
                record.bytes_sent = len(body)
                self.wfile.write(body)
                self._log(record)
                self._abort()
                return
            record.bytes_sent = len(body)
            self._log(record)
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_stream(self, chunks: Iterable[bytes], record: RecordedRequest) -> None:
        """Chunked transfer encoding; a handler that stops early cuts the stream."""
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in chunks:
            if is_cut(chunk):
                self._log(record)
                self._abort()
                return
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                record.bytes_sent += len(chunk)
        self._log(record)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        """Drop the connection without finishing the answer."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


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
    request_queue_size = LISTEN_BACKLOG
    context: Context
    request_log: RequestLog | None = None

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
        self.config = config or EmulatorConfig()
        fixed = self.config.image_file.read_bytes() if self.config.image_file else None
        self.context = Context(self.config, FaultQueue(self.config.faults), fixed_image=fixed)
        self._server = _Server((host, port), _RequestHandler)
        self._server.context = self.context
        if self.config.log_file is not None:
            try:
                self._server.request_log = RequestLog(self.config.log_file)
            except OSError:
                self._server.server_close()
                raise
        self._thread: threading.Thread | None = None
        self._serving = False  # shutdown() would wait forever for a loop never started

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
        self._serving = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="vibeimg-emulator", daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        if self._serving:
            self._server.shutdown()
            self._serving = False
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._server.request_log is not None:
            self._server.request_log.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
