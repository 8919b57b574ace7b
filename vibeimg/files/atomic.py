"""Atomic writes: a temporary file beside its destination, named only when whole.

Every file is written first as a file of its target folder that has no name yet (on
Linux, ``O_TMPFILE``) or, where the system cannot, a hidden temporary name; it takes
its real name only when complete, so a crash, a Ctrl-C or a truncated answer never
leaves a half-written file. Existing files are never overwritten unless asked.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import itertools
import os
import stat
import threading
from pathlib import Path
from typing import IO, Any, BinaryIO, ClassVar

from vibeimg.errors import UsageError, WriteError
from vibeimg.files.formats import pixel_size, sniff_format
from vibeimg.files.noreplace import link_unnamed, move_noreplace, open_unnamed, proc_path

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
HEAD_BYTES = 32  # the first bytes of a file, kept: its format, and a PNG's size
PNG_HEADER = 24  # a PNG's signature and IHDR chunk, which hold its size
WRITE_BUFFER = 1 << 18  # bytes gathered before they are written
_NAMES = itertools.count()  # temporary names: the process id and a number never reused
_pid = os.getpid()


def _forked() -> None:
    global _pid  # noqa: PLW0603 - the process id, kept, is a new one in a child
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def _temporary(directory: Path) -> tuple[int, Path]:
    """Create a new hidden ``.vibeimg-*.part`` file in ``directory``: its descriptor, path.

    Named by process and counter (a batch makes two per image: no random names, no
    retries, no chmod): ``O_EXCL`` still refuses a name that exists, and the mode is the
    user's usual one for a new file (0666 less the umask), as the finished file's.
    """
    while True:
        path = directory / f".vibeimg-{_pid}-{next(_NAMES)}.part"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o666), path
        except FileExistsError:  # left by an earlier process of the same id: skip it
            continue


class AtomicFile:
    """A temporary file beside its destination, put into place on ``commit``.

    ``temp_path`` is None while the file has no name (``O_TMPFILE``): it is linked into
    place by its descriptor, so it stays open until then.

    Every temporary file still open is known to the class, so that an interrupted run
    can remove them all (``discard_all``) even while other threads are blocked writing.
    """

    _open: ClassVar[set[AtomicFile]] = set()
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, directory: Path, *, digest: bool = False) -> None:
        self.directory = directory
        # A bare descriptor, written with os.write: the bytes arrive in large pieces, and
        # a file object would cost an fstat() to set up (two per image in a batch).
        fd = open_unnamed(directory)
        self.temp_path: Path | None = None
        if fd is None:
            fd, self.temp_path = _temporary(directory)
        self._fd = fd
        self._closed = False
        self._finished = False  # gathered bytes written out, mtime noted
        self._committed = False
        self._abandoned = False  # discarded by another thread: the owner closes it
        self.head = b""
        self.size = 0
        # Pieces gathered into one write (a batch's image arrives in two or three).
        self._buffer = bytearray()
        # With ``digest``, the SHA-256 of what is written, as it is written, and the
        # modification time when it is closed (a batch's manifest records both; a 4K
        # image is not hashed when nothing asks).
        self._digest = hashlib.sha256() if digest else None
        self.mtime_ns: int | None = None
        #: Set by :func:`vibeimg.files.sidecars.commit_image` when the image landed with
        #: a sidecar and ``digest`` was asked: the sidecar's bytes, SHA-256 and mtime.
        self.sidecar_facts: dict[str, Any] | None = None
        with self._registry_lock:
            self._open.add(self)

    @classmethod
    def discard_all(cls) -> None:
        """Remove every temporary file not yet committed (on Ctrl-C), even while other
        threads are blocked writing them: those threads close their own descriptors (a
        number closed here could be reused by another file before they write to it)."""
        with cls._registry_lock:
            pending = list(cls._open)
        for tmp in pending:
            tmp._abandoned = True
            tmp._forget()
            if tmp.temp_path is not None:  # an unnamed file goes when its owner closes it
                with contextlib.suppress(OSError):
                    tmp.temp_path.unlink()

    def _forget(self) -> None:
        with self._registry_lock:
            self._open.discard(self)

    def write(self, data: bytes) -> None:
        """Add ``data``; it reaches the file by :data:`WRITE_BUFFER` at a time (a write
        and a hash update each let other threads take the GIL: fewer is faster), and
        at the latest when the file is flushed or closed (an OSError may come then)."""
        if self._closed or self._abandoned or self._finished:
            raise ValueError("I/O operation on closed file")
        if len(self.head) < HEAD_BYTES:
            self.head = (self.head + data[:HEAD_BYTES])[:HEAD_BYTES]
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= WRITE_BUFFER:
            self._drain()

    def _drain(self) -> None:
        """Write out what is gathered (and hash it)."""
        if not self._buffer:
            return
        data, self._buffer = self._buffer, bytearray()
        view = memoryview(data)
        while view:  # a write may be short (a full disk): the rest, or OSError
            written = os.write(self._fd, view)
            if not written:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
        if self._digest is not None:
            self._digest.update(data)

    @property
    def digesting(self) -> bool:
        """Made with ``digest``: its SHA-256 is taken as it is written."""
        return self._digest is not None

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of every byte written so far (no second read of the file), when
        made with ``digest``."""
        if self._digest is None:
            return None
        if self._buffer and not self._closed:
            self._drain()
        return self._digest.hexdigest()

    def facts(self) -> dict[str, Any] | None:
        """What a batch's manifest records of the file (its bytes, SHA-256 and mtime),
        known without reading it back; None unless made with ``digest`` and closed."""
        if self._digest is None or self.mtime_ns is None:
            return None
        return {"bytes": self.size, "sha256": self._digest.hexdigest(),
                "mtime_ns": self.mtime_ns}

    def flush(self) -> None:
        """Make what was written readable by its path (a closed file is refused, with
        ValueError as a file object would)."""
        if self._closed or self._abandoned:
            raise ValueError("I/O operation on closed file")
        self._drain()

    def _finish(self) -> None:
        """Write out what is gathered and note the modification time, once; the file
        stays open (an unnamed file is named through its descriptor)."""
        if self._finished or self._abandoned:
            return
        self._drain()
        if self._digest is not None:
            self.mtime_ns = os.fstat(self._fd).st_mtime_ns
        self._finished = True

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._finish()
        finally:
            self._buffer = bytearray()
            os.close(self._fd)

    def reader(self) -> BinaryIO:
        """A new reader of what is written so far, from the start (its own offset);
        ValueError once the file is closed."""
        self.flush()
        return (self.temp_path or proc_path(self._fd)).open("rb")

    def pixel_size(self) -> str | None:
        """The finished image's ``WxH``, read from its header (None if unreadable)."""
        fmt = sniff_format(self.head)
        if fmt is None:
            return None
        if fmt == "png" and len(self.head) >= PNG_HEADER:  # no need to read the file back
            size = pixel_size(io.BytesIO(self.head), fmt)
            if size is not None:
                return size
        with self.reader() as reader:
            return pixel_size(reader, fmt)

    def rename(self, destination: Path) -> None:
        """Give the finished file another temporary name, never taking one in use."""
        if self.temp_path is None:
            self._name_unnamed(destination, overwrite=False)
        else:
            self._close()
            self._link(self.temp_path, destination)
        self.temp_path = destination

    def commit(self, destination: Path, *, overwrite: bool) -> Path:
        """Move the finished file to ``destination``; refuse to replace unless asked."""
        if self.temp_path is None:
            self._name_unnamed(destination, overwrite=overwrite)
        else:
            self._close()
            if self._abandoned:
                raise FileNotFoundError(errno.ENOENT, "the temporary file was discarded",
                                        str(self.temp_path))
            if overwrite:
                os.replace(self.temp_path, destination)
            else:
                self._link(self.temp_path, destination)
        self._committed = True
        self._forget()
        return destination

    def _name_unnamed(self, destination: Path, *, overwrite: bool) -> None:
        """Link the finished unnamed file to ``destination``, then close it. A name that
        is taken is replaced (by way of a hidden name, renamed over it) with
        ``overwrite``, else refused with FileExistsError, the file still open and
        unnamed for another try."""
        if self._closed or self._abandoned:
            raise FileNotFoundError(errno.ENOENT, "the temporary file was discarded",
                                    str(destination))
        self._finish()
        try:
            link_unnamed(self._fd, destination)
        except FileExistsError as exc:
            if not overwrite:
                raise FileExistsError(destination) from exc
            while True:  # a hidden name of its own first, as _temporary picks them
                temp = self.directory / f".vibeimg-{_pid}-{next(_NAMES)}.part"
                with contextlib.suppress(FileExistsError):
                    link_unnamed(self._fd, temp)
                    break
            try:
                os.replace(temp, destination)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
        self._close()

    @staticmethod
    def _link(source: Path, destination: Path) -> None:
        """Move ``source`` to a name nobody has; FileExistsError if it is taken."""
        try:
            if move_noreplace(source, destination):
                return
        except FileExistsError as exc:
            raise FileExistsError(destination) from exc
        try:
            # link() fails if the name exists: no window for a race with another writer.
            os.link(source, destination)
        except OSError as exc:
            if exc.errno == errno.EEXIST or destination.exists():
                raise FileExistsError(destination) from exc
            os.replace(source, destination)  # a filesystem without hard links
        else:
            source.unlink()

    def discard(self) -> None:
        """Remove the temporary file (after a failure)."""
        self._forget()
        with contextlib.suppress(OSError):
            self._close()
        if self.temp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.temp_path.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None or not self._committed:  # given up: nothing stays
            self.discard()


