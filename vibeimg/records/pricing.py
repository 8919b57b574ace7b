"""Estimated cost of image output in USD (SPEC.md section 6).

The gateway publishes prices for three sizes only (1024x1024, 1024x1536, 1536x1024).
Any other size is priced by extrapolation: the published price of the nearest shape
(the square for a square, 1536x1024 for any oblong) scaled by the number of pixels.
That is a guess, so such a figure is marked ``extrapolated`` wherever it is shown
(``cost_extrapolated`` in documents). ``auto`` quality is priced as ``high`` so that
an estimate is an upper bound, never a surprise; ``auto`` size as 1024x1024, what the
gateway usually makes (the answer's own size then prices the image received). Input
tokens and the text model of the Responses API are not included: the gateway
publishes no price for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vibeimg.params import Size

PRICES: dict[str, dict[str, float]] = {
    "low": {"1024x1024": 0.006, "1024x1536": 0.005, "1536x1024": 0.005},
    "medium": {"1024x1024": 0.053, "1024x1536": 0.041, "1536x1024": 0.041},
    "high": {"1024x1024": 0.211, "1024x1536": 0.165, "1536x1024": 0.165},
}
PUBLISHED_SIZES = frozenset(PRICES["high"])
_SQUARE = Size(1024, 1024)
_OBLONG = Size(1536, 1024)
EXTRAPOLATED_NOTE = ("extrapolated: the size is not in the published price table, so the "
                     "nearest shape's price is scaled by pixels")


@dataclass(frozen=True)
class Price:
    """An estimated price, and whether it is extrapolated rather than published."""

    usd: float
    extrapolated: bool = False

    def times(self, count: int) -> Price:
        return Price(round(self.usd * count, 4), self.extrapolated)

    def fields(self) -> dict[str, float | bool]:
        """``estimated_cost_usd`` and ``cost_extrapolated``, as every document has them."""
        return {"estimated_cost_usd": self.usd, "cost_extrapolated": self.extrapolated}


def price_of(size: Size | None, quality: str | None) -> Price:
    """The estimated price of one image of this size and quality."""
    table = PRICES.get(quality or "high", PRICES["high"])
    if size is None:  # auto: the gateway usually answers 1024x1024
        size = _SQUARE
    exact = table.get(str(size))
    if exact is not None:
        return Price(exact)
    base = _SQUARE if size.width == size.height else _OBLONG
    return Price(round(table[str(base)] * size.pixels / base.pixels, 4), extrapolated=True)


def estimate_cost(size: Size | None, quality: str) -> float:
    """The estimated price of one image of this size and quality, in USD."""
    return price_of(size, quality).usd


def total(prices: Iterable[Price]) -> Price:
    """Several prices added up; extrapolated when any of them is."""
    listed = list(prices)
    return Price(round(sum(p.usd for p in listed), 6), any(p.extrapolated for p in listed))


def shown(usd: float, extrapolated: bool = False, *, offline: bool = False) -> str:
    """An estimate as a summary line shows it: ``$0.844 (extrapolated)`` when it is not a
    published price, ``(offline: nothing billed)`` when the emulator made it."""
    return (f"${usd:.3f}" + (" (extrapolated)" if extrapolated else "")
            + (" (offline: nothing billed)" if offline else ""))


def parse_size_text(text: object) -> Size | None:
    """The size a response reports (``"1024x1024"``), or None when absent or odd."""
    if not isinstance(text, str):
        return None
    w, sep, h = text.partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        return None
    return Size(int(w), int(h))
