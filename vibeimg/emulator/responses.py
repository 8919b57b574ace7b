"""``POST /responses`` as the gateway answers it (SPEC.md section 5): always streamed.

The request is checked by :mod:`.responses_request` and the text model played by
:mod:`.textmodel`: one ``image_generation_call`` per image asked for, each with its
revised prompt. Each call's image is sent the way SPEC.md describes both sides:

- without ``partial_images`` (the gateway's way), one ``partial_image`` event holds the
  whole image, and ``response.output_item.done`` has it again as ``item.result``
  (OpenAI's way), so a client written either way gets it;
- with ``partial_images``, that many previews stream, then ``item.result``.

The ``no-result`` fault leaves ``item.result`` out, as a gateway may.
``response.completed`` lists the items without their ``result``, so megabytes are not
sent a third time. When the input carries an image (an edit, a later turn of a
conversation), each answer is drawn on it: the turn visibly builds on it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from vibeimg.emulator import contract
from vibeimg.emulator.faults import Fault
from vibeimg.emulator.generations import parse_json_body
from vibeimg.emulator.placeholder import placeholder
from vibeimg.emulator.responses_request import Ask, check_request
from vibeimg.emulator.routing import (
    CUT_STREAM,
    Context,
    RecordedRequest,
    Reply,
    keepalive_ticks,
    route,
)
from vibeimg.emulator.rules import Resolved
from vibeimg.emulator.textmodel import revise, subjects

_IMAGE_MARK = "@@IMAGE@@"
_SPOILED = b"this is not an image, it is plain text" * 4


class _Events:
    """Numbered SSE events, as bytes."""

    def __init__(self) -> None:
        self.sequence = 0

    def event(self, kind: str, **payload: Any) -> bytes:
        data = json.dumps({"type": kind, "sequence_number": self._next(), **payload})
        return f"event: {kind}\ndata: {data}\n\n".encode()

    def image_event(self, kind: str, encoded: bytes, **payload: Any) -> list[bytes]:
        """The event around a big base64 string, in three pieces so it is never copied."""
        text = self.event(kind, **payload).decode()
        head, tail = text.split(_IMAGE_MARK, 1)
        return [head.encode(), encoded, tail.encode()]

    def keepalive(self) -> bytes:
        return b": keepalive\n\n" + self.event("keepalive")

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence - 1


def _usage(ask: Ask, images: int) -> dict[str, Any]:
    """The text model's tokens: about 1,600-2,300 per call on the gateway."""
    image_tokens = sum(image.tokens for image in ask.input_images)
    prompt_tokens = 1500 + (len(ask.instructions) + ask.context_chars) // 4
    output = 80 + 60 * images
    return {
        "input_tokens": prompt_tokens + image_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 40 * images},
        "total_tokens": prompt_tokens + image_tokens + output,
    }


def _image_usage(per_image: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                             "input_tokens_details": {"text_tokens": 0, "image_tokens": 0}}
    for usage in per_image:
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            total[key] += usage[key]
        for key in ("text_tokens", "image_tokens"):
            total["input_tokens_details"][key] += usage["input_tokens_details"][key]
    return total


def _draw(ctx: Context, ask: Ask, options: Resolved, label: str) -> bytes:
    if ctx.fixed_image is not None:
        return ctx.fixed_image
    background = ask.background
    return placeholder(options.prompt, options.size, options.output_format,
                       options.compression, label=label,
                       background=background.data if background is not None else None)


def _encode(image: bytes, kind: str) -> bytes:
    encoded = base64.b64encode(_SPOILED if kind == "not-image" else image)
    if kind == "bad-base64":
        middle = len(encoded) // 2
        encoded = encoded[:middle] + b"!*not~base64*!" + encoded[middle:]
    return encoded


