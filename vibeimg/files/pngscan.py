"""A PNG checked as Pillow's ``open`` and ``verify`` check it, without loading Pillow.

:func:`scan_png` reads the file once, a block at a time (a 50 MB input is never held
whole), and refuses what Pillow refuses: no PNG signature, a first chunk that is not a
whole IHDR, a chunk name that is not four letters or digits, a chunk cut short, any
chunk whose CRC is wrong (every chunk but IEND's, whose CRC ``verify`` does not read
either), and the checks Pillow's readers make of the chunks before the image data
(lengths of gAMA, cHRM, sRGB, pHYs and tRNS; compression methods and sizes of iCCP,
zTXt and iTXt; a filter method other than 0). An image whose colour type and bit depth
Pillow does not know, or of no pixels, is not one Pillow opens. Animated PNGs, whose
frame chunks Pillow checks in ways of their own, are left to Pillow (:class:`Unsure`).

Each error is the exception Pillow raises for the same problem, with its words, so
that the caller reports both paths alike. ``digest``, when given, receives every byte
of the file (the SHA-256 an edit's sidecar records), so the file is read only once.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BLOCK = 1 << 20  # bytes read at a time
MAX_TEXT_CHUNK = 1 << 20  # Pillow's limit on a decompressed text or ICC chunk
MAX_TEXT_MEMORY = 64 << 20  # Pillow's limit on all the text of one image
#: Pillow's modes by (bit depth, colour type).
MODES = {
    (1, 0): "1", (2, 0): "L", (4, 0): "L", (8, 0): "L", (16, 0): "I;16",
    (8, 2): "RGB", (16, 2): "RGB",
    (1, 3): "P", (2, 3): "P", (4, 3): "P", (8, 3): "P",
    (8, 4): "LA", (16, 4): "RGBA",
    (8, 6): "RGBA", (16, 6): "RGBA",
}
#: The shortest a chunk Pillow reads before the image data may be.
MIN_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
#: Chunks before the image data that Pillow reads with checks of its own (frames of
#: an animated PNG): such a file is checked by Pillow itself.
ANIMATION = (b"acTL", b"fcTL", b"fdAT")
_IS_CID = re.compile(rb"\w\w\w\w").fullmatch


class Unsure(Exception):
    """The file holds chunks whose checks are Pillow's own: let Pillow check it."""


class NotAnImage(Exception):
    """Pillow would not identify the file as an image it can open."""


class TooManyPixels(Exception):
    """The header claims more pixels than allowed (a decompression bomb)."""


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    mode: str


