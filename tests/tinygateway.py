"""A tiny stand-in gateway for tests: one canned answer per request, every request kept.

The real emulator (``vibeimg.emulator``) follows the contract; this one answers whatever
a test needs the client to meet (a header, a message holding control characters), over
real loopback HTTP like the gateway.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


def png_of(width: int = 1024, height: int = 1024) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def image_answer(width: int = 1024, height: int = 1024) -> dict[str, Any]:
    """A generations answer as the gateway gives it, with a usage block."""
    return {
        "created": 1713833628,
        "data": [{"b64_json": base64.b64encode(png_of(width, height)).decode()}],
        "size": f"{width}x{height}", "quality": "low", "output_format": "png",
        "usage": {"input_tokens": 12, "output_tokens": 196, "total_tokens": 208},
    }


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class TinyGateway:
    """Answers every request with ``status``, ``body`` (JSON, or bytes sent as they are)
    and ``headers``."""

    status: int = 200
    body: Any = field(default_factory=image_answer)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                gateway.seen.append(Seen(self.command, self.path, dict(self.headers),
                                         self.rfile.read(length)))
                body = gateway.body
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(gateway.status)
                self.send_header("content-type", gateway.content_type)
                self.send_header("content-length", str(len(payload)))
                self.send_header("x-request-id", f"req_tiny_{len(gateway.seen)}")
                for name, value in gateway.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                del args

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> TinyGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]
