"""Mask conversion, pixel by pixel, for every mode Pillow reads; stats; the PNG writer."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pictures import encoded, grey_row
from PIL import Image

from vibeimg.files.inputs import SourceFile
from vibeimg.masks.convert import (
    encode_rgba_png,
    mask_stats,
    same_aspect,
    to_alpha_mask,
    warning_for,
)
from vibeimg.masks.jobs import ConvertSettings, convert_source


def gateway_recipe(image: Image.Image) -> Image.Image:
    """The reference doc's conversion, verbatim in substance."""
    mask = image.convert("L")
    mask_rgba = mask.convert("RGBA")
    mask_rgba.putalpha(mask)
    return mask_rgba


def pixels(image: Image.Image) -> list[tuple[int, ...]]:
    rgba = image.convert("RGBA")
    return [rgba.getpixel((x, y)) for y in range(rgba.height) for x in range(rgba.width)]


def alphas(image: Image.Image) -> list[int]:
    return list(image.getchannel("A").tobytes())


def test_grey_mask_matches_the_gateway_recipe_exactly() -> None:
    """An L mask becomes RGBA with the grey in every channel, like the gateway's recipe."""
    image = grey_row([0, 1, 64, 127, 128, 200, 255])
    converted = to_alpha_mask(image)
    assert converted.image.mode == "RGBA"
    assert converted.image.tobytes() == gateway_recipe(image).tobytes()
    assert pixels(converted.image)[2] == (64, 64, 64, 64)
    assert not converted.kept_alpha


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=64),
       st.sampled_from(["L", "RGB", "P", "1", "CMYK"]))
def test_any_mode_without_alpha_matches_the_recipe(values: list[int], mode: str) -> None:
    """For every mode without transparency the output is exactly the recipe's."""
    image = grey_row(values).convert(mode)
    assert to_alpha_mask(image).image.tobytes() == gateway_recipe(image).tobytes()


def test_one_bit_mask_gives_hard_alpha() -> None:
    """A 1-bit mask: black pixels fully transparent, white fully opaque."""
    image = grey_row([0, 255, 0, 255]).convert("1")
    assert alphas(to_alpha_mask(image).image) == [0, 255, 0, 255]


def test_rgb_mask_uses_luma() -> None:
    """An RGB drawing is read through its luma: pure red is a dark grey (76)."""
    image = Image.new("RGB", (3, 1))
    image.putdata([(255, 255, 255), (255, 0, 0), (0, 0, 0)])
    assert alphas(to_alpha_mask(image).image) == [255, 76, 0]


def test_palette_without_transparency_uses_its_colours() -> None:
    """A palette image is read through its palette colours."""
    image = grey_row([0, 255, 128]).convert("P")
    assert alphas(to_alpha_mask(image).image) == [0, 255, 128]


def test_palette_with_transparency_keeps_it() -> None:
    """A palette image with a transparent entry keeps that transparency as alpha."""
    image = Image.new("P", (3, 1))
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.putdata([0, 1, 0])
    image = Image.open(io.BytesIO(encoded(image, "PNG", transparency=1)))
    converted = to_alpha_mask(image)
    assert alphas(converted.image) == [255, 0, 255]
    assert converted.kept_alpha and "transparent colour" in converted.notes[0]


def test_rgba_with_alpha_is_passed_through() -> None:
    """An RGBA mask that already has transparency keeps its colours and alpha."""
    image = Image.new("RGBA", (3, 1))
    image.putdata([(10, 20, 30, 0), (40, 50, 60, 128), (70, 80, 90, 255)])
    converted = to_alpha_mask(image)
    assert pixels(converted.image) == pixels(image)
    assert converted.kept_alpha and "already has an alpha channel" in converted.notes[0]


def test_from_grey_rebuilds_the_alpha_of_an_rgba_mask() -> None:
    """--from-grey ignores the input's alpha and uses its grey levels."""
    image = Image.new("RGBA", (2, 1))
    image.putdata([(255, 255, 255, 0), (0, 0, 0, 255)])
    converted = to_alpha_mask(image, from_grey=True)
    assert alphas(converted.image) == [255, 0] and not converted.kept_alpha


def test_fully_opaque_alpha_falls_back_to_grey() -> None:
    """A drawing saved as RGBA without transparency is read through its grey levels."""
    image = Image.new("RGBA", (2, 1))
    image.putdata([(255, 255, 255, 255), (0, 0, 0, 255)])
    converted = to_alpha_mask(image)
    assert alphas(converted.image) == [255, 0]
    assert "fully opaque" in converted.notes[0]


def test_fully_opaque_alpha_is_kept_when_asked() -> None:
    """grey_if_opaque=False keeps an opaque alpha channel as it is."""
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 255))
    assert alphas(to_alpha_mask(image, grey_if_opaque=False).image) == [255, 255]


