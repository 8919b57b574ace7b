"""Strict base64 decoding at the lenient decoder's speed."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vibeimg.errors import BadResponseError
from vibeimg.wire.b64stream import Base64Decoder, decode_block


@given(st.binary(max_size=300))
def test_valid_base64_decodes_exactly(data: bytes) -> None:
    """Every valid encoding decodes to its bytes."""
    assert decode_block(base64.b64encode(data)) == data


@given(st.binary(min_size=1, max_size=300), st.data())
def test_anything_strict_mode_refuses_is_refused(data: bytes, draw: st.DataObject) -> None:
    """Inserting characters outside the alphabet always raises, never skips.

    Stricter than Python 3.11's own strict mode, which takes a stray ``=`` after a
    whole group (``AAAA=``): such an answer is refused too.
    """
    encoded = base64.b64encode(data)
    junk = draw.draw(st.binary(min_size=1, max_size=8).filter(
        lambda b: b.translate(None, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                              b"0123456789+/") != b""))
    at = draw.draw(st.integers(0, len(encoded)))
    corrupt = encoded[:at] + junk + encoded[at:]
    with pytest.raises(BadResponseError):
        decode_block(corrupt)


@pytest.mark.parametrize("text", [b"AAAA=", b"AAAAAAAAAAAA==", b"AA=A", b"AAAA\n"])
def test_stray_padding_and_line_breaks_are_refused(text: bytes) -> None:
    """Padding after a whole group, inside one, or a line break: refused, not skipped."""
    with pytest.raises(BadResponseError):
        decode_block(text)


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 7])
def test_pieces_and_json_escapes(cut: int) -> None:
    """Pieces may split groups and escapes; \\/ and \\n are undone, others refused."""
    data = bytes(range(256))
    encoded = base64.b64encode(data).replace(b"/", b"\\/")
    out = bytearray()
    decoder = Base64Decoder(out.extend)
    for start in range(0, len(encoded), cut):
        decoder.feed(encoded[start : start + cut])
    decoder.close()
    assert bytes(out) == data
    with pytest.raises(BadResponseError, match="unexpected escape"):
        Base64Decoder(out.extend).feed(b"AAAA\\tAAA")
