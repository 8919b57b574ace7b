"""``POST /images/edits`` as the gateway answers it (SPEC.md section 3).

The multipart body is parsed by :mod:`.multipart`. Every rule of the section, as
:mod:`.contract` states it, is enforced with a gateway-style error: ``image[]`` or
``image`` file parts, 1 to 16 of them, png/jpeg/webp of at most 50 MB each; a mask
with an alpha channel, the format and the dimensions of the first image. The answer
is a placeholder drawn from the first image (cropped to the asked size), the area the
mask opens for repainting filled with the prompt's colour, and the prompt written on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from PIL import Image, ImageOps

from vibeimg.emulator import contract, uploads
from vibeimg.emulator.faults import Fault
from vibeimg.emulator.generations import image_reply
from vibeimg.emulator.multipart import parse_multipart
from vibeimg.emulator.placeholder import colour_for, draw_text, encode
from vibeimg.emulator.routing import Context, GatewayFault, RecordedRequest, Reply, route
from vibeimg.emulator.rules import (
    Resolved,
    auto_size,
    check_model,
    check_prompt,
    resolve_options,
)


def _text_fields(record: RecordedRequest) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, values in record.form.items():
        if name in contract.EDIT_FILE_FIELDS:
            raise GatewayFault(
                400, f"Invalid type for '{name}': expected a file, but got a string instead.",
                param=name, code="invalid_type",
            )
        if name == "input_fidelity":
            raise GatewayFault(
                400, "Invalid 'input_fidelity': gpt-image-2 always processes input images "
                "at high fidelity; omit this parameter.",
                param="input_fidelity", code="unsupported_parameter",
            )
        if name not in contract.EDIT_FIELDS:
            raise GatewayFault(400, f"Unrecognized request argument supplied: {name}",
                               param=name, code="unknown_parameter")
        fields[name] = values[-1]
    for name in record.files:
        if name not in contract.EDIT_FILE_FIELDS:
            raise GatewayFault(400, f"Unrecognized file supplied: {name}", param=name,
                               code="unknown_parameter")
    return fields


@dataclass
class _Upload:
    filename: str
    format: str
    image: Image.Image


def _open_upload(
    param: str, label: str, upload: tuple[str, str, bytes]
) -> _Upload:
    filename, content_type, data = upload
    if len(data) > contract.MAX_FILE_BYTES:
        raise GatewayFault(
            400, f"Invalid file '{filename}': {len(data)} bytes is more than the 50 MB "
            f"allowed for each {label}.", param=param, code="image_too_large",
        )
    declared = content_type.split(";")[0].strip()
    if declared not in contract.UPLOAD_MEDIA_TYPES:
        raise GatewayFault(
            400, f"Invalid file '{param}': unsupported mimetype ('{declared or 'none'}'). "
            "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            param=param, code="unsupported_file_mimetype",
        )
    image = uploads.decode(data)
    fmt = contract.sniff_format(data[:16])
    if image is None or fmt is None:
        raise GatewayFault(400, f"Invalid image file or mode for {label}, please check your "
                           "image file.", param=param, code="invalid_image_file")
    return _Upload(filename, fmt, image)


def _images(record: RecordedRequest) -> list[_Upload]:
    parts = [*record.files.get("image[]", []), *record.files.get("image", [])]
    if not parts:
        raise GatewayFault(400, "Missing required parameter: 'image'.", param="image",
                           code="missing_required_parameter")
    if len(parts) > contract.MAX_INPUT_IMAGES:
        raise GatewayFault(
            400, f"Invalid 'image': too many images. Expected an array with maximum length "
            f"{contract.MAX_INPUT_IMAGES}, but got an array with length {len(parts)} instead.",
            param="image", code="array_above_max_length",
        )
    return [_open_upload("image", f"image {i}", u) for i, u in enumerate(parts, start=1)]


def _mask(record: RecordedRequest, first: _Upload) -> Image.Image | None:
    masks = record.files.get("mask", [])
    if not masks:
        return None
    if len(masks) > 1:
        raise GatewayFault(400, "Invalid 'mask': expected a single file.", param="mask",
                           code="invalid_value")
    mask = _open_upload("mask", "the mask", masks[0])
    if mask.format != first.format:
        raise GatewayFault(
            400, f"Invalid mask image: the mask must have the same format as the image "
            f"(image {first.format}, mask {mask.format}).", param="mask", code="invalid_mask",
        )
    if mask.image.mode not in contract.ALPHA_MODES:
        raise GatewayFault(
            400, f"Invalid mask image: the mask must contain an alpha channel (got mode "
            f"{mask.image.mode}).", param="mask", code="invalid_mask",
        )
    if mask.image.size != first.image.size:
        iw, ih = first.image.size
        mw, mh = mask.image.size
        raise GatewayFault(
            400, f"Invalid mask image: the mask must have the same dimensions as the image "
            f"(image {iw}x{ih}, mask {mw}x{mh}).", param="mask", code="invalid_mask",
        )
    return mask.image


def _image_tokens(images: list[_Upload]) -> int:
    """Input image tokens, roughly: a base plus a share per 512-pixel tile."""
    total = 0
    for upload in images:
        w, h = upload.image.size
        total += 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)
    return total


def edited_placeholder(
    first: Image.Image, mask: Image.Image | None, options: Resolved
) -> bytes:
    """The first image cropped to size, the masked area in the prompt's colour, the prompt."""
    base = first.convert("RGB")
    if mask is not None:
        repaint = mask.convert("RGBA").getchannel("A").point(
            lambda v: 255 if v < 128 else 0)
        base = Image.composite(Image.new("RGB", base.size, colour_for(options.prompt)),
                               base, repaint)
    size = (options.size.width, options.size.height)
    picture = ImageOps.fit(base, size, Image.Resampling.BILINEAR)
    draw_text(picture, options.prompt, label="edited" + (" with mask" if mask else ""))
    return encode(picture, options.output_format, options.compression)


@route("POST", "/images/edits")
def edits(record: RecordedRequest, ctx: Context, fault: Fault | None) -> Reply:
    parse_multipart(record)
    fields = _text_fields(record)
    check_model(fields)
    prompt = check_prompt(fields)
    options = resolve_options(fields, prompt)
    images = _images(record)
    mask = _mask(record, images[0])
    if options.size_asked == "auto":
        options = replace(options, size=auto_size(*images[0].image.size))
    picture = None if ctx.fixed_image is not None else edited_placeholder(
        images[0].image, mask, options)
    return image_reply(record, ctx, options, fault, image=picture,
                       input_image_tokens=_image_tokens(images))
