"""Image payloads are decoded to files as they stream, whatever the chunk boundaries."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_stream import answer
from vibeimg.errors import BadResponseError
from vibeimg.files.atomic import AtomicFile
from vibeimg.wire.b64stream import Base64Decoder
from vibeimg.wire.payloadspool import PayloadDiverter
from vibeimg.wire.sse import EventStream, OutputItemDone, PartialImage

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def event_bytes(kind: str, **payload: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def temp_files(folder: Path) -> list[str]:
    """The temporary files in ``folder``: hidden ``.vibeimg-`` names, and the files this
    process holds open there without a name (``O_TMPFILE``, shown as ``#inode``)."""
    named = [p.name for p in folder.iterdir() if p.name.startswith(".vibeimg-")]
    unnamed = []
    proc = Path("/proc/self/fd")
    for fd in proc.iterdir() if proc.is_dir() else []:
        with contextlib.suppress(OSError):
            target = str(fd.readlink())
            if target.startswith(f"{folder}/#"):
                unnamed.append(target)
    return named + unnamed


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=12))
def test_any_chunking_gives_the_same_events_and_bytes(tmp_path_factory, cuts) -> None:
    """Split anywhere, the events are the same and the payload decodes to the image once:
    the result identical to the partial image is that file, not a second one."""
    folder = tmp_path_factory.mktemp("spool")
    b64 = base64.b64encode(IMAGE).decode()
    body = (b": keepalive\n\n"
            + event_bytes("response.image_generation_call.partial_image", item_id="ig_1",
                          partial_image_b64=b64, size="1024x1024")
            + event_bytes("response.output_item.done",
                          item={"id": "ig_1", "type": "image_generation_call", "result": b64,
                                "revised_prompt": "A fox."}))
    comments: list[int] = []
    stream = EventStream(answer(*split(body, cuts)), on_comment=comments.append,
                         spool_to=lambda: AtomicFile(folder))
    partial, done = list(stream)
    assert isinstance(partial, PartialImage) and partial.size == "1024x1024"
    assert isinstance(done, OutputItemDone) and done.revised_prompt == "A fox."
    assert partial.spooled is not None and done.spooled is not None
    assert partial.spooled.chars == done.spooled.chars == len(b64)
    assert len(temp_files(folder)) == 1  # one file for both copies of the image
    file = partial.spooled.take()
    assert file is not None and done.spooled.same_as is file
    assert done.spooled.take(holding=file) is file
    assert file.commit(folder / "fox.png", overwrite=False).read_bytes() == IMAGE
    assert partial.summary()["partial_image_b64"] == f"<{len(b64):,} characters>"
    assert sum(comments) == 1 and temp_files(folder) == []


def result_after_partial(folder: Path, partial: bytes, result: bytes) -> tuple[
        PartialImage, OutputItemDone]:
    body = (event_bytes("response.image_generation_call.partial_image", item_id="ig_1",
                        partial_image_b64=base64.b64encode(partial).decode())
            + event_bytes("response.output_item.done", item={
                "id": "ig_1", "type": "image_generation_call",
                "result": base64.b64encode(result).decode()}))
    first, second = EventStream(answer(*split(body, [4000, 9000])),
                                spool_to=lambda: AtomicFile(folder))
    assert isinstance(first, PartialImage) and isinstance(second, OutputItemDone)
    return first, second


@pytest.mark.parametrize("result", [
    IMAGE[:5000] + b"!" + IMAGE[5001:],  # differs half-way
    b"?" + IMAGE[1:],  # differs at once
    IMAGE[:-7],  # shorter
    IMAGE + b"more",  # longer
], ids=["middle", "first-byte", "shorter", "longer"])
def test_a_result_unlike_the_partial_gets_its_own_file(tmp_path: Path, result: bytes) -> None:
    """A result that differs from the last partial image is written whole, to its own
    file, and the partial image's file is left as it was."""
    partial, done = result_after_partial(tmp_path, IMAGE, result)
    assert partial.spooled is not None and done.spooled is not None
    assert done.spooled.same_as is None
    kept = partial.spooled.take()
    own = done.spooled.take(holding=kept)
    assert kept is not None and own is not None and own is not kept
    assert own.commit(tmp_path / "result.png", overwrite=False).read_bytes() == result
    assert kept.commit(tmp_path / "partial.png", overwrite=False).read_bytes() == IMAGE


