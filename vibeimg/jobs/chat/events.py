"""Following one response's events: each ``image_generation_call`` through its phases,
each image decoded to a temporary file as its data arrives and renamed into place when
its item is done (see :mod:`vibeimg.jobs.chat.run`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vibeimg.errors import (
    BadResponseError,
    ResponseFailed,
    VibeimgError,
    WriteError,
    save_error,
)
from vibeimg.files.atomic import AtomicFile
from vibeimg.files.naming import NamePlan
from vibeimg.files.sidecars import commit_image, write_sidecar
from vibeimg.jobs.chat.ending import sidecar_record, stream_ending
from vibeimg.jobs.chat.request import ChatStreamRequest
from vibeimg.jobs.chat.result import (
    ChatStreamResult,
    ImageCall,
    ProgressListener,
    StreamedImage,
)
from vibeimg.params import DEFAULT_MODEL
from vibeimg.records.pricing import parse_size_text, price_of
from vibeimg.wire.payloadspool import SpooledPayload, write_base64
from vibeimg.wire.sse import (
    ImageCallPhase,
    Keepalive,
    OutputItemAdded,
    OutputItemDone,
    PartialImage,
    ResponseCompleted,
    ResponseStarted,
    StreamEvent,
    StreamFailure,
    TextDone,
)

IMAGE_CALL = "image_generation_call"
RECEIVING_THRESHOLD = 64 * 1024  # bytes of one unfinished event that mean "receiving"


class StreamRun:
    """The state of one run while its events arrive.

    Its events may be handled in a worker thread while the caller waits for an
    interrupt: ``lock`` is held while an event is handled and while the run is
    finished, and once ``abandoned`` (a second Ctrl-C) nothing more is handled.
    """

    def __init__(self, request: ChatStreamRequest, plan: NamePlan, sidecar: bool,
                 listener: ProgressListener, slug: str, item_slugs: list[str]) -> None:
        self.request = request
        self.plan = plan
        self.sidecar = sidecar
        self.listener = listener
        self.slug = slug
        self.item_slugs = item_slugs  # image n's own, when the prompt numbers its images
        self.result = ChatStreamResult(request)
        self.by_id: dict[str, ImageCall] = {}
        self.started = time.monotonic()
        self.mark = 0  # bytes received when the last event ended
        self.failure: StreamFailure | None = None
        self.completed = False
        self.lock = threading.Lock()
        self.abandoned = False  # given up by a second Ctrl-C: handle nothing more

    def slug_of(self, index: int) -> str:
        return self.item_slugs[index - 1] if index <= len(self.item_slugs) else self.slug

    # -- calls -------------------------------------------------------------
    def call(self, item_id: str | None, output_index: int | None) -> ImageCall:
        key = item_id or f"output-{output_index}"
        call = self.by_id.get(key)
        if call is None:
            call = ImageCall(index=len(self.result.calls) + 1, item_id=key,
                             started=time.monotonic(), output_index=output_index)
            self.by_id[key] = call
            self.result.calls.append(call)
        return call

    def set_phase(self, call: ImageCall, phase: str) -> None:
        if call.phase != phase and call.image is None:
            call.phase = phase
            self.listener.call_changed(call)

    def on_bytes(self, total: int) -> None:
        if self.abandoned:
            return
        self.listener.received(total)
        pending = total - self.mark
        if pending < RECEIVING_THRESHOLD:
            return
        active = [c for c in self.result.calls if c.image is None and c.phase != "failed"]
        if active:
            active[-1].receiving_bytes = pending
            self.set_phase(active[-1], "receiving")

    def on_comment(self, count: int) -> None:
        if self.abandoned:
            return
        self.result.keepalives += count
        self.listener.comment(count)

    # -- events ------------------------------------------------------------
    def handle(self, event: StreamEvent) -> None:
        try:
            self.dispatch(event)
        finally:
            discard_payload(event)

    def dispatch(self, event: StreamEvent) -> None:
        self.listener.event(event)
        if isinstance(event, ResponseStarted):
            self.result.response_id = event.response_id or self.result.response_id
        elif isinstance(event, OutputItemAdded):
            if event.item_type == IMAGE_CALL:
                self.listener.call_changed(self.call(event.item_id, event.output_index))
        elif isinstance(event, ImageCallPhase):
            self.set_phase(self.call(event.item_id, event.output_index), event.phase)
        elif isinstance(event, PartialImage):
            self.guarded(self.partial, event, event.item_id, event.output_index)
        elif isinstance(event, OutputItemDone):
            if event.item_type == IMAGE_CALL:
                self.guarded(self.done, event, event.item_id, event.output_index)
        elif isinstance(event, Keepalive):
            self.result.keepalives += 1
        elif isinstance(event, TextDone):
            self.result.text = (self.result.text + "\n" + event.text).strip()
        elif isinstance(event, ResponseCompleted):
            self.completed = True
            self.result.response_id = event.response_id or self.result.response_id
            self.result.usage, self.result.image_usage = event.usage, event.image_usage
        elif isinstance(event, StreamFailure):
            self.failure = event

    def guarded(self, step: Callable[[Any], None], event: StreamEvent, item_id: str | None,
                output_index: int | None) -> None:
        """One image's bad data fails that image only; the others still arrive."""
        try:
            step(event)
        except (BadResponseError, WriteError, OSError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            error = save_error(exc) if isinstance(exc, OSError) else exc
            error.request_id = error.request_id or self.result.request_id
            call = self.call(item_id, output_index)
            call.drop_temp()
            call.error = error
            self.set_phase(call, "failed")

    def payload(self, spooled: SpooledPayload | None, b64: str | None,
                holding: AtomicFile | None = None) -> AtomicFile | None:
        """An event's image as a temporary file: already decoded, or decoded now;
        ``holding`` itself when the payload is byte for byte that file."""
        if spooled is not None:
            return spooled.take(holding=holding)  # raises if its base64 was refused
        if not b64:
            return None
        temp = AtomicFile(self.plan.directory)
        try:
            write_base64(b64, temp.write)
        except BaseException:
            temp.discard()
            raise
        return temp

    def partial(self, event: PartialImage) -> None:
        call = self.call(event.item_id, event.output_index)
        if call.image is not None:
            return
        temp = self.payload(event.spooled, event.b64)
        if temp is None:
            return
        call.drop_temp()  # only the last partial image of an item counts
        call.temp, call.error = temp, None
        call.partial_images += 1
        call.size = event.size or call.size
        call.quality = event.quality or call.quality
        call.output_format = event.output_format or call.output_format
        self.set_phase(call, "receiving")

    def done(self, event: OutputItemDone) -> None:
        call = self.call(event.item_id, event.output_index)
        if call.image is not None:
            return
        temp = self.payload(event.spooled, event.result, holding=call.temp)
        if temp is not None and temp is not call.temp:  # item.result wins over a partial
            call.drop_temp()
            call.temp, call.error = temp, None
        if call.temp is None:
            call.error = call.error or ResponseFailed(
                f"image {call.index} ({call.item_id}) ended {event.status or 'unfinished'} "
                "without image data", code="image_missing", request_id=self.result.request_id)
            self.set_phase(call, "failed")
            return
        reported = event.size or call.size
        actual = call.temp.pixel_size()
        call.size = actual or reported
        call.quality = event.quality or call.quality
        # The price follows the size the gateway says it made, else the image's own.
        size = (parse_size_text(reported) or parse_size_text(actual)
                or self.request.options.size)
        quality = call.quality or self.request.options.quality
        fields = {"slug": self.slug_of(call.index), "n": call.index, "model": DEFAULT_MODEL,
                  "quality": quality, "size": call.size or self.request.options.size_text}
        temp, call.temp = call.temp, None
        now = time.monotonic()
        price = price_of(size, quality)
        image = StreamedImage(
            index=call.index, item_id=call.item_id, path=Path(), format="", bytes=temp.size,
            size=call.size, quality=call.quality, revised_prompt=event.revised_prompt,
            elapsed=now - self.started, generation_seconds=now - call.started,
            estimated_cost_usd=price.usd, cost_extrapolated=price.extrapolated,
            offline=self.result.offline,
            size_reported=reported if actual and reported and reported != actual else None,
        )

        def record(path: Path, fmt: str) -> dict[str, Any]:
            image.path, image.format = path, fmt
            return sidecar_record(self.request, self.result, image, completed=self.completed)

        try:
            image.path, image.format, image.sidecar = commit_image(
                temp, self.plan, fields, sidecar=record if self.sidecar else None)
        except BaseException:
            temp.discard()
            raise
        call.image = image
        call.phase = "saved"
        self.listener.call_changed(call)
        self.listener.saved(call.image)

    # -- the end -----------------------------------------------------------
    def finish(self, error: VibeimgError | None) -> ChatStreamResult:
        for call in self.result.calls:
            call.drop_temp()
        res = self.result
        res.elapsed = time.monotonic() - self.started
        if self.completed and self.sidecar:
            for image in res.images:  # now usage and totals are known
                try:
                    image.sidecar = write_sidecar(
                        image.path, sidecar_record(self.request, res, image,
                                                   completed=self.completed))
                except OSError as exc:  # the sidecar written with the image stays
                    error = error or save_error(exc, f"the sidecar of {image.path}")
        res.error = stream_ending(res, failure=self.failure, completed=self.completed,
                                 error=error)
        return res


def discard_payload(event: StreamEvent) -> None:
    """Remove the file of a payload nobody took (a no-op once taken)."""
    spooled = getattr(event, "spooled", None)
    if isinstance(spooled, SpooledPayload):
        spooled.discard()
