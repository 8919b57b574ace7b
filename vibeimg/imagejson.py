"""Stream-decode the image inside a JSON answer, without holding the JSON in memory.

A 4K PNG arrives as about 33 MB of JSON with one huge base64 string
(``data[0].b64_json``, or a ``data:`` URI in ``data[0].url``). Parsing it whole would
hold the raw body, the decoded text and the image at once. Instead the decoder
watches the bytes go by: the base64 string is validated and decoded chunk by chunk
straight into a sink (the temporary file), and everything around it, which is
small, is kept and parsed with :mod:`json` at the end, the image string replaced by "".
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from vibeimg.errors import BadResponseError

_KEY = re.compile(rb'"(b64_json|url)"\s*:\s*"')
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_DATA_URI = re.compile(rb"data:([\w/+.-]+)?((?:;[\w=.-]+)*);base64,")
_URI_PREFIX_MAX = 200  # a data URI's "data:image/png;base64," is far shorter


def _unescape(data: bytes) -> bytes:
    """JSON may escape ``/`` as ``\\/`` and wrap lines with ``\\n``; nothing else fits."""
    data = data.replace(b"\\/", b"/").replace(b"\\n", b"").replace(b"\\r", b"")
    if b"\\" in data:
        raise BadResponseError("the image is not valid base64 (unexpected escape)")
    return data


class ImageJsonDecoder:
    """Feed the body of an image answer in chunks; decoded image bytes go to ``sink``.

    After :meth:`close`, ``metadata`` is the parsed JSON (image string emptied),
    ``image_bytes`` counts what went to the sink, ``media_type`` is the data URI's
    type if there was one, and ``link`` is an http(s) ``url`` to fetch instead.
    """

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self._sink = sink
        self._state = "scan"  # scan -> prefix -> image -> tail
        self._kept = bytearray()  # the JSON around the image string
        self._scan_from = 0
        self._carry = b""  # base64 characters not yet decoded (fewer than 4)
        self._escape = b""  # a backslash that ended the previous chunk
        self._padded = False
        self._key = b""
        self._value_start = 0
        self.image_bytes = 0
        self.media_type: str | None = None
        self.link: str | None = None
        self.metadata: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> None:
        if self._state == "image":
            self._feed_image(chunk)
        elif self._state == "tail":
            self._kept += chunk
        else:
            self._kept += chunk
            self._find_image()

    def _find_image(self) -> None:
        while self._state in ("scan", "prefix"):
            if self._state == "scan":
                match = _KEY.search(self._kept, max(0, self._scan_from - 16))
                if match is None:
                    self._scan_from = len(self._kept)
                    return
                self._key = match.group(1)
                self._value_start = match.end()
                self._state = "prefix"
            start = self._value_start
            if self._key == b"url":
                head = bytes(self._kept[start : start + _URI_PREFIX_MAX])
                closed = b'"' in head or len(head) == _URI_PREFIX_MAX
                uri = _DATA_URI.match(head)
                if uri is None:
                    if not closed:
                        return  # wait for more bytes
                    # A link (or anything else) rather than inline data: ordinary JSON.
                    self._scan_from = start + head.find(b'"') + 1
                    self._state = "scan"
                    continue
                self.media_type = (uri.group(1) or b"").decode("ascii") or None
                start += uri.end()
            rest = bytes(self._kept[start:])
            del self._kept[start:]
            self._state = "image"
            self._feed_image(rest)
            return

    def _feed_image(self, chunk: bytes) -> None:
        data = self._escape + chunk
        self._escape = b""
        end = data.find(b'"')
        tail = b""
        if end >= 0:
            data, tail = data[:end], data[end:]
        if b"\\" in data:
            if end < 0 and (len(data) - len(data.rstrip(b"\\"))) % 2:
                self._escape, data = b"\\", data[:-1]  # an escape split across chunks
            data = _unescape(data)
        invalid = data.translate(None, _B64_CHARS)
        if invalid:
            raise BadResponseError(
                f"the image is not valid base64 (found {invalid[:1]!r})",
                hint="the gateway sent a corrupt answer; try again",
            )
        data = self._carry + data
        if end < 0:
            usable = len(data) - len(data) % 4
            self._decode(data[:usable])
            self._carry = data[usable:]
            return
        if len(data) % 4:
            raise BadResponseError("the image's base64 is truncated (length not a multiple of 4)")
        self._decode(data)
        self._carry = b""
        self._state = "tail"
        self._kept += tail

    def _decode(self, data: bytes) -> None:
        if not data:
            return
        pad = data.find(b"=")
        if self._padded or (pad >= 0 and (pad < len(data) - 2 or data[pad:].strip(b"="))):
            raise BadResponseError("the image is not valid base64 (padding inside the data)")
        if pad >= 0:
            self._padded = True
        try:
            decoded = binascii.a2b_base64(data)
        except binascii.Error as exc:
            raise BadResponseError(f"the image is not valid base64 ({exc})") from exc
        self.image_bytes += len(decoded)
        self._sink(decoded)

    def close(self) -> dict[str, Any]:
        """Finish: parse what surrounded the image; raise if the answer was cut short."""
        if self._state == "image":
            raise BadResponseError(
                "the gateway's answer is not valid JSON: it ends inside the image"
            )
        try:
            parsed = json.loads(bytes(self._kept))
        except ValueError as exc:
            raise BadResponseError(f"the gateway's answer is not valid JSON ({exc})") from exc
        if not isinstance(parsed, dict):
            raise BadResponseError("the gateway's answer is not a JSON object")
        self.metadata = parsed
        data = parsed.get("data")
        first = data[0] if isinstance(data, list) and data else None
        if self._state != "tail":
            url = first.get("url") if isinstance(first, dict) else None
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                self.link = url
            else:
                raise BadResponseError("the gateway's answer holds no image (data[0] is empty)")
        return parsed
