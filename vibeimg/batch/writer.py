"""The manifest's writer: whole lines appended, durable before they are acknowledged.

Two kinds of line go in. A finished item's line (and a run's plan) is acknowledged
only once it is ``fsync``'d: group commit lets the items that finish together share one
``fsync``. An intent line (``"type": "sending"``, see :mod:`vibeimg.batch.records`) is
written at once, before its request goes out, and is not waited on: a plain ``write``
survives a ``kill -9`` of the process (the kernel has it), and the next group commit's
``fsync`` makes it durable along with the finished lines.

A write that fails (a full disk, a file-size limit, an I/O error) leaves no half line
behind: the file is truncated back to where the line began, and the error is reported
as the save error it is. Every later run would otherwise warn about that torn line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from vibeimg.batch.manifest import Record, busy, not_regular, open_nofollow, try_lock
from vibeimg.errors import save_error

#: Told when a line is durable: ``(None, offset)``, the offset where the line starts in
#: the file (to read it back); or that it failed: ``(error, -1)``.
Durable = Callable[[OSError | None, int], None]
GATHER_SECONDS = 0.02  # how long a first line waits for others to share its fsync


def encode(record: Record) -> bytes:
    """One manifest line: the record as JSON, and its newline."""
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode(
        "utf-8", "surrogateescape")


class ManifestWriter:
    """Appends records to one manifest, each durable before it is acknowledged.

    Group commit: one writer thread writes every line queued since its last ``fsync``
    in a single ``write``, then ``fsync``s once for all of them, and only then tells
    each line's sender (:meth:`submit`'s callback; :meth:`append` waits for it). Items
    finishing at once share one ``fsync``, a worker never waits on another's, and a
    ``kill -9`` loses no line that had been acknowledged. :meth:`write_now` appends a
    line at once and waits for no ``fsync``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = open_nofollow(path, os.O_RDWR | os.O_APPEND | os.O_CREAT,
                                     "the manifest")
        except OSError as exc:
            with contextlib.suppress(OSError):  # a folder in its place
                mode = os.lstat(path).st_mode
                if not stat.S_ISREG(mode):
                    raise not_regular(path, mode) from exc
            raise save_error(exc, f"the manifest {path}") from exc
        mode = os.fstat(self._fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(self._fd)
            raise not_regular(path, mode)
        if not try_lock(self._fd, exclusive=True):
            os.close(self._fd)
            raise busy(path)
        self._end = os.fstat(self._fd).st_size  # where the next line goes
        self._torn = self._ends_mid_line()
        self._appending = threading.Lock()  # one write() at a time: the offsets stay true
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)  # the writer waits on it alone
        self._pending: list[tuple[bytes, Durable]] = []  # lines for the next write
        self._failure: OSError | None = None  # the write or fsync that failed: no more
        self._closing = False
        self._writer: threading.Thread | None = None
        self._idle = False  # the writer waits for lines (else it finds them when done)

    def _ends_mid_line(self) -> bool:
        """Whether a run cut off mid-write left a last line without its newline."""
        return self._end > 0 and os.pread(self._fd, 1, self._end - 1) != b"\n"

    def append(self, record: Record) -> None:
        """Write one whole line and make it durable; a WriteError (disk full, a size
        limit) if it cannot be, and then nothing of the line is in the file."""
        durable = threading.Event()
        failed: list[OSError] = []

        def told(failure: OSError | None, offset: int) -> None:
            del offset
            if failure is not None:
                failed.append(failure)
            durable.set()

        self.submit(record, told)
        durable.wait()
        if failed:
            raise save_error(failed[0], f"the manifest {self.path}") from failed[0]

    def write_now(self, record: Record) -> None:
        """Append one whole line now, without waiting for an ``fsync`` (the next group
        commit makes it durable): it survives the process being killed. A WriteError if
        it cannot be written (nothing of it is left then), or once the manifest failed."""
        failure = self._failure  # read without the lock: a stale None is harmless
        if failure is not None:
            raise save_error(failure, f"the manifest {self.path}")
        try:
            self._append(encode(record))
        except OSError as exc:
            raise save_error(exc, f"the manifest {self.path}") from exc

    def submit(self, record: Record, then: Durable) -> None:
        """Queue one line; ``then(None, offset)`` is called (on the writer thread) once
        it is durable, ``then(error, -1)`` if it cannot be written. Never blocks on the
        disk."""
        line = encode(record)
        with self._lock:
            if self._closing and self._failure is None:  # no writer to wait for
                self._failure = OSError(errno.EBADF, "the manifest was closed")
            failure = self._failure
            if failure is None:
                self._pending.append((line, then))
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_all, daemon=True,
                                                    name="vibeimg-manifest")
                    self._writer.start()
                if self._idle:
                    self._has_work.notify()
        if failure is not None:
            then(failure, -1)

    def _write_all(self) -> None:
        """The writer thread: everything queued, one write and one fsync at a time."""
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._idle = True
                    self._has_work.wait()
                    self._idle = False
                if not self._pending:
                    return
                if not self._closing:  # woken by a first line: let others join its fsync
                    self._has_work.wait(GATHER_SECONDS)
                batch, self._pending = self._pending, []
            try:
                offset = self._append(b"".join(line for line, _ in batch))
                os.fsync(self._fd)  # the intent lines written meanwhile ride along
            except OSError as exc:
                with self._lock:
                    self._failure = exc
                    batch += self._pending
                    self._pending = []
                for _, then in batch:
                    then(exc, -1)
                return
            for line, then in batch:
                then(None, offset)
                offset += len(line)

    def _append(self, data: bytes) -> int:
        """Append ``data`` (whole lines); the offset where it starts. A write that fails
        part-way is undone: the file is cut back to its length before it."""
        with self._appending:
            if self._fd < 0:
                raise OSError(errno.EBADF, "the manifest was closed")
            start = self._end
            buffer = b"\n" + data if self._torn else data  # a torn line ends before it
            view = memoryview(buffer)
            try:
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError:
                try:
                    os.ftruncate(self._fd, start)
                except OSError:  # the half line stays: end it before the next line
                    self._torn = True
                    with contextlib.suppress(OSError):
                        self._end = os.fstat(self._fd).st_size
                raise
            self._end = start + len(buffer)
            self._torn = False
            return self._end - len(data)

    def close(self) -> None:
        """Write what is queued, then close; closing again does nothing."""
        with self._lock:
            self._closing = True
            self._has_work.notify()
        if self._writer is not None:
            self._writer.join()
        with self._appending:  # not while a late write_now() is at it
            fd, self._fd = self._fd, -1
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
