"""The Responses API event stream (SPEC.md section 5): SSE bytes -> typed events.

httpx-sse does the SSE framing. Around it, this module adds what the gateway
needs: a tap on the raw bytes (to record them, count them while a big image
arrives, and notice ``: keepalive`` comment lines, which SSE parsers drop
silently), a refusal of answers that are JSON instead of a stream, and one typed
event per JSON ``type``. Events are parsed lazily, one at a time: a 33 MB
``partial_image_b64`` event is held once, never the whole stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from vibeimg.errors import BadResponseError, ResponseFailed
from vibeimg.files.atomic import AtomicFile
from vibeimg.wire.payloadspool import PayloadDiverter, SpooledPayload
from vibeimg.wire.response import GatewayResponse, error_from_response

#: JSON fields holding base64 image data, left out of summaries and progress lines.
PAYLOAD_FIELDS = frozenset({"partial_image_b64", "result", "image_url"})

#: Error codes that mean the request itself was refused (exit API, not SERVER).
REFUSAL_WORDS = ("moderation", "content", "policy", "safety", "invalid", "rate_limit",
                 "quota", "max_output_tokens", "billing", "not_found", "unsupported")


@dataclass(frozen=True, kw_only=True)
class StreamEvent:
    """One event of the stream. Subclasses name the ones vibeimg acts on."""

    type: str
    sequence_number: int | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """The event's JSON with base64 payloads replaced by their length (for logs)."""
        summary: dict[str, Any] = _without_payloads(self.data)
        return summary


@dataclass(frozen=True, kw_only=True)
class ResponseStarted(StreamEvent):
    """``response.created`` or ``response.in_progress``."""

    response_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class OutputItemAdded(StreamEvent):
    """``response.output_item.added``: an image call (or a message) begins."""

    output_index: int | None = None
    item_id: str | None = None
    item_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImageCallPhase(StreamEvent):
    """``response.image_generation_call.in_progress`` / ``.generating`` / ``.completed``."""

    item_id: str | None = None
    output_index: int | None = None
    phase: str = ""


@dataclass(frozen=True, kw_only=True)
class PartialImage(StreamEvent):
    """``response.image_generation_call.partial_image``: on the gateway, the whole image."""

    item_id: str | None = None
    output_index: int | None = None
    partial_index: int | None = None
    b64: str = field(default="", repr=False)
    spooled: SpooledPayload | None = None  # the image, already decoded to a temporary file
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None


@dataclass(frozen=True, kw_only=True)
class OutputItemDone(StreamEvent):
    """``response.output_item.done``: the item's final state, ``result`` and revised prompt."""

    output_index: int | None = None
    item_id: str | None = None
    item_type: str | None = None
    status: str | None = None
    result: str | None = field(default=None, repr=False)
    spooled: SpooledPayload | None = None  # the result, already decoded to a temporary file
    revised_prompt: str | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None


@dataclass(frozen=True, kw_only=True)
class Keepalive(StreamEvent):
    """A ``keepalive`` event: the gateway is still working."""


@dataclass(frozen=True, kw_only=True)
class TextDone(StreamEvent):
    """``response.output_text.done``: what the text model said besides calling the tool."""

    text: str = ""


@dataclass(frozen=True, kw_only=True)
class ResponseCompleted(StreamEvent):
    """``response.completed``: the text model's usage and the image tool's usage."""

    response_id: str | None = None
    usage: dict[str, Any] | None = None
    image_usage: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class StreamFailure(StreamEvent):
    """``error``, ``response.failed`` or ``response.incomplete``."""

    code: str | None = None
    message: str = ""

    def error(self, request_id: str | None) -> ResponseFailed:
        code = (self.code or "").lower()
        return ResponseFailed(
            self.message, code=self.code, request_id=request_id,
            refused=any(word in code for word in REFUSAL_WORDS),
        )


