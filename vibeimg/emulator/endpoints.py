"""Importing this module registers every endpoint of the emulator in ``ROUTES``."""

from __future__ import annotations

from types import ModuleType

from vibeimg.emulator import edits, generations, models, responses

MODULES: tuple[ModuleType, ...] = (edits, generations, models, responses)
