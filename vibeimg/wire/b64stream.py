"""Decode base64 that arrives in pieces, as it appears inside a JSON string.

Shared by the image endpoints' JSON answers (:mod:`vibeimg.wire.imagejson`) and the
Responses event stream (:mod:`vibeimg.wire.payloadspool`). Decoding is strict: a character
outside the alphabet, misplaced padding or a cut-short string raises, so a corrupt
payload never becomes a file.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

import pybase64

from vibeimg.errors import BadResponseError

_CORRUPT_HINT = "the gateway sent a corrupt image; try again"


def decode_block(data: bytes) -> bytes:
    """Decode whole 4-character groups strictly (anything else is refused).

    pybase64's strict mode runs at several GB/s where ``binascii`` manages about
    450 MB/s: a 4K image's 33 MB of base64 decodes in about 5 ms instead of 70.
    """
    try:
        return pybase64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise BadResponseError(
            "the image is not valid base64 (a character outside the alphabet or misplaced "
            "padding)", hint=_CORRUPT_HINT,
        ) from exc


class Base64Decoder:
    """Decode a base64 string fed in pieces into ``sink``.

    JSON may escape ``/`` as ``\\/`` and wrap lines with ``\\n``: both are undone; any
    other escape is refused. Pieces may split a 4-character group or an escape.
    """

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self._sink = sink
        self._carry = b""  # fewer than 4 characters, waiting for the rest of their group
        self._backslash = b""  # an escape cut in two by a piece boundary
        self._padded = False

    def feed(self, piece: bytes) -> None:
        if self._backslash or b"\\" in piece:
            piece = self._unescape(self._backslash + piece)
        data = self._carry + piece if self._carry else piece
        usable = len(data) - len(data) % 4
        self._carry = data[usable:]
        if usable:
            if self._padded:
                raise BadResponseError("the image is not valid base64 (data after padding)",
                                       hint=_CORRUPT_HINT)
            self._padded = data[usable - 1 : usable] == b"="
            self._sink(decode_block(data[:usable] if self._carry else data))

    def _unescape(self, piece: bytes) -> bytes:
        self._backslash = b""
        if (len(piece) - len(piece.rstrip(b"\\"))) % 2:
            piece, self._backslash = piece[:-1], b"\\"
        piece = piece.replace(b"\\/", b"/").replace(b"\\n", b"").replace(b"\\r", b"")
        if b"\\" in piece:
            raise BadResponseError("the image is not valid base64 (an unexpected escape)",
                                   hint=_CORRUPT_HINT)
        return piece

    def close(self) -> None:
        if self._carry or self._backslash:
            raise BadResponseError("the image is not valid base64 (cut short: its length is "
                                   "not a multiple of 4)", hint=_CORRUPT_HINT)
