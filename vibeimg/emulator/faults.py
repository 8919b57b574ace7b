"""Injected faults: a queue consumed one per API request, to rehearse failures.

A fault spec is ``KIND`` or ``KINDxCOUNT`` (``429x3``: the next three requests get 429).
Faults apply in the order given; requests after the queue is empty are served normally.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

# Answered with this HTTP status and a gateway error body, before any work is done.
STATUS_FAULTS = {"400": 400, "401": 401, "429": 429, "500": 500, "502": 502, "503": 503, "504": 504}
# Applied to the body of an otherwise good answer.
BODY_FAULTS = {
    "drop": "the connection is closed half-way through the body",
    "bad-json": "the body is cut so that it is not valid JSON",
    "bad-base64": "the image's base64 is corrupted",
    "not-image": "the base64 decodes to bytes that are not an image",
    "no-metadata": "only created and data are sent: no size, quality, format or usage",
}
# Applied to a /responses event stream.
STREAM_FAULTS = {
    "stream-cut": "the stream stops before response.completed",
    "stream-error": "an error event is sent instead of the image",
    "stream-failed": "the stream ends with response.failed",
    "stream-incomplete": "the stream ends with response.incomplete",
    "no-result": "response.output_item.done comes without item.result (the image is only "
                 "in the partial image events)",
}
KINDS = {**{k: f"HTTP {v} with an error body" for k, v in STATUS_FAULTS.items()},
         **BODY_FAULTS, **STREAM_FAULTS}


@dataclass(frozen=True)
class Fault:
    kind: str

    @property
    def status(self) -> int | None:
        return STATUS_FAULTS.get(self.kind)


def parse_fault_spec(spec: str) -> list[Fault]:
    """``429x3`` -> three 429 faults. Raises ValueError naming the known kinds."""
    text = spec.strip().lower()
    kind, sep, count_text = text.rpartition("x")
    if not (sep and count_text.isdigit()):
        kind, count_text = text, ""
    if kind not in KINDS:
        raise ValueError(f"unknown fault {spec!r}; known: {', '.join(KINDS)}")
    count = int(count_text) if count_text else 1
    if count < 1:
        raise ValueError(f"fault count must be at least 1 in {spec!r}")
    return [Fault(kind)] * count


class FaultQueue:
    """Thread-safe queue of faults for the next requests."""

    def __init__(self, specs: list[str] | None = None) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        for spec in specs or []:
            self.add(spec)

    def add(self, spec: str) -> None:
        faults = parse_fault_spec(spec)
        with self._lock:
            self._queue.extend(faults)

    def take(self, *, stream: bool = True, status_only: bool = False) -> Fault | None:
        """The next fault for a request; one that is not a stream skips stream faults,
        which stay queued for the next streamed request, and a GET (``status_only``)
        takes only an HTTP status fault, as it has no image to spoil."""
        with self._lock:
            for position, fault in enumerate(self._queue):
                if status_only and fault.status is None:
                    continue
                if stream or fault.kind not in STREAM_FAULTS:
                    del self._queue[position]
                    return fault
            return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)