def test_an_identical_result_taken_alone_is_a_copy(tmp_path: Path) -> None:
    """Taken without the partial image's file in hand, an identical result is a copy of
    it (made then, from that file), so either can be kept or dropped."""
    partial, done = result_after_partial(tmp_path, IMAGE, IMAGE)
    assert partial.spooled is not None and done.spooled is not None
    copy = done.spooled.take()
    assert copy is not None and copy is not partial.spooled.file
    partial.spooled.discard()
    assert copy.commit(tmp_path / "copy.png", overwrite=False).read_bytes() == IMAGE
    assert temp_files(tmp_path) == []


def test_event_end_is_not_held_back() -> None:
    """Bytes up to an event's blank line pass at once: nothing waits for the next chunk."""
    diverter = PayloadDiverter(lambda: pytest.fail("no payload here"))
    chunk = b'data: {"type": "keepalive"}\n\n'
    assert diverter.feed(chunk) == chunk
    tail = b'data: {"type": "x", "partial_ima'
    passed = diverter.feed(tail)
    assert tail.startswith(passed) and len(passed) < len(tail)  # a possible key is held
    assert passed + diverter.flush() == tail


def test_escaped_slashes_and_wrapped_lines_are_undone(tmp_path: Path) -> None:
    """JSON's \\/ and \\n inside the base64 string are undone, even split across chunks."""
    b64 = base64.b64encode(IMAGE).decode()
    escaped = (b64[:100] + "\\n" + b64[100:]).replace("/", "\\/")
    raw = b'data: {"partial_image_b64": "' + escaped.encode() + b'"}\n\n'
    diverter = PayloadDiverter(lambda: AtomicFile(tmp_path))
    cut = raw.index(b"\\/") + 1  # between the backslash and the slash
    passed = diverter.feed(raw[:cut]) + diverter.feed(raw[cut:])
    assert passed == b'data: {"partial_image_b64": "@vibeimg-spool:1"}\n\n'
    spooled = diverter.claim("@vibeimg-spool:1")
    assert spooled is not None
    file = spooled.take()
    assert file is not None
    assert file.commit(tmp_path / "out.png", overwrite=False).read_bytes() == IMAGE


@pytest.mark.parametrize("bad", ["QUJD!!!!", "QUJ", "QQ==QUJD", "QUJD\\x"])
def test_corrupt_payload_is_refused_and_leaves_no_file(tmp_path: Path, bad: str) -> None:
    """Bad base64: the event still passes, its payload raises on take(), no file left."""
    diverter = PayloadDiverter(lambda: AtomicFile(tmp_path))
    passed = diverter.feed(b'data: {"result": "' + bad.encode() + b'"}\n\n')
    assert passed.endswith(b'"}\n\n')
    spooled = diverter.claim("@vibeimg-spool:1")
    assert spooled is not None
    with pytest.raises(BadResponseError, match="not valid base64"):
        spooled.take()
    assert temp_files(tmp_path) == []


def test_cut_stream_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A stream that stops inside a payload: its temporary file is removed."""
    b64 = base64.b64encode(IMAGE)
    cut = b'event: x\ndata: {"type": "x", "partial_image_b64": "' + b64[:500]
    stream = EventStream(answer(cut), spool_to=lambda: AtomicFile(tmp_path))
    assert list(stream) == []
    assert temp_files(tmp_path) == []


def test_unclaimed_payloads_are_removed(tmp_path: Path) -> None:
    """Payloads in events nobody read (the reader stopped early) are cleaned up."""
    b64 = base64.b64encode(IMAGE).decode()
    body = b"".join(event_bytes("response.output_item.done",
                                item={"type": "image_generation_call", "result": b64})
                    for _ in range(3))
    events = iter(EventStream(answer(body), spool_to=lambda: AtomicFile(tmp_path)))
    first = next(events)
    assert isinstance(first, OutputItemDone) and first.spooled is not None
    first.spooled.discard()
    events.close()  # type: ignore[attr-defined]
    assert temp_files(tmp_path) == []


def test_decoder_refuses_data_after_padding() -> None:
    """Padding ends the image: more base64 after it is refused."""
    out = bytearray()
    decoder = Base64Decoder(out.extend)
    decoder.feed(b"QQ==")
    with pytest.raises(BadResponseError, match="after padding"):
        decoder.feed(b"QUJD")
