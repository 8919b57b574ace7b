"""Stream-decode the image inside a JSON answer, without holding the JSON in memory.

A 4K PNG arrives as about 33 MB of JSON with one huge base64 string
(``data[0].b64_json``, or a ``data:`` URI in ``data[0].url``). Parsing it whole would
hold the raw body, the decoded text and the image at once. Instead the decoder
watches the bytes go by: the base64 string is validated and decoded chunk by chunk
straight into a sink (the temporary file), and everything around it, which is
small, is kept and parsed with :mod:`json` at the end, the image string replaced by "".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from vibeimg.errors import BadResponseError
from vibeimg.wire.b64stream import Base64Decoder

_KEY = re.compile(rb'"(b64_json|url)"\s*:\s*"')
_DATA_URI = re.compile(rb"data:([\w/+.-]+)?((?:;[\w=.-]+)*);base64,")
_URI_PREFIX_MAX = 200  # a data URI's "data:image/png;base64," is far shorter


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
        self._image = Base64Decoder(self._count_and_sink)
        self._key = b""
        self._value_start = 0
        self.image_bytes = 0
        self.media_type: str | None = None
        self.link: str | None = None
        self.metadata: dict[str, Any] = {}

    def _count_and_sink(self, decoded: bytes) -> None:
        self.image_bytes += len(decoded)
        self._sink(decoded)

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
        end = chunk.find(b'"')
        if end < 0:
            self._image.feed(chunk)
            return
        self._image.feed(chunk[:end])
        self._image.close()
        self._state = "tail"
        self._kept += chunk[end:]

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
        except RecursionError:
            raise BadResponseError("the gateway's answer is not valid JSON (nested too "
                                   "deeply)") from None
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