def _without_payloads(value: Any) -> Any:
    if isinstance(value, SpooledPayload):
        return str(value)
    if isinstance(value, dict):
        return {
            k: (f"<{len(v):,} characters>" if k in PAYLOAD_FIELDS and isinstance(v, str)
                else _without_payloads(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_payloads(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_event(data: dict[str, Any], sse_event: str = "") -> StreamEvent:
    """The typed event for one parsed JSON payload (``type`` names it; else the SSE name)."""
    kind = _text(data.get("type")) or sse_event or "message"
    base: dict[str, Any] = {"type": kind, "sequence_number": _int(data.get("sequence_number")),
                            "data": data}
    response = _dict(data.get("response"))
    item = _dict(data.get("item"))
    if kind in ("response.created", "response.in_progress"):
        return ResponseStarted(**base, response_id=_text(response.get("id")))
    if kind == "response.output_item.added":
        return OutputItemAdded(**base, output_index=_int(data.get("output_index")),
                               item_id=_text(item.get("id")), item_type=_text(item.get("type")))
    prefix = "response.image_generation_call."
    if kind.startswith(prefix) and kind != prefix + "partial_image":
        return ImageCallPhase(**base, item_id=_text(data.get("item_id")),
                              output_index=_int(data.get("output_index")),
                              phase=kind[len(prefix):])
    if kind == prefix + "partial_image":
        return PartialImage(
            **base, item_id=_text(data.get("item_id")),
            output_index=_int(data.get("output_index")),
            partial_index=_int(data.get("partial_image_index")),
            b64=_text(data.get("partial_image_b64")) or "",
            size=_text(data.get("size")), quality=_text(data.get("quality")),
            output_format=_text(data.get("output_format")),
        )
    if kind == "response.output_item.done":
        return OutputItemDone(
            **base, output_index=_int(data.get("output_index")), item_id=_text(item.get("id")),
            item_type=_text(item.get("type")), status=_text(item.get("status")),
            result=_text(item.get("result")) or None,
            revised_prompt=_text(item.get("revised_prompt")),
            size=_text(item.get("size")), quality=_text(item.get("quality")),
            output_format=_text(item.get("output_format")),
        )
    if kind == "keepalive":
        return Keepalive(**base)
    if kind == "response.output_text.done":
        return TextDone(**base, text=_text(data.get("text")) or "")
    if kind == "response.completed":
        tool_usage = _dict(response.get("tool_usage"))
        return ResponseCompleted(
            **base, response_id=_text(response.get("id")),
            usage=_dict(response.get("usage")) or None,
            image_usage=_dict(tool_usage.get("image_gen")) or None,
        )
    return _failure(kind, base, data, response) or StreamEvent(**base)


def _failure(
    kind: str, base: dict[str, Any], data: dict[str, Any], response: dict[str, Any]
) -> StreamFailure | None:
    if kind == "error":
        # OpenAI puts code and message at the top; some proxies nest them under "error".
        error = _dict(data.get("error")) or data
        code = _text(error.get("code")) or _text(error.get("type"))
        message = _text(error.get("message")) or "the gateway reported an error"
        return StreamFailure(**base, code=code, message=f"the stream reported an error: {message}")
    if kind == "response.failed":
        error = _dict(response.get("error"))
        message = _text(error.get("message")) or "no reason given"
        return StreamFailure(**base, code=_text(error.get("code")),
                             message=f"the response failed: {message}")
    if kind == "response.incomplete":
        reason = _text(_dict(response.get("incomplete_details")).get("reason")) or "unknown"
        return StreamFailure(**base, code=reason,
                             message=f"the response is incomplete (reason: {reason})")
    return None


class _Tap(httpx.SyncByteStream):
    """The body's bytes as they arrive: counted, recorded, watched for comment lines,
    and (with a diverter) stripped of their image payloads, which go to files."""

    def __init__(self, source: Iterator[bytes], stream: EventStream) -> None:
        self._source = source
        self._stream = stream
        self._at_line_start = True

    def __iter__(self) -> Iterator[bytes]:
        stream = self._stream
        for chunk in self._source:
            if not chunk:
                continue
            stream.bytes_received += len(chunk)
            if stream.record is not None:
                stream.record(chunk)
            passed = chunk if stream.diverter is None else stream.diverter.feed(chunk)
            if passed:
                self._count_comments(passed)
            if stream.on_bytes is not None:
                stream.on_bytes(stream.bytes_received)
            if passed:
                yield passed
        if stream.diverter is not None:
            rest = stream.diverter.flush()
            if rest:
                yield rest

    def _count_comments(self, chunk: bytes) -> None:
        # A comment is a line starting with ':'; JSON data lines never hold a newline.
        stream = self._stream
        comments = chunk.count(b"\n:") + (1 if self._at_line_start and chunk[:1] == b":" else 0)
        self._at_line_start = chunk[-1:] in (b"\n", b"\r")
        if comments:
            stream.comments += comments
            if stream.on_comment is not None:
                stream.on_comment(comments)


class EventStream:
    """Iterate the typed events of an open ``/responses`` answer.

    ``record`` receives every raw byte (``--events FILE``); ``on_bytes`` the running
    byte count after each chunk; ``on_comment`` the number of SSE comment lines
    (keepalives) in each chunk, as soon as they arrive. With ``spool_to`` (a factory
    of temporary files), image payloads are decoded to files as they stream and
    events carry them as ``spooled``; whoever gets such an event owns its file.
    """

    def __init__(
        self,
        response: GatewayResponse,
        *,
        record: Callable[[bytes], object] | None = None,
        on_bytes: Callable[[int], None] | None = None,
        on_comment: Callable[[int], None] | None = None,
        spool_to: Callable[[], AtomicFile] | None = None,
    ) -> None:
        self.response = response
        self.diverter = PayloadDiverter(spool_to) if spool_to is not None else None
        self.record = record
        self.on_bytes = on_bytes
        self.on_comment = on_comment
        self.bytes_received = 0
        self.comments = 0
        self.events = 0

    def __iter__(self) -> Iterator[StreamEvent]:
        ensure_event_stream(self.response)
        # A response over the tapped bytes, already content-decoded by the real one.
        headers = [(k, v) for k, v in self.response.http.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length")]
        tapped = httpx.Response(self.response.http.status_code, headers=headers,
                                stream=_Tap(self.response.iter_bytes(), self))
        try:
            for sse in EventSource(tapped).iter_sse():
                if not sse.data:
                    # httpx-sse 0.4 can dispatch an empty event after a comment once an
                    # id was seen; a bare "event: keepalive" is the only empty one we use.
                    if sse.event == "keepalive":
                        self.events += 1
                        yield Keepalive(type="keepalive")
                    continue
                if sse.data.strip() == "[DONE]":
                    return
                self.events += 1
                yield self._parse(sse.data, sse.event)
        except SSEError as exc:  # pragma: no cover - the content type is checked first
            raise BadResponseError(str(exc), request_id=self.response.request_id) from exc
        finally:
            if self.diverter is not None:
                self.diverter.close()  # files of events nobody received

    def _parse(self, text: str, sse_event: str) -> StreamEvent:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested absurdly deep
            raise BadResponseError(
                f"event {self.events} ({sse_event or 'message'}) is not valid JSON: "
                f"{text[:60]!r}", request_id=self.response.request_id,
            ) from exc
        if not isinstance(data, dict):
            raise BadResponseError(
                f"event {self.events} ({sse_event or 'message'}) is not a JSON object",
                request_id=self.response.request_id,
            )
        event = parse_event(data, "" if sse_event == "message" else sse_event)
        if self.diverter is not None:
            event = _claim_payload(event, self.diverter)
        return event


def _claim_payload(event: StreamEvent, diverter: PayloadDiverter) -> StreamEvent:
    """Swap the marker a diverted payload left in the event for its file."""
    if isinstance(event, PartialImage):
        spooled = diverter.claim(event.b64)
        if spooled is not None:
            event.data["partial_image_b64"] = spooled
            return replace(event, b64="", spooled=spooled)
    elif isinstance(event, OutputItemDone):
        item = event.data.get("item")
        spooled = diverter.claim(event.result)
        if spooled is not None and isinstance(item, dict):
            item["result"] = spooled
            return replace(event, result=None, spooled=spooled)
    return event


def ensure_event_stream(response: GatewayResponse) -> None:
    """Refuse an answer that is not ``text/event-stream``, showing the gateway's message."""
    content_type = response.http.headers.get("content-type", "")
    if "text/event-stream" in content_type.lower():
        return
    body = b"".join(response.iter_bytes())
    gateway_error = error_from_response(response.http, body)
    detail = gateway_error.message if body.strip() else "an empty body"
    raise BadResponseError(
        f"the gateway answered {content_type.split(';')[0] or 'no content type'} instead of "
        f"an event stream: {detail}",
        request_id=response.request_id,
        hint="the Responses API needs stream: true; if this persists, report it",
    )
