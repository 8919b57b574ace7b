"""Stream the base64 images inside SSE events straight to temporary files.

A 4K image arrives as one ``data:`` line of about 33 MB. Handed whole to an SSE
parser and then to :mod:`json`, it would be copied four or five times before a
single byte is decoded. Instead, the raw bytes pass through a
:class:`PayloadDiverter` before the SSE parser sees them: the string value of
``partial_image_b64`` or ``result`` is decoded chunk by chunk (strictly: a corrupt
payload never becomes a file) into a temporary file, and the event carries a short
marker in its place. Everything else passes through untouched.

The gateway sends each image twice: whole as the partial image, then as ``item.result``
(SPEC.md section 5). A ``result`` is therefore decoded against the last partial
image's file, read back as it goes, and written only from the first byte that differs:
the same image is never written (or held) twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from vibeimg.errors import BadResponseError, VibeimgError, save_error
from vibeimg.files.atomic import AtomicFile
from vibeimg.wire.b64stream import Base64Decoder

SPOOL_MARK = "@vibeimg-spool:"
_PAYLOAD_KEY = re.compile(rb'"(partial_image_b64|result)"\s*:\s*"')
_KEY_ROOM = 40  # longest key, spaces and quotes: what may be held back between chunks
_B64_SLICE = 4 * 1024 * 1024  # decode in slices (a multiple of 4) to bound memory
_COPY_CHUNK = 1024 * 1024


@dataclass
class SpooledPayload:
    """One diverted base64 string: its temporary file, or why it could not be decoded."""

    id: int
    key: str
    file: AtomicFile | None = None
    chars: int = 0
    error: VibeimgError | None = None  # bad base64, or the file could not be written
    #: The earlier payload's file this one decoded to byte for byte (it has no file).
    same_as: AtomicFile | None = None
    open_file: Callable[[], AtomicFile] | None = field(default=None, repr=False)

    @property
    def bytes(self) -> int:
        source = self.file if self.file is not None else self.same_as
        return source.size if source is not None else 0

    def take(self, *, holding: AtomicFile | None = None) -> AtomicFile | None:
        """Hand the decoded file over (the caller commits or discards it); raise if bad.

        A payload identical to an earlier one's file gives ``holding`` back when that is
        the file (the caller keeps it: nothing new was written), else a copy of it.
        """
        if self.error is not None:
            raise self.error
        if self.same_as is not None:
            same, self.same_as = self.same_as, None
            return holding if same is holding else self._copy(same)
        file, self.file = self.file, None
        if file is not None and file.size == 0:
            file.discard()
            return None
        return file

    def _copy(self, source: AtomicFile) -> AtomicFile | None:
        if self.open_file is None or source.size == 0:
            return None
        copy = self.open_file()
        try:
            with source.reader() as reader:
                _copy_into(reader, copy, source.size)
        except ValueError as exc:  # flushing a file already committed under its name
            copy.discard()
            raise OSError("the earlier image's temporary file is gone") from exc
        except BaseException:
            copy.discard()
            raise
        return copy

    def discard(self) -> None:
        self.same_as = None  # the earlier payload's file is not this one's to remove
        if self.file is not None:
            self.file.discard()
            self.file = None

    def __str__(self) -> str:  # how it shows in JSON progress lines
        return f"<{self.chars:,} characters>"


def _copy_into(reader: BinaryIO, target: AtomicFile, count: int) -> None:
    """Copy ``count`` bytes from ``reader`` into ``target``, a slice at a time."""
    while count > 0:
        data = reader.read(min(count, _COPY_CHUNK))
        if not data:
            raise OSError("the earlier image's temporary file is shorter than it was")
        target.write(data)
        count -= len(data)


class _Comparer:
    """A sink for decoded bytes that compares them with an earlier file instead of writing
    them, until they differ: then the part that matched is copied and writing goes on."""

    def __init__(self, reference: AtomicFile, reader: BinaryIO, payload: SpooledPayload,
                 open_file: Callable[[], AtomicFile]) -> None:
        self.reference = reference
        self._reader = reader
        self._payload = payload
        self._open_file = open_file
        self.matched = 0  # bytes equal to the reference so far

    @classmethod
    def open(cls, reference: AtomicFile, payload: SpooledPayload,
             open_file: Callable[[], AtomicFile]) -> _Comparer | None:
        """A comparer against ``reference``, or None when its file cannot be read (it was
        committed under its final name, or discarded)."""
        try:
            reader = reference.reader()
        except (OSError, ValueError):
            return None
        return cls(reference, reader, payload, open_file)

    def write(self, data: bytes) -> None:
        file = self._payload.file
        if file is None:
            if self._reader.read(len(data)) == data:
                self.matched += len(data)
                return
            file = self._diverge()
        file.write(data)

    def _diverge(self) -> AtomicFile:
        """Start the payload's own file with the bytes that matched so far."""
        file = self._payload.file = self._open_file()
        self._reader.seek(0)
        _copy_into(self._reader, file, self.matched)
        return file

    def finish(self) -> None:
        """At the payload's end: identical (no file, ``same_as``), or a file of its own."""
        payload = self._payload
        if payload.file is None:
            if self.matched == self.reference.size and self.matched > 0:
                payload.same_as = self.reference
            else:  # a shorter image than the reference: it needs its own file after all
                self._diverge()
        self.close()

    def close(self) -> None:
        self._reader.close()