def write_atomically(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write a whole small file (a sidecar, a mask) atomically."""
    with AtomicFile(path.parent) as tmp:
        tmp.write(data)
        return tmp.commit(path, overwrite=overwrite)


def make_folder(folder: Path) -> None:
    """Create a folder a template named, as an image is saved; one clear error if it
    cannot be: a write error, since the image was asked for (and maybe billed) already."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error = WriteError(f"cannot create the output folder {folder}: {exc.strerror or exc}",
                           hint="check the -o template and the folder's permissions")
        error.errno = exc.errno
        raise error from exc


def open_for_writing(path: Path, *, replace: bool, what: str) -> IO[bytes]:
    """``path`` opened to be written from its start, as a regular file of its own.

    A file written as it goes (``chat-stream --events``), so not renamed into place; but
    never written through a symbolic link: with ``replace`` a link is replaced by the new
    file and its target left alone, as ``--force`` does to an image. A FIFO, device,
    socket or folder is refused (UsageError) before it is opened, and the descriptor
    is checked again (opened without blocking, so a FIFO swapped in cannot hang).
    FileExistsError when ``path`` exists and not ``replace``; other failures are the
    OSError of the open.
    """
    from vibeimg.files.inputs import special_kind  # noqa: PLC0415 - the same words

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | _NOFOLLOW | _NONBLOCK
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and replace:
        if stat.S_ISLNK(mode):
            path.unlink()  # the link goes, its target stays as it is
        elif stat.S_ISREG(mode):
            flags = os.O_WRONLY | os.O_TRUNC | _CLOEXEC | _NOFOLLOW | _NONBLOCK
        else:
            kind = "a folder" if stat.S_ISDIR(mode) else special_kind(mode) or "not a file"
            raise UsageError(f"the {what} {path} is {kind}, not a regular file",
                             hint="name a regular file, or a new one")
    fd = os.open(path, flags, 0o666)
    try:
        special = special_kind(os.fstat(fd).st_mode)
        if special is not None:
            raise UsageError(f"the {what} {path} is {special}, not a regular file",
                             hint="name a regular file, or a new one")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise
