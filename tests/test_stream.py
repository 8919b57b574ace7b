"""The Responses event parser: SSE framing by httpx-sse, then one typed event per type."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from vibeimg.errors import BadResponseError, ExitCode
from vibeimg.wire import payloadspool as stream_module
from vibeimg.wire.payloadspool import write_base64
from vibeimg.wire.response import GatewayResponse
from vibeimg.wire.sse import (
    EventStream,
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
    parse_event,
)


class Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


def answer(*chunks: bytes, content_type: str = "text/event-stream") -> GatewayResponse:
    http = httpx.Response(200, headers={"content-type": content_type, "x-request-id": "req_1"},
                          stream=Chunks(list(chunks)))
    return GatewayResponse(http=http, request_id="req_1", started=0.0)


def sse(kind: str, **payload: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def test_full_sequence_becomes_typed_events() -> None:
    """Each event of SPEC section 5 comes out as its typed class with its fields."""
    item = {"id": "ig_1", "type": "image_generation_call", "status": "in_progress"}
    body = b"".join([
        sse("response.created", sequence_number=0, response={"id": "resp_1"}),
        sse("response.output_item.added", output_index=0, item=item),
        sse("response.image_generation_call.generating", item_id="ig_1", output_index=0),
        sse("response.image_generation_call.partial_image", item_id="ig_1", output_index=0,
            partial_image_index=0, partial_image_b64="QUJD", size="1024x1024"),
        sse("response.output_item.done", output_index=0,
            item={**item, "status": "completed", "revised_prompt": "A fox.", "result": "QUJD"}),
        sse("response.output_text.done", text="Here you go."),
        sse("response.completed", response={"id": "resp_1", "usage": {"total_tokens": 9},
                                            "tool_usage": {"image_gen": {"output_tokens": 3}}}),
    ])
    events = list(EventStream(answer(body)))
    assert [type(e) for e in events] == [ResponseStarted, OutputItemAdded, ImageCallPhase,
                                         PartialImage, OutputItemDone, TextDone,
                                         ResponseCompleted]
    started, added, phase, partial, done, text, completed = events
    assert isinstance(started, ResponseStarted) and started.response_id == "resp_1"
    assert started.sequence_number == 0
    assert isinstance(added, OutputItemAdded) and added.item_type == "image_generation_call"
    assert isinstance(phase, ImageCallPhase) and phase.phase == "generating"
    assert isinstance(partial, PartialImage) and partial.b64 == "QUJD"
    assert partial.size == "1024x1024"
    assert isinstance(done, OutputItemDone) and done.revised_prompt == "A fox."
    assert done.result == "QUJD"
    assert isinstance(text, TextDone) and text.text == "Here you go."
    assert isinstance(completed, ResponseCompleted) and completed.usage == {"total_tokens": 9}
    assert completed.image_usage == {"output_tokens": 3}


def test_comments_are_reported_not_yielded() -> None:
    """': keepalive' lines reach on_comment at once (even split across chunks), never as events."""
    seen: list[int] = []
    stream = EventStream(
        answer(b": keepalive\n\n", sse("keepalive"), b"\n", b": ping\n\n: again\n\n"),
        on_comment=seen.append,
    )
    events = list(stream)
    assert [type(e) for e in events] == [Keepalive]
    assert sum(seen) == 3 and stream.comments == 3


def test_phantom_empty_event_after_comment_is_skipped() -> None:
    """With a sticky id, httpx-sse 0.4 dispatches an empty event after a comment: skipped."""
    body = (b"id: 1\n" + sse("response.created", response={"id": "r"}) + b": ping\n\n"
            + b"id: 2\n" + sse("response.in_progress", response={"id": "r"}))
    events = list(EventStream(answer(body)))
    assert [e.type for e in events] == ["response.created", "response.in_progress"]


def test_done_marker_ends_the_stream() -> None:
    """A '[DONE]' data line ends the iteration."""
    body = sse("keepalive") + b"data: [DONE]\n\n" + sse("keepalive")
    assert len(list(EventStream(answer(body)))) == 1


def test_records_every_raw_byte_and_counts_them() -> None:
    """record() gets the exact bytes received, comments and payloads included."""
    chunks = [b": hi\n\n", sse("keepalive"), b'data: {"type": "x", "result": "QUJD"}\n\n']
    recorded: list[bytes] = []
    totals: list[int] = []
    stream = EventStream(answer(*chunks), record=recorded.append, on_bytes=totals.append)
    list(stream)
    assert b"".join(recorded) == b"".join(chunks)
    assert totals[-1] == stream.bytes_received == len(b"".join(chunks))


def test_invalid_json_event_is_a_bad_response() -> None:
    """An event whose data is not JSON is a server-side error naming the event."""
    with pytest.raises(BadResponseError, match="not valid JSON") as caught:
        list(EventStream(answer(b"event: oops\ndata: {not json\n\n")))
    assert caught.value.request_id == "req_1"


def test_json_answer_instead_of_stream_shows_the_message() -> None:
    """A JSON error body with status 200 is refused with the gateway's message and request id."""
    body = json.dumps({"error": {"message": "Instructions are required"}}).encode()
    with pytest.raises(BadResponseError) as caught:
        list(EventStream(answer(body, content_type="application/json")))
    line = caught.value.one_line()
    assert "instead of an event stream: Instructions are required" in line
    assert "req_1" in line


