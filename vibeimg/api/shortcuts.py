"""Module-level shortcuts: ``vibeimg.generate(...)`` and friends, each with a client of
its own built from the usual settings, and ``vibeimg.convert_mask`` (local work)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vibeimg.api.client import Client, PathLike
from vibeimg.api.results import Images, MaskConversion


def generate(prompt: str, *, offline: bool = False, **options: Any) -> Images:
    """:meth:`Client.generate` with a client from the usual settings (or ``offline``)."""
    with Client(offline=offline) as client:
        return client.generate(prompt, **options)


def edit(prompt: str, *, images: Sequence[PathLike], offline: bool = False,
         **options: Any) -> Images:
    """:meth:`Client.edit` with a client from the usual settings (or ``offline``)."""
    with Client(offline=offline) as client:
        return client.edit(prompt, images=images, **options)


def chat_stream(prompt: str, *, offline: bool = False, **options: Any) -> Images:
    """:meth:`Client.chat_stream` with a client from the usual settings (or ``offline``)."""
    with Client(offline=offline) as client:
        return client.chat_stream(prompt, **options)


def convert_mask(
    source: PathLike,
    output: PathLike | None = None,
    *,
    invert: bool = False,
    threshold: int | None = None,
    from_grey: bool = False,
    match: PathLike | tuple[int, int] | None = None,
    force: bool = False,
) -> MaskConversion:
    """Turn a black-and-white mask into the alpha mask ``edit`` needs (white kept, black
    repainted), written atomically as a PNG: ``output``, else ``NAME-alpha.png`` beside
    ``source``. ``match`` resizes it to an image's dimensions (a path) or to (w, h).
    Never overwrites a file unless ``force``."""
    from vibeimg.files.imagecheck import image_dimensions  # noqa: PLC0415 - Pillow when used
    from vibeimg.masks.jobs import ConvertSettings, convert_job, plan_jobs  # noqa: PLC0415

    size = image_dimensions(Path(match), what="--match image") \
        if isinstance(match, (str, os.PathLike)) else match
    [job] = plan_jobs([os.fspath(source)], os.fspath(output) if output is not None else None,
                      None, force=force)
    result = convert_job(job, ConvertSettings(invert=invert, threshold=threshold,
                                              from_grey=from_grey, match=size, force=force))
    return MaskConversion(path=Path(result.destination), bytes=result.bytes,
                          width=result.stats.width, height=result.stats.height,
                          repaint=result.stats.repaint, notes=list(result.notes))
