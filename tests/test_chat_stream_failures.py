"""What chat-stream does when things go wrong: local refusals, failed and cut streams."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from vibeimg.emulator.routing import ROUTES, Reply
from vibeimg.errors import ExitCode

THREE = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"
FAST = ("--size", "1024x1024", "--quality", "low")


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1024), "olive").save(buffer, "PNG")
    return buffer.getvalue()


def sse(kind: str, **payload: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def image_call(item_id: str, index: int, *, revised: str = "A thing.") -> list[bytes]:
    item = {"id": item_id, "type": "image_generation_call", "status": "in_progress"}
    b64 = base64.b64encode(png_bytes()).decode()
    return [
        sse("response.output_item.added", output_index=index, item=item),
        sse("response.image_generation_call.generating", item_id=item_id, output_index=index),
        sse("response.image_generation_call.partial_image", item_id=item_id,
            output_index=index, partial_image_index=0, partial_image_b64=b64,
            size="1024x1024", quality="low", output_format="png"),
        sse("response.output_item.done", output_index=index,
            item={**item, "status": "completed", "revised_prompt": revised}),
    ]


COMPLETED = sse("response.completed", response={
    "id": "resp_x", "status": "completed", "usage": {"total_tokens": 1700},
    "tool_usage": {"image_gen": {"total_tokens": 200}}})


@pytest.fixture
def serve(monkeypatch) -> Callable[..., None]:
    """Make the emulator's /responses answer exactly these bytes (or this reply)."""

    def install(*chunks: bytes, reply: Reply | None = None) -> None:
        def handler(record, ctx, fault) -> Reply:
            return reply or Reply(content_type="text/event-stream", stream=list(chunks))

        monkeypatch.setitem(ROUTES, ("POST", "/responses"), handler)

    return install


# -- refused before sending ---------------------------------------------------------------

def test_edit_without_an_image_is_refused_locally(cli, emulator, tmp_path: Path) -> None:
    """--action edit with no -i: usage error, nothing sent."""
    result = cli("chat-stream", "make it blue", "--action", "edit")
    assert result.exit_code == ExitCode.USAGE
    assert "--action edit needs an image" in result.stderr
    assert emulator.api_requests() == [] and files_in(tmp_path) == []


def make_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    text = folder / "notes.png"
    text.write_text("not an image at all")
    damaged = folder / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    huge = folder / "huge.png"
    with huge.open("wb") as handle:  # a sparse file: 51 MB on paper, nothing on disk
        handle.truncate(51 * 1024 * 1024)
    gif = folder / "anim.gif"
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    return {"missing": folder / "nope.png", "text": text, "damaged": damaged, "huge": huge,
            "gif": gif}


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("missing", "does not exist"),
        ("text", "not a png, jpeg or webp file"),
        ("damaged", "is a damaged PNG: byte 8 should start a chunk but does not"),
        ("huge", "the gateway accepts at most 50.0 MB"),
        ("gif", "is a GIF file"),
    ],
)
def test_bad_input_images_are_refused_locally(cli, emulator, tmp_path: Path, which,
                                              message) -> None:
    """Each bad -i image: one line naming it and the problem, exit 2, nothing sent."""
    inputs = make_inputs(tmp_path / "in")
    result = cli("chat-stream", "a fox", "-i", str(inputs[which]))
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert message in result.stderr and str(inputs[which]) in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert emulator.api_requests() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--size", "1000x1000"), "invalid size"),
        (("--compression", "50"), "compression only applies"),
        (("--quality", "ultra"), "invalid quality"),
        (("--action", "paint"), "invalid action"),
        (("-n", "0"), "-n must be between 1 and 10"),
        (("-n", "11"), "-n must be between 1 and 10"),
        (("--partial-images", "4"), "--partial-images"),
        (("--instructions", "  "), "instructions are empty"),
        (("--progress", "loud"), "invalid progress"),
        (("-o", "-"), "cannot write image bytes to stdout"),
    ],
)
def test_bad_options_are_refused_locally(cli, emulator, args, message) -> None:
    """Options the gateway would refuse, or that cannot work, stop before any request."""
    result = cli("chat-stream", "a fox", *args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert message in result.stderr
    assert emulator.api_requests() == []


# -- refused or failed by the gateway ----------------------------------------------------

def test_gateway_error_status_shows_message_and_request_id(make_cli, tmp_path: Path) -> None:
    """An HTTP error answer: the gateway's message, the request id, the API exit code."""
    cli = make_cli(faults=["400"])
    result = cli("chat-stream", "a fox")
    assert result.exit_code == ExitCode.API
    assert "HTTP 400: Injected bad request." in result.stderr
    assert cli.emulator.requests[0].request_id in result.stderr
    assert files_in(tmp_path) == []


def test_json_instead_of_a_stream(cli, emulator, serve, tmp_path: Path) -> None:
    """A 200 answered as JSON: the gateway's message and request id, server exit code."""
    serve(reply=Reply.json({"error": {"message": "upstream returned no data"}}))
    result = cli("chat-stream", "a fox")
    assert result.exit_code == ExitCode.SERVER
    assert "instead of an event stream: upstream returned no data" in result.stderr
    assert emulator.requests[0].request_id in result.stderr
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("fault", "message", "code", "exit_code"),
    [
        ("stream-error", "the stream reported an error: The image generation failed",
         "server_error", ExitCode.SERVER),
        ("stream-failed", "the response failed: The image could not be generated.",
         "server_error", ExitCode.SERVER),
        ("stream-incomplete", "the response is incomplete (reason: max_output_tokens)",
         "max_output_tokens", ExitCode.API),
    ],
)
def test_failure_events_with_one_image(make_cli, tmp_path: Path, fault, message, code,
                                       exit_code) -> None:
    """error / response.failed / response.incomplete: a clear line with the code, no file."""
    cli = make_cli(faults=[fault])
    result = cli("chat-stream", "a fox", *FAST)
    assert result.exit_code == exit_code, result.stderr
    assert message in result.stderr and f"[code {code}]" in result.stderr
    assert cli.emulator.requests[0].request_id in result.stderr
    assert result.stdout == "" and files_in(tmp_path) == []


