"""Image formats from their bytes: sniff the real format, read the pixel size from the header."""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

from vibeimg.errors import UsageError

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif"}
KNOWN_SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


def sniff_format(head: bytes) -> str | None:
    """The image format of these first bytes (png, jpeg, webp, gif), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


#: Pillow's reader for each format sniff_format names: importing just the one needed
#: spares loading every plugin Pillow has (its fallback for a file named ``.part``).
_PLUGINS = {"png": "PngImagePlugin", "jpeg": "JpegImagePlugin", "webp": "WebPImagePlugin",
            "gif": "GifImagePlugin"}


def pixel_size(source: Path | IO[bytes], fmt: str) -> str | None:
    """``WIDTHxHEIGHT`` of an image in format ``fmt``, from its header alone.

    Pillow's ``Image.open`` reads the header and no pixels, so this is cheap even for
    a 4K image. None when the header cannot be read: the size is then unknown, which
    must never stop an image from being saved.
    """
    if fmt == "png":  # the usual case: the size is in the first chunk, no Pillow needed
        size = _png_size(source)
        if size is not None:
            return size
    plugin = _PLUGINS.get(fmt)
    if plugin is None:
        return None
    import importlib  # noqa: PLC0415 - Pillow only once an image has arrived

    from PIL import Image  # noqa: PLC0415 - Pillow once an image arrived

    importlib.import_module(f"PIL.{plugin}")
    try:
        with Image.open(source, formats=[fmt.upper()]) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return f"{width}x{height}"


def _png_size(source: Path | IO[bytes]) -> str | None:
    """A PNG's ``WxH`` from its IHDR chunk, which must come first (bytes 8 to 24)."""
    if isinstance(source, Path):
        try:
            with source.open("rb") as file:
                head = file.read(24)
        except OSError:
            return None
    else:
        start = source.tell()
        head = source.read(24)
        source.seek(start)
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return f"{width}x{height}" if width and height else None


#: More pixels than this is a decompression bomb (Pillow's own default threshold).
MAX_INPUT_PIXELS = 89_478_485


def too_many_pixels(subject: str, detail: str) -> UsageError:
    """``subject`` (``the image bomb.png``) refused as a decompression bomb; ``detail``
    is its size (``20000x20000``) or :func:`bomb_pixels` of Pillow's refusal. The one
    limit quoted is the one vibeimg applies (Pillow's own refusal comes at twice it)."""
    size = f"{detail}; " if detail else ""
    return UsageError(
        f"{subject} would decode to too many pixels ({size}at most {MAX_INPUT_PIXELS:,} "
        "are allowed): it looks like a decompression bomb", hint="use a smaller image")


def bomb_pixels(exc: BaseException) -> str:
    """The pixel count in Pillow's DecompressionBombError (``400,000,000``; empty if it
    says none), which also quotes Pillow's own limit: only the image's size is kept."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(found.group(1)):,}" if found else ""
