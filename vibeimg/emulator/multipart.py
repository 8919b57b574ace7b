"""multipart/form-data bodies (``POST /images/edits``), parsed with python-multipart.

The standard library's email parser rewrites line endings inside binary parts, so
images would be corrupted: python-multipart parses the raw bytes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from vibeimg.emulator.routing import GatewayFault, RecordedRequest

if TYPE_CHECKING:  # the TypedDict exists for type checkers only
    from python_multipart.multipart import MultipartCallbacks


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

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
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
