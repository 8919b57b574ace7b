"""vibeimg: image generation from the shell and from Python, through a gpt-image-2 gateway.

From Python::

    import vibeimg

    with vibeimg.Client(offline=True) as client:  # or api_key=..., base_url=...
        images = client.generate("a red fox", size="1536x1024", quality="low", n=2)
        edited = client.edit("add a hat", images=[images[0].path])
        streamed = client.chat_stream("Generate 2 images: 1) a fox 2) a heron")
        client.chat_stream("a lighthouse at dawn", session="coast")  # a conversation:
        client.chat_stream("now make it night", session="coast")  # resends turn 1
    coast = vibeimg.Session("coast")  # coast.turns, coast.images, coast.undo()
    vibeimg.convert_mask("scribble.png", "mask.png")
    images[0].path, images[0].revised_prompt, images[0].size, images[0].cost_usd

Each call returns :class:`Images` (a list of :class:`Image`, with ``missing`` for any
image that failed when others were saved) or raises a :class:`VibeimgError`, whose
``exit_code`` is the command line's. ``vibeimg.generate/edit/chat_stream`` do the same
with a client built from the usual settings.

The map of the package (data flows down this list and back up as results)::

    cli/        the command line (Typer): parse, call the core, render; exit codes
    api/        this Python API: Client, results, opening the gateway (or the emulator)
    batch/      many items: plan, run, manifest, shards, report, merge
    jobs/       one module per gateway operation: image requests, edits, chat (SSE), doctor
    wire/       the HTTP client, the retry rule (retry.py), the SSE parser (sse.py), base64
    files/      output names and templates, atomic writes, sidecars, reading input images
    masks/      alpha masks: conversion, checks, mask-convert jobs
    records/    history (SQLite), run documents, pricing
    settings/   flags > VIBEIMG_* > config file > OPENAI_* > defaults; the config file
    emulator/   the local gateway stand-in (mock-server, --offline); shares no rules
    errors.py params.py units.py ui.py preview.py   used by everyone (ui: the only Rich)

Importing vibeimg loads none of httpx, Pillow, Rich or SQLite: each is loaded by the
first call that needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vibeimg.errors import (
    ApiError,
    AuthError,
    BadResponseError,
    ExitCode,
    GatewayError,
    Interrupted,
    MissingKeyError,
    NetworkError,
    PartialFailure,
    ResponseFailed,
    ServerError,
    UsageError,
    VibeimgError,
    WriteError,
)
from vibeimg.version import __version__

if TYPE_CHECKING:
    from vibeimg.api.client import Client
    from vibeimg.api.results import Image, Images, MaskConversion, Missing
    from vibeimg.api.sessions import Session
    from vibeimg.api.shortcuts import chat_stream, convert_mask, edit, generate
    from vibeimg.records.transcript import Turn


#: Names loaded on first use, and the module each comes from.
_LAZY = {
    "Client": "vibeimg.api.client",
    "Image": "vibeimg.api.results",
    "Images": "vibeimg.api.results",
    "Missing": "vibeimg.api.results",
    "MaskConversion": "vibeimg.api.results",
    "Session": "vibeimg.api.sessions",
    "Turn": "vibeimg.records.transcript",
    "generate": "vibeimg.api.shortcuts",
    "edit": "vibeimg.api.shortcuts",
    "chat_stream": "vibeimg.api.shortcuts",
    "convert_mask": "vibeimg.api.shortcuts",
}

__all__ = [
    "ApiError",
    "AuthError",
    "BadResponseError",
    "Client",
    "ExitCode",
    "GatewayError",
    "Image",
    "Images",
    "Interrupted",
    "MaskConversion",
    "Missing",
    "MissingKeyError",
    "NetworkError",
    "PartialFailure",
    "ResponseFailed",
    "ServerError",
    "Session",
    "Turn",
    "UsageError",
    "VibeimgError",
    "WriteError",
    "__version__",
    "chat_stream",
    "convert_mask",
    "edit",
    "generate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vibeimg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
