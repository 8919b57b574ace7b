"""Numbers as people read them: sizes (decimal units, as the gateway's 50 MB cap is
stated) and counts of things."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def count_of(n: int, noun: str) -> str:
    """``1 image``, ``3 images``: the count and its noun, in the plural unless one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
