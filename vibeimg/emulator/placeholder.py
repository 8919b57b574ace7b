"""Deterministic placeholder images: the prompt written on a colour drawn from it.

Or, when the request carried an image (an edit, a later turn of a conversation), on
that image scaled to the asked size: the answer visibly builds on its input.

Drawing must never be what slows a run against the emulator down, so the costly
parts are cached: the encoded answer per (prompt, size, format, compression, label,
background), and the scaled background per (input image, size). Latency counts from
the request's arrival (:meth:`.routing.RecordedRequest.wait_for_latency`), so the
drawing happens inside it. The text is laid out by :mod:`.glyphs`: only characters
the chosen font can draw are drawn.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from vibeimg.emulator.contract import Size
from vibeimg.emulator.glyphs import Font, drawable_text, load_font

_SAVE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MAX_LINES = 12
_FONTS_LOCK = threading.Lock()
WHITE = (255, 255, 255)
SHADOW = (0, 0, 0)


def colour_for(text: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    # Keep it mid-bright so that white text stays readable.
    return (40 + digest[0] % 150, 40 + digest[1] % 150, 40 + digest[2] % 150)


def _break_word(word: str, font: Font, width: float) -> list[str]:
    """A word wider than the line (or a run of CJK, which has no spaces), cut to fit."""
    pieces, piece = [], ""
    for char in word:
        if piece and font.getlength(piece + char) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece] if piece else pieces


def wrap(text: str, font: Font, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels, at most MAX_LINES of them."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        *full, line = _break_word(word, font, width) or [""]
        lines.extend(full)
        if len(lines) > MAX_LINES:
            break
    if line:
        lines.append(line)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][:-1] + "…" if len(lines[-1]) > 1 else "…"
    return lines


def layout(text: str, size: tuple[int, int]) -> tuple[Font, list[str], int]:
    """The font, the lines and the font size ``text`` is drawn with on an image of ``size``."""
    width, height = size
    font_size = max(12, min(width, height) // 24)
    shown = drawable_text(text)
    font = load_font(shown.source, font_size)
    return font, wrap(shown.text, font, width - 4 * font_size), font_size


def draw_text(image: Image.Image, text: str, *, label: str = "") -> None:
    """Write ``text`` (wrapped, centred) and a small ``label`` on ``image``, in place.

    A thin dark outline keeps white text readable on any background (an input image).
    """
    draw = ImageDraw.Draw(image)
    width, height = image.size
    with _FONTS_LOCK:  # the cached fonts are shared, and FreeType faces are not thread-safe
        font, lines, font_size = layout(text, image.size)
        outline = max(1, font_size // 16)
        y = height // 2 - len(lines) * font_size * 6 // 10
        for line in lines:
            draw.text((width // 2, y), line, fill=WHITE, font=font, anchor="ma",
                      stroke_width=outline, stroke_fill=SHADOW)
            y += font_size * 12 // 10
        if label:
            small, _, small_size = layout(label, (width // 2, height // 2))
            draw.text((font_size, font_size), label, fill=WHITE, font=small,
                      stroke_width=max(1, small_size // 16), stroke_fill=SHADOW)


def encode(image: Image.Image, output_format: str, compression: int | None) -> bytes:
    """Encode like the gateway: png, or jpeg/webp at quality 100 - compression.

    The cheapest settings that stay faithful: run-length zlib for PNG (a placeholder is
    mostly flat, so it is smaller too) and WebP's fastest method.
    """
    buffer = io.BytesIO()
    if output_format == "png":
        image.save(buffer, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
        return buffer.getvalue()
    quality = max(1, 100 - compression if compression is not None else 90)
    rgb = image.convert("RGB")
    if output_format == "webp":
        rgb.save(buffer, "WEBP", quality=quality, method=0)
    else:
        rgb.save(buffer, _SAVE_FORMATS[output_format], quality=quality)
    return buffer.getvalue()


class _Cache:
    """A least-recently-used cache bounded by the bytes it holds, safe across threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, weight: int) -> None:
        if weight > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, weight)
            self._held += weight
            while self._held > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._held -= dropped


#: Encoded answers: a flat 1024x1024 PNG is about 20 kB, so thousands fit.
_ANSWERS = _Cache(64 * 1024 * 1024)
#: Input images scaled to a size, as raw pixels: a 4K one is 25 MB.
_BACKGROUNDS = _Cache(128 * 1024 * 1024)


def _fitted(data: bytes, digest: str, size: Size) -> Image.Image:
    """An input image scaled and cropped to ``size`` (cached: a conversation resends it)."""
    key = (digest, size)
    fitted: Image.Image | None = _BACKGROUNDS.get(key)
    if fitted is None:
        with Image.open(io.BytesIO(data)) as opened:
            base = opened.convert("RGB")
        fitted = ImageOps.fit(base, (size.width, size.height), Image.Resampling.BILINEAR)
        _BACKGROUNDS.put(key, fitted, size.width * size.height * 3)
    return fitted


def placeholder(
    prompt: str, size: Size, output_format: str, compression: int | None, *, label: str = "",
    background: bytes | None = None,
) -> bytes:
    """An image of ``size`` in ``output_format`` with the prompt drawn on it: on a flat
    colour drawn from the prompt, or on ``background`` (an encoded image) scaled to fit."""
    digest = hashlib.sha256(background).hexdigest() if background is not None else None
    key = (prompt, size, output_format, compression, label, digest)
    answer: bytes | None = _ANSWERS.get(key)
    if answer is not None:
        return answer
    if background is None or digest is None:
        image = Image.new("RGB", (size.width, size.height), colour_for(prompt))
    else:
        image = _fitted(background, digest, size).copy()
    draw_text(image, prompt, label=label)
    answer = encode(image, output_format, compression)
    _ANSWERS.put(key, answer, len(answer))
    return answer
