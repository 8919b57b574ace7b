"""Importing this module registers every endpoint of the emulator."""

from __future__ import annotations

from vibeimg.emulator import edits, generations, models, responses

__all__ = ["edits", "generations", "models", "responses"]
