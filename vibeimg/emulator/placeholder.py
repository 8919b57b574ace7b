"""Deterministic placeholder images: the prompt written on a colour drawn from it."""

from __future__ import annotations

import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

from vibeimg.params import Size

_SAVE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def colour_for(text: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    # Keep it mid-bright so that white text stays readable.
    return (40 + digest[0] % 150, 40 + digest[1] % 150, 40 + digest[2] % 150)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_text(image: Image.Image, text: str, *, label: str = "") -> None:
    """Write ``text`` (wrapped) and a small ``label`` on ``image``, in place."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    font_size = max(12, min(width, height) // 24)
    font = _font(font_size)
    columns = max(10, int(width / (font_size * 0.6)) - 4)
    lines = textwrap.wrap(" ".join(text.split()), columns)[:12]
    y = height // 2 - len(lines) * font_size * 6 // 10
    for line in lines:
        draw.text((width // 2, y), line, fill=(255, 255, 255), font=font, anchor="ma")
        y += font_size * 12 // 10
    if label:
        draw.text((font_size, font_size), label, fill=(255, 255, 255), font=_font(font_size // 2))


def encode(image: Image.Image, output_format: str, compression: int | None) -> bytes:
    """Encode like the gateway: png, or jpeg/webp at quality 100 - compression."""
    buffer = io.BytesIO()
    if output_format == "png":
        image.save(buffer, "PNG", compress_level=1)
    else:
        quality = 100 - compression if compression is not None else 90
        image.convert("RGB").save(buffer, _SAVE_FORMATS[output_format], quality=max(1, quality))
    return buffer.getvalue()


def placeholder(
    prompt: str, size: Size, output_format: str, compression: int | None, *, label: str = ""
) -> bytes:
    """An image of ``size`` in ``output_format`` with the prompt drawn on it."""
    image = Image.new("RGB", (size.width, size.height), colour_for(prompt))
    draw_text(image, prompt, label=label)
    return encode(image, output_format, compression)
