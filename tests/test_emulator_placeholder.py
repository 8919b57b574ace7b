"""The placeholder: deterministic, drawn fast from a cache, and its text always readable.

"Readable" is checked glyph by glyph, independently of how the emulator chose: each
character drawn must render in its font differently from a code point no font maps
(which every font draws as its .notdef box). So no prompt, in any language, comes out
as rows of empty boxes.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from vibeimg.emulator import glyphs
from vibeimg.emulator.contract import Size
from vibeimg.emulator.glyphs import Font
from vibeimg.emulator.placeholder import colour_for, layout, placeholder

OTTER_ZH = "一只水彩风格的水獭"
OTTER_EMOJI = "🦦"
NOTDEF = "\U0010ffff"


def is_tofu(font: Font, char: str) -> bool:
    """Whether ``font`` draws ``char`` as its .notdef box."""
    def glyph(c: str) -> bytes:
        canvas = Image.new("L", (200, 200))
        ImageDraw.Draw(canvas).text((50, 50), c, font=font, fill=255)
        return canvas.tobytes()
    return glyph(char) == glyph(NOTDEF)


def drawn_text(prompt: str, size: tuple[int, int] = (1024, 1024)) -> tuple[Font, str]:
    """The font and the text drawn, its lines joined with newlines."""
    font, lines, _ = layout(prompt, size)
    return font, "\n".join(lines)


def without_spaces(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("prompt", [
    OTTER_ZH, OTTER_EMOJI, "an otter 🦦 in a hat", "café crème, naïve façade",
    "Ψυχή and Москва", "水獭 otter", "\u200d\ufe0f", "a\u0301bc", "🦦" * 500,
])
def test_no_drawn_glyph_is_a_box(prompt: str) -> None:
    """Whatever the prompt, every character drawn is one its font has a glyph for."""
    font, text = drawn_text(prompt)
    assert text.strip(), "something readable is always drawn"
    assert [c for c in text if not c.isspace() and is_tofu(font, c)] == []


def test_a_prompt_no_font_can_draw_gets_a_label() -> None:
    """Only emoji (no font here draws them): a short label with the prompt's hash."""
    _, text = drawn_text(OTTER_EMOJI)
    assert text.startswith("prompt #") and "1 characters" in text
    assert drawn_text(OTTER_EMOJI)[1] != drawn_text("🐟")[1]  # the hash tells them apart


def test_chinese_is_drawn_whole_with_a_cjk_font_or_labelled() -> None:
    """The Chinese prompt is drawn whole when the system has a CJK font, else labelled."""
    has_cjk = any(Path(p).is_file() for p in glyphs.CJK_FONTS)
    _, text = drawn_text(OTTER_ZH)
    expected = OTTER_ZH if has_cjk else glyphs.fallback_label(OTTER_ZH)
    assert without_spaces(text) == without_spaces(expected)


def test_undrawable_runs_become_an_ellipsis() -> None:
    """Characters the font lacks are left out, each run marked once."""
    source = glyphs.choose_font("an otter 🦦🦦 in a hat")
    assert glyphs.drawable("an otter 🦦🦦 in a hat", source) in (
        "an otter … in a hat", "an otter ... in a hat")


@pytest.mark.skipif(not any(Path(p).is_file() for p in glyphs.GENERAL_FONTS),
                    reason="no general font (such as DejaVu Sans) on this system")
def test_a_wider_font_is_chosen_when_the_built_in_one_lacks_glyphs() -> None:
    """Accents, Greek and Cyrillic: a font from the chain draws them all."""
    prompt = "café Ψυχή Москва"
    assert glyphs.choose_font(prompt) != glyphs.BUILT_IN
    assert drawn_text(prompt)[1].replace("\n", " ") == prompt


def test_ascii_prompts_use_the_built_in_font() -> None:
    """ASCII is drawn with Pillow's own font, the same on every machine."""
    assert glyphs.choose_font("a red fox") == glyphs.BUILT_IN


def test_long_text_wraps_inside_the_image() -> None:
    """Words and runs without spaces (CJK) wrap to the width, at most 12 lines."""
    for prompt in ("otter " * 400, "獭" * 2000, "x" * 3000):
        font, lines, font_size = layout(prompt, (1024, 1024))
        assert 1 <= len(lines) <= 12
        assert all(font.getlength(line) <= 1024 - 4 * font_size for line in lines)


def test_placeholder_is_deterministic_and_cached() -> None:
    """The same prompt and options give the same bytes (the second time from the cache)."""
    first = placeholder("a lighthouse", Size(1024, 1024), "webp", 30)
    again = placeholder("a lighthouse", Size(1024, 1024), "webp", 30)
    assert first == again
    image = Image.open(io.BytesIO(first))
    assert image.format == "WEBP" and image.size == (1024, 1024)


def test_placeholder_background_is_the_prompts_colour() -> None:
    """Without an input image the picture is the prompt's colour, text in the middle."""
    image = Image.open(io.BytesIO(placeholder("a fox", Size(1024, 1536), "png", None)))
    assert image.size == (1024, 1536)
    assert image.convert("RGB").getpixel((5, 5)) == colour_for("a fox")


def test_placeholder_on_an_input_image() -> None:
    """With a background image, it is scaled to the asked size under the prompt."""
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 10, 10)).save(buffer, "PNG")
    data = placeholder("now in snow", Size(1536, 1024), "png", None,
                       background=buffer.getvalue())
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (1536, 1024) and image.getpixel((5, 1000)) == (200, 10, 10)


def test_built_in_font_lacks_cjk() -> None:
    """The reason for all this: Pillow's own font draws Chinese as boxes."""
    font = ImageFont.load_default(size=32)
    assert is_tofu(font, "水")
    assert not is_tofu(font, "a")
