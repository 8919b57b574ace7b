"""Estimated cost of image output in USD (SPEC.md section 6).

The gateway publishes prices for three sizes; other sizes are scaled by pixel count
from the nearest published shape. ``auto`` quality is priced as ``high`` so that an
estimate is an upper bound, never a surprise. Input tokens and the text model of the
Responses API are not included: the gateway publishes no price for them.
"""

from __future__ import annotations

from vibeimg.params import Size

PRICES: dict[str, dict[str, float]] = {
    "low": {"1024x1024": 0.006, "1024x1536": 0.005, "1536x1024": 0.005},
    "medium": {"1024x1024": 0.053, "1024x1536": 0.041, "1536x1024": 0.041},
    "high": {"1024x1024": 0.211, "1024x1536": 0.165, "1536x1024": 0.165},
}
_SQUARE = Size(1024, 1024)
_OBLONG = Size(1536, 1024)


def estimate_cost(size: Size | None, quality: str) -> float:
    """The estimated price of one image of this size and quality."""
    table = PRICES.get(quality, PRICES["high"])
    if size is None:  # auto: the gateway usually answers 1024x1024
        size = _SQUARE
    exact = table.get(str(size))
    if exact is not None:
        return exact
    base = _SQUARE if size.width == size.height else _OBLONG
    return round(table[str(base)] * size.pixels / base.pixels, 4)


def parse_size_text(text: object) -> Size | None:
    """The size a response reports (``"1024x1024"``), or None when absent or odd."""
    if not isinstance(text, str):
        return None
    w, sep, h = text.partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        return None
    return Size(int(w), int(h))
