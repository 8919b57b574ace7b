"""The request log (``mock-server --log FILE``): one JSON line per request received.

Each line is appended and flushed once the answer is sent, so a CI job can prove
from the file alone what its scripts sent and how each request was answered: that
no prompt was billed twice, that a retry followed a 429. A line holds when it came,
what it asked (method, path, prompt, model, size, quality, input images), how it
was answered (status, the fault applied, request id) and the bytes each way. What
the body does not say (a refused upload, a missing field) is ``null``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vibeimg.emulator.multipart import parse_multipart
from vibeimg.emulator.routing import GatewayFault, RecordedRequest


def _scalar(value: object) -> str | int | float | None:
    """A value as sent, when it is one a log line can hold as it is."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)


def _edit_fields(record: RecordedRequest) -> dict[str, Any]:
    if not record.form and not record.files:
        try:  # a request refused before its handler read it (a fault, a bad key)
            parse_multipart(record)
        except GatewayFault:
            return {}
    form = {name: values[-1] for name, values in record.form.items()}
    images = len(record.files.get("image[]", [])) + len(record.files.get("image", []))
    return {"prompt": form.get("prompt"), "model": form.get("model"),
            "size": form.get("size"), "quality": form.get("quality"), "input_images": images}


def _responses_fields(body: dict[str, Any]) -> dict[str, Any]:
    tools = body.get("tools")
    tool = next((t for t in tools if isinstance(t, dict) and t.get("type") == "image_generation"),
                {}) if isinstance(tools, list) else {}
    prompt: str | None = None
    images = 0
    messages = body.get("input")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and message.get("role") == "user":
            prompt = content
        for item in content if isinstance(content, list) else []:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "input_image":
                images += 1
            elif kind == "input_text" and message.get("role") == "user":
                prompt = item.get("text")  # the last user text: this turn's prompt
    return {"prompt": prompt, "model": body.get("model"), "size": tool.get("size"),
            "quality": tool.get("quality"), "input_images": images}


def request_fields(record: RecordedRequest) -> dict[str, Any]:
    """What the request asked for, read from its body whatever the answer was."""
    fields: dict[str, Any] = {}
    if record.method == "POST" and record.path == "/images/edits":
        fields = _edit_fields(record)
    elif record.method == "POST":
        try:
            body = json.loads(record.body)
        except ValueError:
            body = None
        if isinstance(body, dict) and record.path == "/responses":
            fields = _responses_fields(body)
        elif isinstance(body, dict):
            fields = {"prompt": body.get("prompt"), "model": body.get("model"),
                      "size": body.get("size"), "quality": body.get("quality"),
                      "input_images": 0}
    names = ("prompt", "model", "size", "quality", "input_images")
    return {name: _scalar(fields.get(name)) for name in names}


def log_line(record: RecordedRequest) -> dict[str, Any]:
    """The log's JSON object for one answered request."""
    received = datetime.fromtimestamp(record.received_at, timezone.utc)
    return {
        "time": received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": record.method,
        "path": record.path,
        "request_id": record.request_id,
        "status": record.status,
        "fault": record.fault,
        **request_fields(record),
        "bytes_received": len(record.body),
        "bytes_sent": record.bytes_sent,
        "seconds": round(time.monotonic() - record.received, 3),
    }


class RequestLog:
    """A JSON-lines file, appended to by every request thread, flushed per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A prompt may hold lone surrogates (JSON "\udc80"): escaped, never a failure.
        self._file = path.open("a", encoding="utf-8", errors="backslashreplace")
        self._lock = threading.Lock()

    def write(self, record: RecordedRequest) -> None:
        try:
            line = json.dumps(log_line(record), ensure_ascii=False) + "\n"
        except Exception as exc:  # the log must never fail an answer
            line = json.dumps({"request_id": record.request_id,
                               "log_error": f"{type(exc).__name__}: {exc}"}) + "\n"
        with self._lock:
            if self._file.closed:
                return  # a request still answering while the emulator stops
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