def test_la_mask_keeps_its_alpha() -> None:
    """An LA image (grey plus alpha) keeps its alpha channel."""
    image = Image.new("LA", (2, 1))
    image.putdata([(0, 255), (255, 0)])
    converted = to_alpha_mask(image)
    assert pixels(converted.image) == [(0, 0, 0, 255), (255, 255, 255, 0)]


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    """A 16-bit greyscale mask is scaled to 8 bits (Pillow's own conversion clips it)."""
    image = Image.new("I;16", (4, 1))
    for x, value in enumerate([0, 65535, 32896, 257]):
        image.putpixel((x, 0), value)
    image = Image.open(io.BytesIO(encoded(image)))
    assert image.mode.startswith("I")
    assert alphas(to_alpha_mask(image).image) == [0, 255, 128, 1]


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_lossy_formats_convert_close_to_black_and_white(fmt: str) -> None:
    """A jpeg or webp black-and-white mask converts to near 0 and near 255."""
    image = Image.new("L", (32, 16), 255)
    image.paste(0, (0, 0, 16, 16))
    data, converted = convert_source(SourceFile("m", encoded(image, fmt, quality=95)),
                                     ConvertSettings())
    alpha = converted.image.getchannel("A")
    assert alpha.getpixel((4, 8)) < 10 and alpha.getpixel((28, 8)) > 245
    assert Image.open(io.BytesIO(data)).mode == "RGBA"


def test_invert_swaps_kept_and_repainted() -> None:
    """--invert: white marks the area to repaint."""
    converted = to_alpha_mask(grey_row([0, 64, 255]), invert=True)
    assert alphas(converted.image) == [255, 191, 0]


def test_threshold_makes_hard_edges() -> None:
    """--threshold N: grey levels at or above N are opaque, below are transparent."""
    converted = to_alpha_mask(grey_row([0, 127, 128, 200, 255]), threshold=128)
    assert alphas(converted.image) == [0, 0, 255, 255, 255]
    assert converted.image.getpixel((1, 0)) == (0, 0, 0, 0)


def test_threshold_then_invert() -> None:
    """With both, the threshold classifies grey levels and invert swaps the result."""
    converted = to_alpha_mask(grey_row([0, 127, 128, 255]), threshold=128, invert=True)
    assert alphas(converted.image) == [255, 255, 0, 0]


def test_resize_uses_nearest_neighbour() -> None:
    """Resizing keeps hard 0/255 edges: no grey appears between black and white."""
    image = Image.new("L", (4, 2), 255)
    image.paste(0, (0, 0, 2, 2))
    converted = to_alpha_mask(image, size=(8, 4))
    assert converted.image.size == (8, 4) and converted.resized_from == (4, 2)
    assert set(alphas(converted.image)) == {0, 255}
    assert converted.stats.repaint == 0.5


def test_stats_count_the_area_to_repaint() -> None:
    """Stats report the share below half opacity, fully transparent and fully opaque."""
    stats = mask_stats(grey_row([0, 0, 100, 200, 255, 255, 255, 255]))
    assert stats.repaint == 3 / 8 and stats.transparent == 2 / 8 and stats.opaque == 4 / 8
    assert "37.5% to repaint" in stats.summary() and "partly transparent" in stats.summary()


def test_warnings_for_masks_that_repaint_nothing_or_everything() -> None:
    """A fully opaque or fully transparent mask gets a warning; a mixed one does not."""
    assert "nothing will be repainted" in str(warning_for(mask_stats(grey_row([255, 255]))))
    assert "whole image" in str(warning_for(mask_stats(grey_row([0, 0]))))
    assert warning_for(mask_stats(grey_row([0, 255]))) is None


@pytest.mark.parametrize(("a", "b", "same"), [
    ((1024, 1024), (512, 512), True),
    ((3840, 2160), (1920, 1080), True),
    ((1920, 1080), (1000, 563), True),
    ((1024, 1024), (1024, 512), False),
    ((1536, 1024), (1024, 1536), False),
])
def test_same_aspect(a: tuple[int, int], b: tuple[int, int], same: bool) -> None:
    """Aspect ratios match when scaling one to the other is off by at most a pixel."""
    assert same_aspect(a, b) is same


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (130, 65)])
def test_png_writer_round_trips_pixels(size: tuple[int, int]) -> None:
    """encode_rgba_png writes a valid 8-bit RGBA PNG that decodes to the same pixels."""
    image = Image.effect_noise(size, 80).convert("RGBA")
    image.putalpha(Image.effect_noise(size, 60))
    data = encode_rgba_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">IIBB", data[16:26]) == (*size, 8, 6)
    Image.open(io.BytesIO(data)).verify()
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == "RGBA" and decoded.tobytes() == image.tobytes()


def test_png_writer_refuses_other_modes() -> None:
    """Only RGBA images go through the mask writer."""
    with pytest.raises(ValueError, match="RGBA"):
        encode_rgba_png(Image.new("L", (2, 2)))