@pytest.mark.parametrize("fault", ["stream-error", "stream-failed", "stream-incomplete"])
def test_failure_after_two_images_keeps_them(make_cli, tmp_path: Path, fault) -> None:
    """A failure at the third image keeps the first two, printed, and exits partial."""
    cli = make_cli(faults=[fault])
    result = cli("chat-stream", THREE, *FAST, "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    document = json.loads(result.stdout)
    assert document["received"] == 2 and document["requested"] == 3
    assert document["status"] == "partial"
    assert document["stream_status"] in ("error", "failed", "incomplete")
    assert document["exit_code"] == ExitCode.PARTIAL
    assert "2 images saved, then:" in result.stderr
    assert files_in(tmp_path) == ["a-blue-square-2.json", "a-blue-square-2.png",
                                  "a-red-circle-1.json", "a-red-circle-1.png"]


def test_cut_stream_with_one_image_leaves_nothing(make_cli, tmp_path: Path) -> None:
    """Cut in the middle of the image: network exit code, what is missing, no partial file."""
    cli = make_cli(faults=["stream-cut"])
    result = cli("chat-stream", "a fox", *FAST)
    assert result.exit_code == ExitCode.NETWORK, result.stderr
    assert "the stream ended before the response completed" in result.stderr
    assert "image 1 (ig_" in result.stderr and "was generating" in result.stderr
    assert result.stdout == "" and files_in(tmp_path) == []


def test_cut_stream_keeps_the_complete_images(make_cli, tmp_path: Path) -> None:
    """Cut during the third image: two complete images saved, partial exit, no .part file."""
    cli = make_cli(faults=["stream-cut"])
    result = cli("chat-stream", THREE, *FAST)
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    assert len(result.stdout.split()) == 2
    assert "image 3 (ig_" in result.stderr
    names = files_in(tmp_path)
    assert len(names) == 4 and not [n for n in names if n.startswith(".")]
    for name in result.stdout.split():
        assert Image.open(tmp_path / name).size == (1024, 1024)


def test_stream_that_just_ends_is_truncated(cli, serve, tmp_path: Path) -> None:
    """A stream that closes cleanly without response.completed is truncated too."""
    serve(sse("response.created", response={"id": "r"}), *image_call("ig_a", 0),
          sse("response.output_item.added", output_index=1,
              item={"id": "ig_b", "type": "image_generation_call"}))
    result = cli("chat-stream", "Generate 2 images of a fox")
    assert result.exit_code == ExitCode.PARTIAL
    assert "image 2 (ig_b) was queued" in result.stderr
    assert result.stdout == "a-fox-1.png\n"


def test_corrupt_image_fails_that_image_only(make_cli, tmp_path: Path) -> None:
    """Bad base64 in the last image: the others are saved; that one fails, nothing written."""
    cli = make_cli(faults=["bad-base64"])
    result = cli("chat-stream", THREE, *FAST)
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    assert "not valid base64" in result.stderr
    assert len(result.stdout.split()) == 2 and len(files_in(tmp_path)) == 4


def test_bytes_that_are_not_an_image(make_cli, tmp_path: Path) -> None:
    """Base64 of text instead of an image: refused as a bad answer, no file."""
    cli = make_cli(faults=["not-image"])
    result = cli("chat-stream", "a fox", *FAST)
    assert result.exit_code == ExitCode.SERVER
    assert "not a PNG, JPEG or WebP image" in result.stderr
    assert files_in(tmp_path) == []


def test_answer_without_an_image(cli, serve, tmp_path: Path) -> None:
    """The model only talks: the API exit code, and what it said."""
    serve(sse("response.created", response={"id": "r"}),
          sse("response.output_text.done", text="I cannot draw that."), COMPLETED)
    result = cli("chat-stream", "a fox")
    assert result.exit_code == ExitCode.API
    assert "without making an image: I cannot draw that." in result.stderr
    assert "[code no_image]" in result.stderr and files_in(tmp_path) == []


def test_fewer_images_than_asked_is_reported(cli, serve) -> None:
    """-n 3 answered with one image: saved, exit 0, a warning says how many arrived."""
    serve(sse("response.created", response={"id": "r"}), *image_call("ig_a", 0), COMPLETED)
    result = cli("chat-stream", "a fox", "-n", "3")
    assert result.exit_code == 0, result.stderr
    assert "warning: asked for 3 images, 1 arrived" in result.stderr
    assert result.stdout == "a-fox-1.png\n"


def test_fewer_images_than_asked_are_listed_as_missing(cli, serve) -> None:
    """-n 3 answered with one image: the document lists the two never made."""
    serve(sse("response.created", response={"id": "r"}), *image_call("ig_a", 0), COMPLETED)
    result = cli("chat-stream", "a fox", "-n", "3", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["status"], document["requested"], document["received"]) == (
        "completed", 3, 1)
    assert document["missing"] == [{"index": n, "item_id": None, "phase": "not-started"}
                                   for n in (2, 3)]


def test_unknown_events_and_phantoms_are_ignored(cli, serve) -> None:
    """Unknown types are skipped (named with --verbose); empty phantom events too."""
    serve(b"id: 1\n" + sse("response.created", response={"id": "r"}), b": ping\n\n",
          sse("response.reasoning_summary_text.delta", delta="hmm"), *image_call("ig_a", 0),
          COMPLETED)
    result = cli("chat-stream", "a fox", "--verbose")
    assert result.exit_code == 0, result.stderr
    assert "ignored event response.reasoning_summary_text.delta" in result.stderr
    assert result.stdout == "a-fox.png\n"


def test_no_temporary_files_survive_any_failure(make_cli, tmp_path: Path) -> None:
    """After every kind of stream failure, the folder holds finished files only."""
    for fault in ("stream-cut", "stream-error", "bad-base64", "stream-failed"):
        cli = make_cli(faults=[fault])
        cli("chat-stream", THREE, *FAST, "--out-dir", fault)
        assert not [p for p in (tmp_path / fault).iterdir() if p.name.startswith(".vibeimg-")]


def test_events_after_the_end_leave_no_file(cli, serve, tmp_path: Path) -> None:
    """An image event after response.completed is read and dropped, its file removed."""
    serve(sse("response.created", response={"id": "r"}), *image_call("ig_a", 0), COMPLETED,
          *image_call("ig_b", 1))
    result = cli("chat-stream", "a fox")
    assert result.exit_code == 0, result.stderr
    assert files_in(tmp_path) == ["a-fox.json", "a-fox.png"]


@pytest.mark.parametrize("fault", ["drop", "bad-json"])
def test_body_faults_reach_streams_too(make_cli, tmp_path: Path, fault: str) -> None:
    """--fault drop and bad-json spoil the third image's event of a stream, as they spoil
    an image answer: two images kept, exit partial, no temporary file."""
    cli = make_cli(faults=[fault])
    result = cli("chat-stream", THREE, *FAST, "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    document = json.loads(result.stdout)
    assert document["received"] == 2
    assert len(list(tmp_path.glob("*.png"))) == 2
    assert list(tmp_path.glob(".vibeimg-*")) == []
