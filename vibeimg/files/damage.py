"""What is wrong with a file that starts as a PNG, JPEG or WebP yet does not read.

Pillow says "cannot identify image file" of a PNG whose header chunk fails its
checksum, and "Truncated File Read" or "could not create decoder object" of a file cut
short: a person fixing it needs to hear that it is a damaged image of its format
(truncated or corrupt), not that it is no image, and which PNG chunk is broken.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from vibeimg.files.formats import sniff_format

#: The formats an input may be, by the name sniff_format gives, as people write them.
FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REEXPORT = "re-export it from the program that made it, or copy it again whole"


def damage(head: bytes, read_all: Callable[[], bytes]) -> str | None:
    """``is a damaged PNG: ...`` for a file whose first bytes (``head``) are those of an
    input format; None for bytes of no such format (then it is "not an image").

    ``read_all`` gives the whole file, read only for a PNG, to find its broken chunk.
    The decoder's own words ("Truncated File Read", "could not create decoder object")
    tell a person nothing more, so they are left out.
    """
    fmt = sniff_format(head)
    if fmt not in FORMAT_NAMES:
        return None
    found = _png_damage(read_all()) if fmt == "png" else None
    if found is not None:
        return f"is a damaged PNG: {found}"
    return f"is a damaged {FORMAT_NAMES[fmt]}: truncated or corrupt"


def _png_damage(data: bytes) -> str | None:
    """The first broken chunk of the PNG ``data``, in words; None when every chunk to
    IEND is whole with its right checksum."""
    at = len(PNG_SIGNATURE)
    while True:
        if at + 8 > len(data):
            return "it ends before its last chunk (truncated or corrupt)"
        length = int.from_bytes(data[at:at + 4], "big")
        cid = data[at + 4:at + 8]
        if not (cid.isascii() and cid.isalpha()):  # a chunk's name is four letters
            return f"byte {at} should start a chunk but does not (corrupt)"
        name, end = cid.decode("ascii"), at + 12 + length
        if end > len(data):
            return f"it ends inside its {name} chunk (truncated or corrupt)"
        stored = int.from_bytes(data[end - 4:end], "big")
        if zlib.crc32(data[at + 4:end - 4]) != stored:
            return f"the checksum of its {name} chunk fails (truncated or corrupt)"
        if cid == b"IEND":
            return None
        at = end