@pytest.mark.parametrize(
    ("payload", "code", "exit_code"),
    [
        ({"type": "error", "code": "server_error", "message": "boom"}, "server_error",
         ExitCode.SERVER),
        ({"type": "error", "error": {"code": "moderation_blocked", "message": "no"}},
         "moderation_blocked", ExitCode.API),
        ({"type": "response.failed", "response": {"error": {"code": "server_error",
                                                             "message": "x"}}},
         "server_error", ExitCode.SERVER),
        ({"type": "response.incomplete",
          "response": {"incomplete_details": {"reason": "max_output_tokens"}}},
         "max_output_tokens", ExitCode.API),
    ],
)
def test_failure_events_carry_their_code(payload, code, exit_code) -> None:
    """error, response.failed and response.incomplete become errors with the event's code."""
    event = parse_event(payload)
    assert isinstance(event, StreamFailure) and event.code == code
    error = event.error("req_9")
    assert error.exit_code == exit_code
    assert f"[code {code}]" in error.one_line() and "req_9" in error.one_line()


def test_unknown_event_is_kept_as_a_plain_event() -> None:
    """A type vibeimg does not know is a plain StreamEvent, named by its type."""
    event = parse_event({"type": "response.output_text.delta", "delta": "hi"})
    assert type(event) is StreamEvent and event.type == "response.output_text.delta"


def test_summary_leaves_out_base64_payloads() -> None:
    """Progress lines never carry image data, only its length."""
    event = parse_event({"type": "response.output_item.done",
                         "item": {"type": "image_generation_call", "result": "QUJD" * 10}})
    assert event.summary()["item"]["result"] == "<40 characters>"


def test_write_base64_decodes_in_slices(monkeypatch) -> None:
    """Decoding in slices gives the same bytes, from plain base64 or a data URI."""
    monkeypatch.setattr(stream_module, "_B64_SLICE", 8)
    data = bytes(range(256)) * 3 + b"x"
    text = base64.b64encode(data).decode()
    out = bytearray()
    assert write_base64(text, out.extend) == len(data) and bytes(out) == data
    out.clear()
    write_base64("data:image/png;base64," + text, out.extend)
    assert bytes(out) == data


@pytest.mark.parametrize("text", ["QUJ", "QU!D", "QQ==QUJD", "", "QUJD\u00e9AAA"])
def test_write_base64_refuses_corrupt_data(text: str) -> None:
    """Truncated, foreign characters or padding inside: refused, nothing written."""
    out = bytearray()
    with pytest.raises(BadResponseError):
        write_base64(text, out.extend)
