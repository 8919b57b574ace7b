"""``POST /images/edits`` as the gateway answers it (SPEC.md section 3).

The multipart body is parsed with python-multipart (the standard library's email
parser rewrites line endings inside binary parts). Every rule of the section is
enforced with a gateway-style error: ``image[]`` or ``image`` file parts, 1 to 16
of them, png/jpeg/webp of at most 50 MB each; a mask with an alpha channel, the
format and the dimensions of the first image. The answer is a placeholder drawn
from the first image (cropped to the asked size), the area the mask opens for
repainting filled with the prompt's colour, and the prompt written on it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from PIL import Image, ImageOps
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from vibeimg.emulator.faults import Fault
from vibeimg.emulator.generations import image_reply
from vibeimg.emulator.placeholder import colour_for, draw_text, encode
from vibeimg.emulator.rules import Resolved, check_model, check_prompt, resolve_options
from vibeimg.emulator.server import Context, GatewayFault, RecordedRequest, Reply, route
from vibeimg.errors import UsageError
from vibeimg.files.formats import sniff_format
from vibeimg.files.inputs import MAX_INPUT_BYTES, SourceFile, decode_image
from vibeimg.params import Size

MAX_IMAGES = 16
EDIT_FIELDS = {
    "model", "prompt", "size", "quality", "output_format", "output_compression",
    "response_format", "n", "background", "user",
}
FILE_FIELDS = {"image", "image[]", "mask"}
MEDIA_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
               "image/webp": "webp"}


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)


def parse_multipart(record: RecordedRequest) -> None:
    """Fill ``record.form`` and ``record.files`` from a multipart/form-data body."""
    content_type = record.headers.get("content-type", "")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise GatewayFault(
            400, f"Invalid Content-Type header ({content_type or 'none'}), expected "
            "multipart/form-data. (HINT: If you're using curl, you can pass -F for each field.)",
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise GatewayFault(400, "Invalid multipart/form-data: the Content-Type header has no "
                           "boundary.")
    parts: list[_Part] = []
    headers: dict[bytes, bytes] = {}
    name_buf, value_buf = bytearray(), bytearray()

    def on_part_begin() -> None:
        headers.clear()
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        name_buf.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value_buf.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(name_buf).lower()] = bytes(value_buf)
        name_buf.clear()
        value_buf.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        part = parts[-1]
        part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        part.content_type = headers.get(b"content-type", b"").decode("latin-1").strip().lower()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.extend(data[start:end])

    callbacks = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(record.body)
        parser.finalize()
    except (FormParserError, ValueError) as exc:
        raise GatewayFault(400, f"Invalid multipart/form-data body: {exc}") from None
    for part in parts:
        if part.filename is None:
            record.form.setdefault(part.name, []).append(part.data.decode("utf-8", "replace"))
        else:
            record.files.setdefault(part.name, []).append(
                (part.filename, part.content_type, bytes(part.data)))


def _text_fields(record: RecordedRequest) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, values in record.form.items():
        if name in FILE_FIELDS:
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
        if name not in EDIT_FIELDS:
            raise GatewayFault(400, f"Unrecognized request argument supplied: {name}",
                               param=name, code="unknown_parameter")
        fields[name] = values[-1]
    for name in record.files:
        if name not in FILE_FIELDS:
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
    if len(data) > MAX_INPUT_BYTES:
        raise GatewayFault(
            400, f"Invalid file '{filename}': {len(data)} bytes is more than the 50 MB "
            f"allowed for each {label}.", param=param, code="image_too_large",
        )
    declared = content_type.split(";")[0].strip()
    if declared not in MEDIA_TYPES:
        raise GatewayFault(
            400, f"Invalid file '{param}': unsupported mimetype ('{declared or 'none'}'). "
            "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            param=param, code="unsupported_file_mimetype",
        )
    fmt = sniff_format(data[:16])
    if fmt not in ("png", "jpeg", "webp"):
        raise GatewayFault(400, f"Invalid image file or mode for {label}, please check your "
                           "image file.", param=param, code="invalid_image_file")
    try:
        image = decode_image(SourceFile(filename, data), what=label)
    except UsageError:
        raise GatewayFault(400, f"Invalid image file or mode for {label}, please check your "
                           "image file.", param=param, code="invalid_image_file") from None
    return _Upload(filename, fmt, image)


def _images(record: RecordedRequest) -> list[_Upload]:
    uploads = [*record.files.get("image[]", []), *record.files.get("image", [])]
    if not uploads:
        raise GatewayFault(400, "Missing required parameter: 'image'.", param="image",
                           code="missing_required_parameter")
    if len(uploads) > MAX_IMAGES:
        raise GatewayFault(
            400, f"Invalid 'image': too many images. Expected an array with maximum length "
            f"{MAX_IMAGES}, but got an array with length {len(uploads)} instead.",
            param="image", code="array_above_max_length",
        )
    return [_open_upload("image", f"image {i}", u) for i, u in enumerate(uploads, start=1)]


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
    if mask.image.mode not in ("RGBA", "LA"):
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


def _auto_size(image: Image.Image) -> Size:
    """What ``auto`` draws: the common size closest to the first image's shape."""
    ratio = image.width / image.height
    if ratio > 1.2:
        return Size(1536, 1024)
    if ratio < 1 / 1.2:
        return Size(1024, 1536)
    return Size(1024, 1024)


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
    if fields.get("size", "auto") == "auto":
        options = replace(options, size=_auto_size(images[0].image))
    if ctx.config.latency:
        time.sleep(ctx.config.latency)
    picture = None if ctx.fixed_image is not None else edited_placeholder(
        images[0].image, mask, options)
    return image_reply(ctx, options, fault, image=picture,
                       input_image_tokens=_image_tokens(images))
