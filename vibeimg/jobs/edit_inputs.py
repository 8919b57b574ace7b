"""Each input of an edit, checked: 1 to 16 images, and the mask that may come with them.

Every image must be a real png, jpeg or webp of at most 50 MB that decodes
(:class:`CheckedImage`); the mask a PNG with an alpha channel and the dimensions of the
first image, which is itself sent as PNG when a mask comes with it ("the same format",
:func:`as_png`). What can be fixed safely is fixed only when asked (``convert_mask``,
``resize_mask``) or when it loses nothing, and always reported through ``notify``;
everything else is refused with a UsageError naming the fix. The request that carries
them is :mod:`vibeimg.jobs.edits`'s.
"""

from __future__ import annotations

import hashlib
import io
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vibeimg.errors import UsageError
from vibeimg.files.formats import EXTENSIONS, sniff_format
from vibeimg.files.imagecheck import TURNED, decode_image, scan_image, upright
from vibeimg.files.inputs import MAX_INPUT_BYTES, SourceFile, read_source
from vibeimg.masks.convert import (
    alpha_stats,
    encode_rgba_png,
    has_alpha_channel,
    has_transparency,
    same_aspect,
    to_alpha_mask,
    warning_for,
)
from vibeimg.units import human_bytes

if TYPE_CHECKING:
    from PIL import Image

INPUT_FORMATS = ("png", "jpeg", "webp")
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})

Notify = Callable[[str], None]
Source = str | Path | SourceFile
#: One multipart file part: (field, (file name, bytes or the file to stream, media type)).
FilePart = tuple[str, tuple[str, bytes | SourceFile, str]]


def ignore(message: str) -> None:
    """A Notify that hears nothing."""
    del message


@dataclass
class CheckedImage:
    """An input image that passed every check, and what will be sent."""

    source: SourceFile
    format: str  # sniffed from the bytes
    width: int
    height: int
    mode: str
    image: Image.Image | None  # its pixels, when they were decoded (masks, conversions)
    data: bytes | None = None  # converted bytes to upload; None: the source, streamed
    sent_format: str = ""
    changes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sent_format = self.sent_format or self.format

    @property
    def sent_size(self) -> int:
        return self.source.size if self.data is None else len(self.data)

    def decoded(self) -> Image.Image:
        """Its pixels, decoded now if the checks did not need them."""
        if self.image is None:
            self.image = decode_image(self.source)
        return self.image

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def dimensions(self) -> str:
        return f"{self.width}x{self.height}"

    def part_name(self) -> str:
        """The file name of the upload, its extension matching the bytes sent.

        A name that is not valid UTF-8 (surrogate escapes from the file system) cannot
        go in a multipart header: its undecodable bytes become U+FFFD.
        """
        stem = os.fsencode(self.source.stem).decode("utf-8", "replace")
        return f"{stem}.{EXTENSIONS[self.sent_format]}"

    def part(self, field_name: str) -> FilePart:
        # Converted bytes, or bytes already in memory (stdin), go as they are; a file is
        # streamed from disk when the request is sent.
        content = self.data if self.data is not None else self.source.content or self.source
        return field_name, (self.part_name(), content, MEDIA_TYPES[self.sent_format])

    def record(self) -> dict[str, Any]:
        """What the sidecar says about this input: path, size, SHA-256, what was sent."""
        record: dict[str, Any] = {
            **self.source.record(), "format": self.format, "width": self.width,
            "height": self.height,
        }
        if self.data is not None:
            record["sent"] = {
                "format": self.sent_format, "bytes": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest(), "changes": self.changes,
            }
        return record


def load_source(source: Source, *, what: str, stdin: BinaryIO | None = None) -> SourceFile:
    if isinstance(source, SourceFile):
        if source.size > MAX_INPUT_BYTES:
            raise UsageError(
                f"the {what} {source.label} is {human_bytes(source.size)}; the gateway "
                f"accepts at most {human_bytes(MAX_INPUT_BYTES)}",
                hint="downscale it or save it as jpeg or webp",
            )
        return source
    return read_source(source, what=what, stdin=stdin)


def check_image(source: SourceFile, *, what: str = "image") -> CheckedImage:
    """A png, jpeg or webp (by its bytes, not its name) that is whole and undamaged
    (see :func:`~vibeimg.files.imagecheck.scan_image`: its pixels are not kept)."""
    fmt = sniff_format(source.head[:16])
    if fmt not in INPUT_FORMATS:
        found = f"a {fmt.upper()} file" if fmt else "not a png, jpeg or webp file"
        raise UsageError(f"the {what} {source.label} is {found}: the gateway accepts png, "
                         "jpeg and webp", hint="convert it to png")
    header = scan_image(source, what=what)
    return CheckedImage(source, fmt, header.width, header.height, header.mode, None)


