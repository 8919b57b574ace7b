"""stdout that fails in words: the one place a failed write of results is caught.

``vibeimg > /dev/full`` (ENOSPC) or ``vibeimg >&-`` (no stdout at all: Python sets
``sys.stdout`` to None) must end in one line, ``cannot write to stdout: ...``, with
the images already saved kept. :func:`guarded_stdout` puts a :class:`GuardedStdout`
in place of ``sys.stdout`` for the run, so every writer (``print_json``, ``typer.echo``,
``-o -``) gets a :class:`StdoutError` instead of a bare OSError or AttributeError. A
closed pipe (EPIPE) passes through untouched: the command layer stops quietly on it.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from vibeimg.errors import WriteError

CLOSED = "it is closed"


class StdoutError(WriteError):
    """The results could not be written to stdout (disk full, closed)."""


def stdout_error(reason: str) -> StdoutError:
    return StdoutError(
        f"cannot write to stdout: {reason}",
        hint="send stdout where there is room, or leave it open; files already saved are kept",
    )


class _Guard:
    """Delegates to a stream; a failed write or flush becomes a StdoutError."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _call(self, name: str, *args: Any) -> Any:
        if self._stream is None:
            raise stdout_error(CLOSED)
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            raise  # the reader went away (| head): stopped quietly elsewhere
        except OSError as exc:
            raise stdout_error(exc.strerror or str(exc)) from exc
        except UnicodeError:
            raise  # text the encoding cannot hold: see write()
        except ValueError as exc:  # "I/O operation on closed file"
            raise stdout_error(CLOSED) from exc

    def write(self, data: Any) -> Any:
        try:
            return self._call("write", data)
        except UnicodeEncodeError:
            # A path that is not valid UTF-8 (surrogate escapes): its own bytes, as the
            # file system has them, so that a script can use the name printed.
            self._call("flush")
            encoding = getattr(self._stream, "encoding", None) or "utf-8"
            raw = data.encode(encoding, "surrogateescape")
            self._call_on("buffer", "write", raw)
            return len(data)

    def _call_on(self, attribute: str, name: str, *args: Any) -> Any:
        return _Guard(getattr(self._stream, attribute))._call(name, *args)

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._stream is not None:
            self._call("flush")

    def isatty(self) -> bool:
        try:
            return bool(self._stream is not None and self._stream.isatty())
        except (AttributeError, ValueError, OSError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError(CLOSED)
        return int(self._stream.fileno())

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


class GuardedStdout(_Guard):
    """``sys.stdout`` for a run: text, and raw bytes through ``buffer``."""

    @property
    def buffer(self) -> IO[bytes]:
        if self._stream is None:
            raise stdout_error(CLOSED)
        return _Guard(self._stream.buffer)  # type: ignore[return-value]


def stdout_is_closed() -> bool:
    """Whether the process has no stdout at all (``vibeimg ... >&-``)."""
    stream = sys.stdout
    return stream is None or getattr(stream, "_stream", stream) is None


class _WholeWrites(io.RawIOBase):
    """A file descriptor whose every write is whole, or an error.

    ``os.write`` may write only part of the bytes (a file size limit, ``ulimit -f``),
    and Python's own buffered stdout then drops the rest without a word: the output
    would be cut short with exit 0. Here the rest is written again, and the second
    write raises the error the first one hid.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written = os.write(self._fd, view[done:])
            if written <= 0:
                raise OSError(errno.EIO, "nothing could be written")
            done += written
        return done


def _whole_writes_stdout(stream: Any) -> Any:
    """The process's stdout rebuilt over :class:`_WholeWrites`, or ``stream`` itself when
    it is not a file descriptor (a test's captured output)."""
    real: Any = sys.__stdout__
    if stream is None or stream is not real:
        return stream
    try:
        fd = stream.fileno()
        stream.flush()
    except (OSError, ValueError, AttributeError):
        return stream
    return io.TextIOWrapper(
        io.BufferedWriter(_WholeWrites(fd)), encoding=stream.encoding, errors=stream.errors,
        line_buffering=stream.line_buffering)


@contextmanager
def guarded_stdout() -> Iterator[GuardedStdout]:
    """Put a :class:`GuardedStdout` in place of ``sys.stdout`` until the block ends."""
    original = sys.stdout
    whole = _whole_writes_stdout(original)
    guard = GuardedStdout(whole)
    sys.stdout = guard
    try:
        yield guard
    finally:
        if whole is not original:
            with suppress(OSError, ValueError, WriteError):
                guard.flush()
        if sys.stdout is guard:  # not replaced meanwhile (detach_stdout)
            sys.stdout = original


def print_json(document: Any) -> None:
    """One JSON document on stdout, written as it is encoded (a batch's summary is
    never held whole as text)."""
    from vibeimg.files.jsontext import json_pieces

    for piece in json_pieces(document):
        sys.stdout.write(piece)
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_paths(paths: Iterable[Path]) -> None:
    """The saved paths, one a line: exactly as the file system has them for a script
    (a pipe, a file), with control characters shown escaped on a terminal (as ``ls``)."""
    from vibeimg.ui import is_terminal, printable

    shown = printable if is_terminal(sys.stdout) else str
    for path in paths:
        sys.stdout.write(f"{shown(str(path))}\n")
    sys.stdout.flush()
