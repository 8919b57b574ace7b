"""What a ``chat-stream`` run reports and returns: image calls, saved images, the result.

Kept apart from the runner (:mod:`vibeimg.jobs.chat.run`) so that a caller (the CLI, a
batch) can type its progress listener and read results without the machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.errors import Interrupted, RunStatus, VibeimgError, run_status
from vibeimg.jobs.chat.request import ChatStreamRequest

if TYPE_CHECKING:  # names in signatures only: a dry run imports no HTTP or file code
    from vibeimg.files.atomic import AtomicFile
    from vibeimg.wire.sse import StreamEvent


def round_or_none(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass
class StreamedImage:
    """An image of the response that landed on disk."""

    index: int
    item_id: str
    path: Path
    format: str
    bytes: int
    size: str | None
    quality: str | None
    revised_prompt: str | None
    elapsed: float  # seconds from sending the request to saving the image
    generation_seconds: float  # from the call's first event to its last
    estimated_cost_usd: float
    sidecar: Path | None = None
    size_reported: str | None = None  # the gateway's size, kept when the image disagrees
    cost_extrapolated: bool = False  # priced outside the published table (see pricing)
    offline: bool = False  # made by vibeimg's emulator: nothing billed

    def size_fields(self) -> dict[str, Any]:
        """``size`` (read from the image), and ``size_reported`` when the gateway differs."""
        if self.size_reported is None:
            return {"size": self.size}
        return {"size": self.size, "size_reported": self.size_reported}

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "item_id": self.item_id, "path": str(self.path),
            "sidecar": str(self.sidecar) if self.sidecar else None, "format": self.format,
            "bytes": self.bytes, **self.size_fields(), "quality": self.quality,
            "revised_prompt": self.revised_prompt, "elapsed_seconds": round(self.elapsed, 3),
            "generation_seconds": round(self.generation_seconds, 3),
            "estimated_cost_usd": self.estimated_cost_usd,
            "cost_extrapolated": self.cost_extrapolated, "offline": self.offline,
        }


@dataclass
class ImageCall:
    """One ``image_generation_call`` as it goes: queued, in_progress, generating,
    receiving, saved (or failed)."""

    index: int
    item_id: str
    started: float
    output_index: int | None = None
    phase: str = "queued"
    receiving_bytes: int = 0
    partial_images: int = 0
    image: StreamedImage | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    error: VibeimgError | None = None  # why it failed, when it did
    temp: AtomicFile | None = field(default=None, repr=False)

    def drop_temp(self) -> None:
        if self.temp is not None:
            self.temp.discard()
            self.temp = None


class ProgressListener:
    """What a run reports as it goes; every method is optional (a no-op here)."""

    def opened(self, request_id: str | None) -> None:
        """The gateway accepted the request and the stream is open."""

    def event(self, event: StreamEvent) -> None:
        """Any event, as parsed (payloads included; see ``StreamEvent.summary``)."""

    def comment(self, count: int) -> None:
        """``count`` SSE comment lines (keepalives) arrived."""

    def received(self, total_bytes: int) -> None:
        """More bytes of the stream arrived."""

    def call_changed(self, call: ImageCall) -> None:
        """An image call changed phase."""

    def saved(self, image: StreamedImage) -> None:
        """An image was saved (with its sidecar)."""


@dataclass
class ChatStreamResult:
    """How a run ended: the images saved, usage, and the error if any."""

    request: ChatStreamRequest
    # How the stream itself ended, more finely than ``status``: completed, partial,
    # failed, incomplete (response.incomplete), error (an error event or answer),
    # truncated (cut before response.completed) or interrupted.
    stream_status: str = "open"
    calls: list[ImageCall] = field(default_factory=list)
    request_id: str | None = None
    response_id: str | None = None
    usage: dict[str, Any] | None = None
    image_usage: dict[str, Any] | None = None
    text: str = ""
    elapsed: float = 0.0
    first_byte_seconds: float | None = None
    bytes_received: int = 0
    keepalives: int = 0
    error: VibeimgError | None = None
    image_cost_usd: float = 0.0  # the estimated price of one image of the request
    opened: bool = False  # the gateway answered with a stream
    # Sends before the one that opened the stream whose outcome is unknown (resent with
    # --retry-unknown): each may have made and billed every image asked for.
    unknown_attempts: int = 0
    offline: bool = False  # answered by vibeimg's emulator: nothing billed

    @classmethod
    def before_stream(cls, request: ChatStreamRequest, error: VibeimgError,
                      elapsed: float) -> ChatStreamResult:
        """A run that ended before any stream opened: nothing received, only ``error``."""
        ended = "interrupted" if isinstance(error, Interrupted) else "error"
        return cls(request, stream_status=ended, request_id=error.request_id, elapsed=elapsed,
                   error=error)

    @property
    def status(self) -> RunStatus:
        """How the run ended, in the words every run document uses."""
        return run_status(self.error)

    @property
    def images(self) -> list[StreamedImage]:
        return [c.image for c in self.calls if c.image is not None]

    @property
    def missing(self) -> list[ImageCall]:
        return [c for c in self.calls if c.image is None]

    def missing_json(self) -> list[dict[str, Any]]:
        """Every image asked for and not received: each call without an image (its last
        phase), then one ``not-started`` entry per image no call was made for."""
        missing: list[dict[str, Any]] = [
            {"index": c.index, "item_id": c.item_id, "phase": c.phase} for c in self.missing]
        unmade = range(len(self.calls) + 1, self.request.expected_images + 1)
        return missing + [{"index": n, "item_id": None, "phase": "not-started"} for n in unmade]

    @property
    def estimated_cost_usd(self) -> float:
        """The images received and saved."""
        return round(sum(i.estimated_cost_usd for i in self.images), 4)

    @property
    def cost_extrapolated(self) -> bool:
        """Whether the estimated or the possible cost includes an extrapolated price (a
        size outside the published table, see :mod:`vibeimg.records.pricing`)."""
        if any(i.cost_extrapolated for i in self.images):
            return True
        if not self.possible_cost_usd:
            return False
        if not self.opened:
            return bool(self.error and self.error.cost_extrapolated)
        from vibeimg.records.pricing import price_of  # noqa: PLC0415 - only when it matters

        return price_of(self.request.options.size, self.request.options.quality).extrapolated

    @property
    def possible_cost_usd(self) -> float:
        """What the images not received may have cost (``image_cost_usd`` each).

        Once the response completed or reported its failure, that is each image call
        left without an image (billed but unusable, or failed while it was made). A
        stream cut off or interrupted before its end says nothing of what the gateway
        went on to make: every image asked for and not received may have been billed.
        Each earlier send of unknown outcome (``unknown_attempts``) may have made all
        the images asked for. Before any stream opened, the error says (an unknown
        outcome counts them all).
        """
        if not self.opened:
            return round(self.error.possible_cost_usd, 4) if self.error else 0.0
        unfinished = len(self.missing)
        if self.stream_status in ("truncated", "interrupted"):
            unfinished = max(unfinished, self.request.expected_images - len(self.images))
        unfinished += self.unknown_attempts * self.request.expected_images
        return round(unfinished * self.image_cost_usd, 4)

    def as_json(self) -> dict[str, Any]:
        req = self.request
        return {
            "command": "chat-stream", "status": self.status,
            **(req.conversation.fields() if req.conversation is not None else {}),
            "stream_status": self.stream_status, "prompt": req.prompt,
            "prompt_sent": req.text, "instructions": req.instructions, "model": req.model,
            "tool": req.tool(), "requested": req.expected_images,
            "received": len(self.images), "images": [i.as_json() for i in self.images],
            "missing": self.missing_json(),
            "text": self.text or None, "usage": self.usage, "image_usage": self.image_usage,
            "estimated_cost_usd": self.estimated_cost_usd,
            "possible_cost_usd": self.possible_cost_usd,
            "cost_extrapolated": self.cost_extrapolated, "offline": self.offline,
            "response_id": self.response_id,
            "request_id": self.request_id, "elapsed_seconds": round(self.elapsed, 3),
            "error": self.error.one_line() if self.error else None,
            "exit_code": int(self.error.exit_code) if self.error else 0,
        }

    def raise_for_error(self) -> None:
        if self.error is not None:
            raise self.error