def name_warning(checked: CheckedImage) -> str | None:
    path = checked.source.path
    if path is None:
        return None
    claimed = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}.get(
        path.suffix.lower())
    if claimed and claimed != checked.format:
        return (f"{path} is really {checked.format}, not {claimed}: it is sent as "
                f"{checked.part_name()} ({MEDIA_TYPES[checked.format]})")
    return None


def as_png(checked: CheckedImage) -> CheckedImage:
    """The same pixels re-encoded as PNG in memory (turned upright per its EXIF)."""
    changes = [f"re-encoded from {checked.format} to png in memory, losslessly"]
    # Viewers (and the program the mask was drawn in) show it turned; PNG has no tag.
    image, turned = upright(checked.decoded())
    if turned:
        changes.append(TURNED)
    if image.mode not in PNG_MODES:
        changes.append(f"converted from {image.mode} to RGB")
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    data = buffer.getvalue()
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(
            f"the image {checked.source.label} is {human_bytes(len(data))} once converted "
            f"to png (needed with a mask); the gateway accepts at most "
            f"{human_bytes(MAX_INPUT_BYTES)}",
            hint="downscale it, or convert it to png yourself",
        )
    return CheckedImage(
        checked.source, checked.format, image.width, image.height, image.mode, image,
        data=data, sent_format="png", changes=changes,
    )


def _no_alpha(label: str, mode: str, transparency: bool) -> UsageError:
    what = ("has transparency only as a colour key, not an alpha channel" if transparency
            else f"has no alpha channel (mode {mode})")
    return UsageError(
        f"the mask {label} {what}: the gateway repaints where the mask's alpha is "
        "transparent",
        hint=f"convert it with: vibeimg mask-convert {shlex.quote(label)}; or add "
        "--convert-mask to convert it on the fly; white is kept, black repainted",
    )


def check_mask(
    source: SourceFile,
    first: CheckedImage,
    *,
    convert_mask: bool = False,
    resize_mask: bool = False,
    notify: Notify = ignore,
    warn: Notify = ignore,
) -> CheckedImage:
    """A PNG with an alpha channel and the first image's dimensions, fixed only if asked."""
    decoded = decode_image(source, what="mask")
    fmt = sniff_format(source.head[:16]) or (decoded.format or "unknown").lower()
    image, turned = upright(decoded)  # drawn as it was shown, like the image it covers
    label = source.label
    has_alpha = has_alpha_channel(image)
    if not has_alpha and not convert_mask:
        raise _no_alpha(label, image.mode, has_transparency(image))
    stats = alpha_stats(image) if has_alpha else None
    # A drawing saved as RGBA without any transparency: --convert-mask reads its greys.
    convert = not has_alpha or (convert_mask and stats is not None and stats.fully_opaque)
    changes: list[str] = [TURNED] if turned else []
    if image.size != first.size:
        w, h = image.size
        if not same_aspect(image.size, first.size):
            raise UsageError(
                f"the mask {label} is {w}x{h} but the first image is {first.dimensions}: "
                "they must have the same dimensions, and their aspect ratios differ",
                hint=f"redraw or crop the mask at {first.dimensions}",
            )
        if not resize_mask:
            raise UsageError(
                f"the mask {label} is {w}x{h} but the first image is {first.dimensions}: "
                "they must have the same dimensions",
                hint="add --resize-mask to scale the mask (nearest neighbour), or "
                f"vibeimg mask-convert {shlex.quote(label)} --match IMAGE",
            )
        changes.append(f"resized from {w}x{h} to {first.dimensions} (nearest neighbour)")
    if fmt != "png" and not convert:
        changes.append(f"re-encoded from {fmt} to png")
    if convert_mask and not convert:
        notify(f"mask {label} already has an alpha channel: --convert-mask left it as is")
    if not (convert or changes):
        mask = CheckedImage(source, fmt, image.width, image.height, image.mode, image)
        final = stats if stats is not None else alpha_stats(image)
    else:
        converted = to_alpha_mask(image, size=first.size, grey_if_opaque=convert)
        if convert:
            changes.insert(0, "its transparency moved into an alpha channel"
                           if converted.kept_alpha else
                           "converted to an alpha mask from its grey levels (white kept, "
                           "black repainted)")
        mask = CheckedImage(
            source, fmt, first.width, first.height, "RGBA", converted.image,
            data=encode_rgba_png(converted.image), sent_format="png", changes=changes,
        )
        final = converted.stats
        notify(f"mask {label}: {'; '.join(changes)}")
    problem = warning_for(final)
    if problem:
        if final.fully_opaque and not convert_mask:
            problem += "; if it is a black-and-white drawing, add --convert-mask"
        warn(problem)
    return mask
