"""``POST /images/edits`` requests (SPEC.md section 3), checked before anything is sent.

:func:`build_edit_request` turns a prompt, 1 to 16 input images and an optional mask
into an :class:`~vibeimg.jobs.image_requests.ImageRequest` whose multipart parts are exactly
what the gateway accepts, each input checked by :mod:`vibeimg.jobs.edit_inputs`: every
image a real png, jpeg or webp of at most 50 MB that decodes; the mask a PNG with an
alpha channel and the dimensions of the first image, which is itself sent as PNG when a
mask comes with it. Changes made to what is sent are reported through ``notify``;
everything else is refused with a UsageError naming the fix.

No Typer, no Rich: the command line and batch files both call this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vibeimg.errors import UsageError
from vibeimg.files.inputs import STDIN, SourceFile
from vibeimg.files.naming import slugify
from vibeimg.jobs.edit_inputs import (
    CheckedImage,
    FilePart,
    Notify,
    Source,
    as_png,
    check_image,
    check_mask,
    load_source,
    name_warning,
)
from vibeimg.jobs.edit_inputs import ignore as _ignore
from vibeimg.params import ImageOptions, check_prompt

if TYPE_CHECKING:
    from vibeimg.jobs.image_requests import ImageRequest

ENDPOINT = "images/edits"
MAX_IMAGES = 16
CHECK_WORKERS = 2  # inputs checked at once (reading, checksums and hashes: I/O and C)


def edit_form(prompt: str, options: ImageOptions) -> dict[str, str]:
    """The text fields of the multipart body (SPEC section 3 lists no moderation)."""
    form = {
        "model": options.model,
        "prompt": prompt,
        "size": options.size_text,
        "quality": options.quality,
        "output_format": options.output_format,
        "response_format": options.response_format,
    }
    if options.compression is not None:
        form["output_compression"] = str(options.compression)
    return form


@dataclass
class EditInputs:
    """The checked images and mask of one edit."""

    images: list[CheckedImage]
    mask: CheckedImage | None

    def files(self) -> list[FilePart]:
        parts = [image.part("image[]") for image in self.images]
        if self.mask is not None:
            parts.append(self.mask.part("mask"))
        return parts

    def record(self) -> dict[str, Any]:
        return {
            "inputs": [image.record() for image in self.images],
            "mask": self.mask.record() if self.mask is not None else None,
        }


def _check_and_hash(source: SourceFile, what: str) -> CheckedImage:
    checked = check_image(source, what=what)
    _ = source.sha256  # for the sidecar: read now, while the file is in the page cache
    return checked


def _check_all(sources: list[SourceFile], whats: list[str]) -> list[CheckedImage]:
    """Each image checked and hashed, two at a time: the checksums and hashes run
    outside the GIL. A refusal names the first bad image, as a check in turn would."""
    if len(sources) == 1:
        return [_check_and_hash(sources[0], whats[0])]
    with ThreadPoolExecutor(CHECK_WORKERS) as pool:
        return list(pool.map(_check_and_hash, sources, whats))


def check_inputs(
    images: Sequence[Source],
    mask: Source | None = None,
    *,
    convert_mask: bool = False,
    resize_mask: bool = False,
    stdin: BinaryIO | None = None,
    notify: Notify = _ignore,
    warn: Notify = _ignore,
) -> EditInputs:
    """Check 1 to 16 images and the mask; re-encode the first image as PNG with a mask."""
    if not images:
        raise UsageError("no input image", hint="give one or more with -i IMAGE")
    if len(images) > MAX_IMAGES:
        raise UsageError(f"{len(images)} input images; the gateway accepts at most {MAX_IMAGES}",
                         hint="combine fewer reference images in one edit")
    named_stdin = [s for s in [*images, mask] if isinstance(s, (str, Path)) and str(s) == STDIN]
    if len(named_stdin) > 1:
        raise UsageError("stdin ('-') can supply only one file",
                         hint="name the other files by path")
    notes: list[str] = []
    warnings: list[str] = []
    whats = ["image" if len(images) == 1 else f"image {n}" for n in range(1, len(images) + 1)]
    sources = [load_source(source, what=what, stdin=stdin)
               for source, what in zip(images, whats, strict=True)]
    checked = _check_all(sources, whats)
    for image in checked:
        name_problem = name_warning(image)
        if name_problem:
            warnings.append(name_problem)
    mask_checked = None
    if mask is not None:
        first = checked[0]
        if first.format != "png":
            first = checked[0] = as_png(first)
            notes.append(f"{first.source.label}: {'; '.join(first.changes)}, because the "
                         "mask must have the same format as the image")
        mask_checked = check_mask(
            load_source(mask, what="mask", stdin=stdin), first, convert_mask=convert_mask,
            resize_mask=resize_mask, notify=notes.append, warn=warnings.append,
        )
    # Reported only once everything passed: a refusal is the one line that matters.
    for note in notes:
        notify(note)
    for warning in warnings:
        warn(warning)
    return EditInputs(checked, mask_checked)


def build_edit_request(
    prompt: str,
    images: Sequence[Source],
    mask: Source | None,
    options: ImageOptions,
    *,
    convert_mask: bool = False,
    resize_mask: bool = False,
    stdin: BinaryIO | None = None,
    notify: Notify = _ignore,
    warn: Notify = _ignore,
    ascii_names: bool = False,
) -> ImageRequest:
    """Check everything and build the ``POST /images/edits`` request (sent once per image).

    ``images`` and ``mask`` are paths, ``"-"`` (read from ``stdin``), or
    :class:`~vibeimg.files.inputs.SourceFile` objects. ``notify`` hears about changes made
    to what is sent; ``warn`` about likely mistakes. Raises UsageError before anything
    is sent when the gateway would refuse or misread the request. ``ascii_names``: the
    files it makes are named in ASCII only.
    """
    from vibeimg.jobs.image_requests import ImageRequest  # noqa: PLC0415 - httpx only when sending

    text = check_prompt(prompt)
    inputs = check_inputs(
        images, mask, convert_mask=convert_mask, resize_mask=resize_mask, stdin=stdin,
        notify=notify, warn=warn,
    )
    return ImageRequest(
        endpoint=ENDPOINT, prompt=text, options=options, form=edit_form(text, options),
        files=inputs.files(),
        record={"slug": slugify(text, ascii_only=ascii_names), **inputs.record()},
    )


def describe_parts(request: ImageRequest) -> dict[str, Any]:
    """The multipart body as ``--dry-run`` shows it: text fields, then each file part."""
    files = []
    for name, (filename, data, media_type) in request.files or []:
        if isinstance(data, SourceFile):
            size, digest = data.size, data.sha256
        elif isinstance(data, bytes):
            size, digest = len(data), hashlib.sha256(data).hexdigest()
        else:
            raise TypeError(f"an edit sends bytes or a SourceFile, not {type(data).__name__}")
        files.append({"field": name, "filename": filename, "content_type": media_type,
                      "bytes": size, "sha256": digest})
    return {**(request.form or {}), "files": files}