def _maybe_cut(pieces: list[bytes], *, cut: bool) -> Iterator[bytes]:
    """The pieces of an image event, or (``stream-cut``) half of it and a dropped line."""
    if not cut:
        yield from pieces
        return
    yield pieces[0]
    yield pieces[1][: len(pieces[1]) // 2]
    yield CUT_STREAM


@dataclass
class _Stream:
    """One answer's event stream, item by item."""

    ask: Ask
    ctx: Context
    record: RecordedRequest
    kind: str  # the fault's kind, or ""
    ev: _Events = field(default_factory=_Events)
    done_items: list[dict[str, Any]] = field(default_factory=list)
    image_usage: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False  # a fault ended the stream early

    def call(self, index: int, subject: str, count: int) -> Iterator[bytes]:
        """The events of one image call; sets ``stopped`` when a fault ends the stream."""
        ask, ev = self.ask, self.ev
        started = self.record.received if index == 0 else time.monotonic()
        options = replace(ask.options, prompt=subject)
        item = {"id": "ig_" + uuid.uuid4().hex, "type": "image_generation_call",
                "status": "in_progress"}
        where = {"item_id": item["id"], "output_index": index}
        yield ev.event("response.output_item.added", output_index=index, item=item)
        yield ev.event("response.image_generation_call.in_progress", **where)
        yield ev.event("response.image_generation_call.generating", **where)
        # The drawing is part of the latency, which counts from the call's start, and
        # keepalives go out while either lasts.
        image = yield from self.generate(options, f"{index + 1}/{count}", started)
        kind = self.kind if index == count - 1 else ""  # faults spoil the last image
        self.stopped = kind in ("stream-error", "stream-failed", "stream-incomplete",
                                "bad-json", "stream-cut", "drop")
        if kind == "stream-error":
            yield ev.event("error", code="server_error", param=None,
                           message="The image generation failed unexpectedly.")
            return
        if kind in ("stream-failed", "stream-incomplete"):
            return  # the ending event follows, from the caller
        if kind == "bad-json":  # an event whose data is cut short mid-object
            whole = ev.event("response.output_item.done", output_index=index, item=item)
            yield whole[: len(whole) // 2] + b"\n\n"
            return
        fmt = contract.sniff_format(image[:16]) or options.output_format
        encoded = _encode(image, kind)
        meta = {"size": str(options.size), "quality": options.quality, "output_format": fmt}
        done = {**item, "status": "completed", "revised_prompt": revise(subject), **meta}
        cut = kind in ("stream-cut", "drop")  # drop: the connection goes mid-image
        if ask.partial_images is None:  # the gateway: the whole image as the partial image
            yield from _maybe_cut(ev.image_event(
                "response.image_generation_call.partial_image", encoded, partial_image_index=0,
                partial_image_b64=_IMAGE_MARK, **where, **meta), cut=cut)
            if cut:
                return
        else:  # OpenAI: previews first
            for p in range(ask.partial_images):
                preview = base64.b64encode(_draw(self.ctx, ask, options, f"preview {p + 1}"))
                yield from ev.image_event(
                    "response.image_generation_call.partial_image", preview,
                    partial_image_index=p, partial_image_b64=_IMAGE_MARK, **where, **meta)
        if self.kind == "no-result":  # a gateway that leaves item.result out
            yield ev.event("response.output_item.done", output_index=index, item=done)
        else:
            yield from _maybe_cut(ev.image_event(
                "response.output_item.done", encoded, output_index=index,
                item={**done, "result": _IMAGE_MARK}), cut=cut)
            if cut:
                return
        self.done_items.append(done)
        self.image_usage.append(options.usage(sum(i.tokens for i in ask.input_images)))

    def generate(self, options: Resolved, label: str, started: float) -> Generator[
            bytes, None, bytes]:
        """Draw the image in a worker thread, yielding keepalives until it is drawn and
        the latency is over; return the image."""
        drawn = threading.Event()
        image: list[bytes] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                image.append(_draw(self.ctx, self.ask, options, label))
            except BaseException as exc:  # raised again in the answering thread
                failure.append(exc)
            finally:
                drawn.set()

        threading.Thread(target=work, name="vibeimg-emulator-draw", daemon=True).start()
        for _ in keepalive_ticks(started + self.ctx.config.latency,
                                 self.ctx.config.keepalive_interval, drawn):
            yield self.ev.keepalive()
        drawn.wait()
        if failure:
            raise failure[0]
        return image[0]

    def ending(self, response: dict[str, Any]) -> Iterator[bytes]:
        """``response.failed`` or ``response.incomplete``, for those faults."""
        if self.kind == "stream-failed":
            failed = {**response, "status": "failed", "output": self.done_items,
                      "error": {"code": "server_error",
                                "message": "The image could not be generated."}}
            yield self.ev.event("response.failed", response=failed)
        elif self.kind == "stream-incomplete":
            incomplete = {**response, "status": "incomplete", "output": self.done_items,
                          "incomplete_details": {"reason": "max_output_tokens"}}
            yield self.ev.event("response.incomplete", response=incomplete)


def stream_events(ask: Ask, ctx: Context, fault: Fault | None,
                  record: RecordedRequest) -> Iterator[bytes]:
    """The whole event sequence of SPEC.md section 5, with keepalives and faults."""
    stream = _Stream(ask, ctx, record, fault.kind if fault is not None else "")
    ev = stream.ev
    response: dict[str, Any] = {
        "id": "resp_" + uuid.uuid4().hex, "object": "response",
        "created_at": int(time.time()), "status": "in_progress", "model": ask.model,
        "instructions": ask.instructions, "output": [], "tools": ask.tools,
        "tool_choice": "auto", "parallel_tool_calls": True, "usage": None, "error": None,
        "incomplete_details": None,
    }
    yield ev.event("response.created", response=response)
    yield ev.event("response.in_progress", response=response)
    items = subjects(ask.text) if ask.tool is not None else []
    for index, subject in enumerate(items):
        yield from stream.call(index, subject, len(items))
        if stream.stopped:
            yield from stream.ending(response)
            return
    if ask.tool is None:
        text = ("I can describe images, but I have no image tool in this request: add "
                '{"type": "image_generation"} to tools.')
        yield ev.event("response.output_text.done", item_id="msg_" + uuid.uuid4().hex,
                       output_index=0, content_index=0, text=text)
    response = {**response, "status": "completed", "output": stream.done_items,
                "usage": _usage(ask, len(stream.done_items))}
    if stream.image_usage:
        response["tool_usage"] = {"image_gen": _image_usage(stream.image_usage)}
    yield ev.event("response.completed", response=response)


@route("POST", "/responses")
def responses(record: RecordedRequest, ctx: Context, fault: Fault | None) -> Reply:
    ask = check_request(parse_json_body(record))
    return Reply(content_type="text/event-stream; charset=utf-8",
                 stream=stream_events(ask, ctx, fault, record))