class PayloadDiverter:
    """Filter raw SSE bytes: image payloads go to files, the rest is passed on."""

    def __init__(self, open_file: Callable[[], AtomicFile]) -> None:
        self._open_file = open_file
        self._held = b""  # a possible start of a key, kept until the next chunk
        self._current: SpooledPayload | None = None
        self._decoder: Base64Decoder | None = None
        self._comparer: _Comparer | None = None
        self._last_partial: AtomicFile | None = None  # what a result is compared with
        self._count = 0
        self.finished: dict[int, SpooledPayload] = {}

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to pass on to the SSE parser for this chunk."""
        out: list[bytes] = []
        data = chunk
        while data:
            if self._current is not None:
                data = self._divert(data)
                continue
            data = self._held + data
            self._held = b""
            match = _PAYLOAD_KEY.search(data)
            if match is None:
                out.append(self._hold_back(data))
                break
            out.append(data[: match.end()])
            self._start(match.group(1).decode())
            out.append(f"{SPOOL_MARK}{self._count}".encode())
            data = data[match.end() :]
        return b"".join(out)

    def _hold_back(self, data: bytes) -> bytes:
        """Keep a tail that may begin a key split across chunks; never past a newline,
        so that an event's end is passed on at once."""
        start = max(data.rfind(b"\n") + 1, len(data) - _KEY_ROOM)
        quote = data.find(b'"', start)
        if quote < 0:
            return data
        self._held = data[quote:]
        return data[:quote]

    def _start(self, key: str) -> None:
        self._count += 1
        current = self._current = SpooledPayload(self._count, key, open_file=self._open_file)
        if key == "result" and self._last_partial is not None:
            self._comparer = _Comparer.open(self._last_partial, current, self._open_file)
            if self._comparer is not None:
                self._decoder = Base64Decoder(self._comparer.write)
                return
        try:
            current.file = self._open_file()
        except OSError as exc:  # the image's failure, not the stream's
            current.error = save_error(exc)
            return
        self._decoder = Base64Decoder(current.file.write)

    def _divert(self, data: bytes) -> bytes:
        """Decode up to the closing quote; return what follows it (quote included)."""
        current = self._current
        if current is None:
            return data
        end = data.find(b'"')
        piece = data if end < 0 else data[:end]
        current.chars += len(piece)
        self._decode(piece)
        if end < 0:
            return b""
        self._decode(b"", close=True)
        self.finished[current.id] = current
        if current.key == "partial_image_b64" and current.file is not None:
            self._last_partial = current.file
        self._current = self._decoder = None
        return data[end:]

    def _decode(self, piece: bytes, *, close: bool = False) -> None:
        current = self._current
        if self._decoder is None or current is None:
            return  # this payload already failed: skip to its end
        try:
            if piece:
                self._decoder.feed(piece)
            if close:
                self._decoder.close()
                if self._comparer is not None:
                    self._comparer.finish()
                    self._comparer = None
        except (BadResponseError, OSError) as exc:  # bad base64, or a full disk
            current.error = save_error(exc) if isinstance(exc, OSError) else exc
            current.discard()
            self._decoder = None
            self._drop_comparer()

    def _drop_comparer(self) -> None:
        if self._comparer is not None:
            self._comparer.close()
            self._comparer = None

    def flush(self) -> bytes:
        """At the end of the stream: the held-back bytes. An unfinished payload is dropped."""
        held, self._held = self._held, b""
        if self._current is not None:
            self._current.discard()
        self._drop_comparer()
        self._current = self._decoder = None
        return held

    def claim(self, marker: object) -> SpooledPayload | None:
        """The payload an event's marker stands for (now the caller's to take or discard)."""
        if not isinstance(marker, str) or not marker.startswith(SPOOL_MARK):
            return None
        ident = marker[len(SPOOL_MARK) :]
        return self.finished.pop(int(ident), None) if ident.isdigit() else None

    def close(self) -> None:
        """Remove every temporary file nobody claimed."""
        self.flush()
        for payload in self.finished.values():
            payload.discard()
        self.finished.clear()


def write_base64(text: str, sink: Callable[[bytes], object]) -> int:
    """Decode a base64 string (or a ``data:`` URI) held in memory into ``sink``, slice by
    slice; returns the bytes written. Refuses anything that is not strict base64."""
    if text.startswith("data:"):
        text = text[text.find(",") + 1 :]
    if not text:
        raise BadResponseError("the image is empty")
    total = 0

    def count(data: bytes) -> None:
        nonlocal total
        total += len(data)
        sink(data)

    decoder = Base64Decoder(count)
    for start in range(0, len(text), _B64_SLICE):
        try:
            piece = text[start : start + _B64_SLICE].encode("ascii")
        except UnicodeEncodeError as exc:
            raise BadResponseError("the image is not valid base64 (a non-ASCII character)",
                                   hint="the gateway sent a corrupt image; try again") from exc
        decoder.feed(piece)
    decoder.close()
    return total
