"""Sizes as people read them (decimal units, as the gateway's 50 MB cap is stated)."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"
