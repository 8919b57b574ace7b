"""Fonts for the placeholder's text: draw the prompt readably, or not at all.

Pillow's built-in font covers little beyond ASCII: a Chinese prompt, an accent or an
emoji would come out as rows of empty boxes (the font's ``.notdef`` glyph). So each
prompt gets the first font that can draw all of it, from a chain: Pillow's built-in
font (the same on every machine, so ASCII prompts draw the same bytes everywhere),
then a general font and CJK-capable fonts when the system has them. Characters the
chosen font still lacks are left out (a run of them becomes an ellipsis); when nothing
drawable is left, a short label with the prompt's hash is drawn instead. A glyph is
"lacking" when the font draws it exactly as it draws a code point no font maps.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

BUILT_IN = "<pillow>"
#: Fonts with wide coverage (Latin with accents, Greek, Cyrillic...), where they live.
GENERAL_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
#: Fonts that draw Chinese, Japanese and Korean, where the usual systems keep them.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
    "C:/Windows/Fonts/meiryo.ttc",
    "C:/Windows/Fonts/malgun.ttf",
)
_PROBE_SIZE = 16  # coverage does not depend on the size drawn at
_UNMAPPED = "\U0010ffff"  # a noncharacter: every font draws it as its .notdef glyph
_INVISIBLE = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")  # variation selectors
MAX_CHARS = 600  # of a prompt laid out: twelve lines never hold more


@lru_cache(maxsize=1)
def font_chain() -> tuple[str, ...]:
    """The fonts to choose from, in order: the built-in one, then those installed."""
    installed = [p for p in (*GENERAL_FONTS, *CJK_FONTS) if Path(p).is_file()]
    return (BUILT_IN, *installed)


@lru_cache(maxsize=64)
def load_font(source: str, size: int) -> Font:
    """A font of the chain at ``size`` pixels (Pillow's bitmap font without FreeType)."""
    if source == BUILT_IN:
        try:
            return ImageFont.load_default(size=size)
        except (TypeError, OSError, ImportError):  # Pillow built without FreeType
            return ImageFont.load_default()
    return ImageFont.truetype(source, size)


def _glyph(font: Font, char: str) -> tuple[tuple[int, int], bytes]:
    """The pixels ``font`` draws for ``char``, cropped to their box."""
    left, top, right, bottom = (int(edge) for edge in font.getbbox(char))
    canvas = Image.new("L", (max(1, right - left), max(1, bottom - top)))
    ImageDraw.Draw(canvas).text((-left, -top), char, font=font, fill=255)
    return canvas.size, canvas.tobytes()


@lru_cache(maxsize=8192)
def covers(source: str, char: str) -> bool:
    """Whether the font draws ``char`` as a glyph of its own, not its .notdef box."""
    if char.isspace():
        return True
    try:
        font = load_font(source, _PROBE_SIZE)
        return _glyph(font, char) != _glyph(font, _UNMAPPED)
    except (OSError, ValueError, UnicodeError):  # a broken font file, a char it refuses
        return False


def clean(text: str) -> str:
    """The prompt as it is drawn: composed (NFC), on one line, without invisible marks."""
    text = unicodedata.normalize("NFC", text[: MAX_CHARS * 2])
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc", "Cs"))
    return " ".join(_INVISIBLE.sub("", text).split())[:MAX_CHARS]


def choose_font(text: str) -> str:
    """The first font of the chain that draws every character, else the one drawing most."""
    chars = {c for c in text if not c.isspace()}
    best, best_count = BUILT_IN, -1
    for source in font_chain():
        count = sum(covers(source, c) for c in chars)
        if count == len(chars):
            return source
        if count > best_count:
            best, best_count = source, count
    return best


def drawable(text: str, source: str) -> str:
    """``text`` with what the font cannot draw left out: each run of such characters
    becomes one ellipsis (or three dots), so that nothing is drawn as a box."""
    gap = "…" if covers(source, "…") else "..."
    out: list[str] = []
    for char in text:
        if covers(source, char):
            out.append(char)
        elif not out or out[-1] != gap:
            out.append(gap)
    return " ".join("".join(out).split())


def fallback_label(text: str) -> str:
    """What is drawn for a prompt with nothing drawable: its length and a short hash."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"prompt #{digest} ({len(text)} characters this system has no font for)"


@dataclass(frozen=True)
class DrawableText:
    """A prompt as the placeholder draws it: the font chosen and the text it can draw."""

    source: str
    text: str


def drawable_text(prompt: str) -> DrawableText:
    """The font and the text to draw for ``prompt``; never a character the font lacks."""
    text = clean(prompt)
    source = choose_font(text)
    shown = drawable(text, source)
    if not shown.replace("…", "").replace("...", "").strip():
        return DrawableText(BUILT_IN, fallback_label(prompt) if prompt.strip() else "")
    return DrawableText(source, shown)
