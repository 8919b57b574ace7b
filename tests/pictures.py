"""Small test images made on the fly: masks and photos in every mode and format."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw


def encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def save(path: Path, image: Image.Image, fmt: str | None = None, **params: object) -> Path:
    path.write_bytes(encoded(image, fmt or _format_for(path), **params))
    return path


def _format_for(path: Path) -> str:
    return {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
            ".gif": "GIF", ".bmp": "BMP", ".tif": "TIFF"}[path.suffix.lower()]


def grey_row(values: list[int]) -> Image.Image:
    """A one-row ``L`` image with these grey levels."""
    image = Image.new("L", (len(values), 1))
    image.putdata(values)
    return image


def photo(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)
          ) -> Image.Image:
    """An RGB picture with some structure (a square of another colour)."""
    image = Image.new("RGB", size, colour)
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 4, h // 4, w // 2, h // 2), fill=(20, 180, 40))
    return image


def alpha_mask(size: tuple[int, int] = (64, 48), hole: tuple[int, int, int, int] | None = None
               ) -> Image.Image:
    """An opaque RGBA mask with a transparent rectangle (the area to repaint)."""
    w, h = size
    hole = hole or (0, h // 2, w // 2 - 1, h - 1)
    image = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(image).rectangle(hole, fill=(0, 0, 0, 0))
    return image


def bw_mask(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A black-and-white drawing (``L``): white kept, a black rectangle to repaint."""
    w, h = size
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle((0, h // 2, w // 2 - 1, h - 1), fill=0)
    return image


def alpha_of(data: bytes | Path) -> bytes:
    """The alpha channel of an encoded image, as bytes."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return Image.open(io.BytesIO(raw)).convert("RGBA").getchannel("A").tobytes()


def with_dimensions(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims other dimensions (CRC fixed): a decompression bomb."""
    header = struct.pack(">II", width, height) + png[24:29]
    chunk = b"IHDR" + header
    return png[:8] + struct.pack(">I", 13) + chunk + struct.pack(
        ">I", zlib.crc32(chunk) & 0xFFFFFFFF) + png[33:]
