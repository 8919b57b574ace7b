"""The streamed decoder of the base64 image inside a JSON answer."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeimg.errors import BadResponseError
from vibeimg.wire.imagejson import ImageJsonDecoder


def decode(body: bytes, cut_points: list[int] | None = None) -> tuple[bytes, ImageJsonDecoder]:
    out = bytearray()
    decoder = ImageJsonDecoder(out.extend)
    points = sorted({p for p in (cut_points or []) if 0 < p < len(body)})
    start = 0
    for point in [*points, len(body)]:
        decoder.feed(body[start:point])
        start = point
    decoder.close()
    return bytes(out), decoder


@settings(max_examples=200, deadline=None)
@given(
    image=st.binary(min_size=0, max_size=400),
    cuts=st.lists(st.integers(min_value=0, max_value=1200), max_size=12),
    before=st.booleans(),
    prompt=st.text(max_size=40),
    use_url=st.booleans(),
)
def test_any_chunking_gives_the_same_bytes_and_metadata(
    image: bytes, cuts: list[int], before: bool, prompt: str, use_url: bool
) -> None:
    """Whatever the chunk boundaries and field order, the image and metadata match json's."""
    encoded = base64.b64encode(image).decode()
    value = f"data:image/png;base64,{encoded}" if use_url else encoded
    item = {"url" if use_url else "b64_json": value, "revised_prompt": prompt}
    doc = {"usage": {"total_tokens": 3}, "data": [item]} if before else {"data": [item],
                                                                          "created": 1}
    body = json.dumps(doc).encode()
    out, decoder = decode(body, cuts)
    assert out == image
    assert decoder.metadata["data"][0]["revised_prompt"] == prompt
    assert decoder.media_type == ("image/png" if use_url else None)


def test_escaped_slashes_and_wrapped_lines_are_accepted() -> None:
    """JSON encoders that write \\/ or wrap base64 with \\n still decode correctly."""
    image = bytes(range(256)) * 3
    encoded = base64.b64encode(image).decode()
    wrapped = "\\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    body = ('{"data": [{"b64_json": "' + wrapped.replace("/", "\\/") + '"}]}').encode()
    for step in (1, 7, 64):
        out, _ = decode(body, list(range(step, len(body), step)))
        assert out == image


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": [{"b64_json": "iVBO!!RK"}]}', "not valid base64"),
        (b'{"data": [{"b64_json": "iVBORw0KGgo', "ends inside the image"),
        (b'{"data": [{"b64_json": "iVBORw0KGg"}]}', "cut short"),
        (b'{"data": [{"b64_json": "iV==BORw"}]}', "padding"),
        (b'{"data": [{"b64_json": "iVBORw=="}], ', "not valid JSON"),
        (b'{"data": []}', "holds no image"),
        (b"[1, 2]", "not a JSON object"),
        (b"<html>Bad gateway</html>", "not valid JSON"),
    ],
)
def test_malformed_answers_are_refused(body: bytes, message: str) -> None:
    """Corrupt base64, cut bodies and foreign documents raise BadResponseError."""
    with pytest.raises(BadResponseError, match=message):
        decode(body)


def test_http_link_is_reported_instead_of_decoded() -> None:
    """A url that is a real link (OpenAI style) is returned for download, not decoded."""
    out, decoder = decode(b'{"data": [{"url": "https://example.test/a.png"}]}', [10, 30])
    assert out == b""
    assert decoder.link == "https://example.test/a.png"