class _Reader:
    """The file a block at a time, every byte fed to ``digest`` once."""

    def __init__(self, file: BinaryIO, digest: Any) -> None:
        self._file = file
        self._digest = digest
        self._block = b""
        self._at = 0
        self.pending = 0  # the length of the chunk whose name was read last

    def _fill(self) -> bool:
        block = self._file.read(BLOCK)
        if not block:
            return False
        if self._digest is not None:
            self._digest.update(block)
        self._block, self._at = block, 0
        return True

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes, or fewer at the end of the file."""
        end = self._at + count
        if end <= len(self._block):
            data = self._block[self._at:end]
            self._at = end
            return data
        parts = [self._block[self._at:]]
        got = len(parts[0])
        self._block, self._at = b"", 0
        while got < count and self._fill():
            part = self._block[:count - got]
            self._at = len(part)
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def crc(self, count: int, crc: int) -> int:
        """The CRC of the next ``count`` bytes, passed over without being kept;
        OSError when the file ends first."""
        while count:
            if self._at >= len(self._block) and not self._fill():
                raise OSError("Truncated File Read")
            view = memoryview(self._block)[self._at:self._at + count]
            crc = zlib.crc32(view, crc)
            self._at += len(view)
            count -= len(view)
        return crc

    def drain(self) -> None:
        """Read the rest of the file (for the digest)."""
        self._block, self._at = b"", 0
        if self._digest is not None:
            while self._fill():
                pass


def scan_png(file: BinaryIO, *, digest: Any = None, max_pixels: int | None = None
             ) -> PngHeader:
    """Check the PNG in ``file`` (read from its start to its end); its header.

    Raises NotAnImage (Pillow would not open it), TooManyPixels (more than
    ``max_pixels``, found before the image data is read, as Pillow's open finds it),
    Unsure, or Pillow's exception for the problem (OSError, SyntaxError, ValueError).
    """
    reader = _Reader(file, digest)
    if reader.take(8) != SIGNATURE:
        raise NotAnImage("no PNG signature")
    try:
        header, text = _before_image_data(reader)
    except (SyntaxError, IndexError) as exc:  # Pillow's open: not a PNG it can read
        raise NotAnImage(str(exc)) from exc
    if max_pixels is not None and header.width * header.height > max_pixels:
        raise TooManyPixels(f"{header.width}x{header.height}")
    del text
    _image_data(reader)
    reader.drain()
    return header


def _before_image_data(reader: _Reader) -> tuple[PngHeader, int]:
    """The chunks up to the first image data, checked as Pillow's open reads them; the
    header, and the text held so far. Leaves ``reader`` past the first IDAT's name."""
    header: PngHeader | None = None
    text = 0
    first = True
    while True:
        head = reader.take(8)
        if len(head) < 8:
            raise IndexError("truncated chunk header")
        length, cid = int.from_bytes(head[:4], "big"), head[4:]
        if not _IS_CID(cid):
            raise SyntaxError(f"broken PNG file (chunk {cid!r})")
        if first and cid != b"IHDR":
            raise Unsure("the first chunk is not IHDR")
        first = False
        if cid in ANIMATION:
            raise Unsure("an animated PNG")
        if cid == b"IEND":
            raise OSError("no image data before IEND")
        if cid == b"IDAT":
            assert header is not None
            if not header.mode or header.width <= 0 or header.height <= 0:
                raise NotAnImage("not identified by Pillow's PNG reader")
            reader.pending = length  # the first IDAT's data is read with the rest
            return header, text
        if cid in _READ or cid in MIN_LENGTH:
            data = reader.take(length)
            if len(data) < length:
                raise OSError("Truncated File Read")
            crc = zlib.crc32(data, zlib.crc32(cid))
            if cid == b"IHDR":
                header = _ihdr(data)
            else:
                text += _read_chunk(cid, data, header)
                if text > MAX_TEXT_MEMORY:
                    raise ValueError("Too much memory used in text chunks")
        else:
            crc = reader.crc(length, zlib.crc32(cid))
        _check_crc(reader, cid, crc)


def _image_data(reader: _Reader) -> None:
    """From the first IDAT's data to IEND, every chunk's checksum, as Pillow's verify."""
    length, cid = reader.pending, b"IDAT"
    while True:
        _check_crc(reader, cid, reader.crc(length, zlib.crc32(cid)))
        head = reader.take(8)
        if len(head) < 8:
            raise OSError("truncated PNG file")
        length, cid = int.from_bytes(head[:4], "big"), head[4:]
        if not _IS_CID(cid):
            raise SyntaxError(f"broken PNG file (chunk {cid!r})")
        if cid == b"IEND":
            return


def _check_crc(reader: _Reader, cid: bytes, crc: int) -> None:
    stored = reader.take(4)
    if len(stored) < 4:
        raise SyntaxError(f"broken PNG file (incomplete checksum in {cid!r})")
    if crc != int.from_bytes(stored, "big"):
        raise SyntaxError(f"broken PNG file (bad header checksum in {cid!r})")


def _ihdr(data: bytes) -> PngHeader:
    if len(data) < 13:
        raise ValueError("Truncated IHDR chunk")
    if data[11]:
        raise SyntaxError("unknown filter category")
    width, height = int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")
    return PngHeader(width, height, MODES.get((data[8], data[9]), ""))


def _read_chunk(cid: bytes, data: bytes, header: PngHeader | None) -> int:
    """The checks Pillow's reader of ``cid`` makes; the text it holds, in bytes."""
    minimum = MIN_LENGTH.get(cid)
    if minimum is not None and len(data) < minimum:
        raise ValueError(f"Truncated {cid.decode()} chunk")
    if cid == b"tRNS" and header is not None and header.mode in ("1", "L", "I;16", "RGB"):
        if len(data) < (6 if header.mode == "RGB" else 2):
            raise ValueError("Truncated tRNS chunk")
    elif cid == b"iCCP":
        at = data.find(b"\0")  # -1 without one: Pillow reads on from the first byte
        method = data[at + 1]  # IndexError when there is none: not an image it opens
        if method != 0:
            raise SyntaxError(f"Unknown compression method {method} in iCCP chunk")
        _inflate(data[at + 2:])
    elif cid == b"tEXt":
        key, _, value = data.partition(b"\0")
        return len(value) if key else 0
    elif cid == b"zTXt":
        key, _, value = data.partition(b"\0")
        if value and value[0] != 0:
            raise SyntaxError(f"Unknown compression method {value[0]} in zTXt chunk")
        inflated = _inflate(value[1:])
        return len(inflated or b"") if key else 0
    elif cid == b"iTXt":
        return _itxt(data)
    return 0


def _itxt(data: bytes) -> int:
    key, sep, rest = data.partition(b"\0")
    if not sep or len(rest) < 2:
        return 0
    flag, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\0", 2)
    if len(parts) < 3:
        return 0
    value: bytes | None = parts[2]
    if flag != 0:
        if method != 0:
            return 0
        value = _inflate(parts[2])
        if value is None:
            return 0
    assert value is not None
    try:
        key.decode("latin-1")
        parts[0].decode("utf-8")
        parts[1].decode("utf-8")
        return len(value.decode("utf-8"))
    except UnicodeError:
        return 0


def _inflate(data: bytes) -> bytes | None:
    """Pillow's bounded decompression: ValueError past its limit, None when the data is
    not zlib (which Pillow lets pass)."""
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(data, MAX_TEXT_CHUNK)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:
        raise ValueError("Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK")
    return plain


#: Chunks read whole before the image data (to be checked, or counted as text).
_READ = frozenset({b"IHDR", b"tRNS", b"iCCP", b"tEXt", b"zTXt", b"iTXt"})
