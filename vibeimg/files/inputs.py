"""Reading the files a user hands us: regular files only, a size cap, read when needed.

Used by ``edit`` (input images and masks), ``mask-convert`` and batch files. Every
failure is a :class:`~vibeimg.errors.UsageError` naming the file and the fix: a missing
or unreadable file, a FIFO or device, a file over the size cap, an empty one. Whether
the bytes are a sound image is :mod:`vibeimg.files.imagecheck`'s question.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, overload

from vibeimg.errors import UsageError
from vibeimg.units import human_bytes

#: The gateway's cap on each input image and mask (SPEC.md section 3). Decimal
#: megabytes: the stricter reading, so that nothing is sent that could be refused.
MAX_INPUT_BYTES = 50_000_000
STDIN = "-"


#: The bytes read to tell a file's format (``sniff_format`` needs 16).
HEAD_BYTES = 64


@dataclass(frozen=True, eq=False)
class SourceFile:
    """A file named on the command line (or read from stdin), checked but not read whole.

    Bytes from stdin (or from a caller) are held in ``content``; a file on disk is read
    only when its bytes are needed, and an upload streams it (:meth:`open`). It must be
    the file that was checked: :meth:`open` refuses one whose size or modification time
    changed since.
    """

    label: str  # what to call it in messages: the path as given, or "stdin"
    content: bytes | None = None  # held in memory; None: read from ``path``
    path: Path | None = None  # None for stdin
    length: int = 0  # a file's size when it was checked
    stamp: tuple[int, int] | None = None  # a file's (size, mtime_ns) when it was checked

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else self.length

    @cached_property
    def head(self) -> bytes:
        """The first bytes, which tell the format."""
        if self.content is not None:
            return self.content[:HEAD_BYTES]
        with self.open() as file:
            return file.read(HEAD_BYTES)

    @cached_property
    def data(self) -> bytes:
        """All the bytes (read once, then held: for what needs them whole)."""
        if self.content is not None:
            return self.content
        with self.open() as file:
            return file.read()

    def upload(self) -> BinaryIO:
        """A new reader of the bytes for sending them: a failure is the user's to fix."""
        try:
            return self.open()
        except OSError as exc:
            raise UsageError(f"cannot read {self.label} to send it: {exc.strerror or exc}",
                             hint="check the file is still there and readable") from exc

    def open(self) -> BinaryIO:
        """A new reader of the bytes, from the start."""
        if self.content is not None:
            return io.BytesIO(self.content)
        if self.path is None:
            raise ValueError("a SourceFile holds its content or names its path")
        file = open_regular(self.path, what="file")  # never blocks on a FIFO put there
        try:
            found = os.fstat(file.fileno())
        except OSError:
            file.close()
            raise
        if self.stamp is not None and (found.st_size, found.st_mtime_ns) != self.stamp:
            file.close()
            raise UsageError(f"{self.label} changed after it was checked",
                             hint="leave the file alone until vibeimg has sent it; run "
                             "the command again")
        return file

    @cached_property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.open() as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    @property
    def stem(self) -> str:
        return self.path.stem if self.path is not None else "stdin"

    def record(self) -> dict[str, object]:
        """What a sidecar says about this file."""
        return {
            "path": str(self.path) if self.path is not None else STDIN,
            "bytes": self.size,
            "sha256": self.sha256,
        }


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
PIPE_HINT = "name a regular file; to read from a pipe, use '-' and send it to stdin"


def special_kind(mode: int) -> str | None:
    """What a file that is neither a regular file nor a folder is, in words; else None."""
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def what_is_at(path: Path) -> str:
    """What occupies ``path``, in words, a link not followed: "a file", "a folder", "a
    symbolic link to T", "a dangling symbolic link (to T, which does not exist)", "a
    FIFO (named pipe)"...; "nothing" when the name is free."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "nothing"
    if stat.S_ISLNK(mode):
        try:
            target = str(path.readlink())
        except OSError:  # gone since, or unreadable: a link all the same
            return "a symbolic link"
        return (f"a symbolic link (to {target})" if path.exists() else
                f"a dangling symbolic link (to {target}, which does not exist)")
    if stat.S_ISDIR(mode):
        return "a folder"
    return special_kind(mode) or "a file"


def name_taken(path: Path, exists: str = "already exists") -> str:
    """Why ``path`` cannot be written without --force, in words after its name:
    ``exists`` for a file, else what is there ("is a dangling symbolic link (to ...)")."""
    kind = what_is_at(path)
    return exists if kind in ("a file", "nothing") else f"is {kind}"


def not_regular(path: Path | str, what: str, kind: str) -> UsageError:
    return UsageError(f"the {what} {path} is {kind}, not a regular file", hint=PIPE_HINT)


def open_regular(path: Path, *, what: str) -> BinaryIO:
    """``path`` opened for reading, refused at once unless it is a regular file.

    Opening a FIFO with no writer blocks forever, and a device (``/dev/zero``) never
    ends: the file is opened without blocking and checked by its descriptor (no race
    with a swap between a check and the open), then read normally. A folder is refused
    too. Other failures (missing, no permission) are the ``OSError`` of the open.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"the {what} {path} is a folder, not a file", hint="name a file")
        kind = special_kind(mode)
        if kind is not None:
            raise not_regular(path, what, kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@overload
def read_regular(path: Path, *, what: str) -> bytes: ...
@overload
def read_regular(path: Path, *, what: str, max_bytes: int) -> bytes | None: ...
def read_regular(path: Path, *, what: str, max_bytes: int | None = None) -> bytes | None:
    """The whole of a regular file (see :func:`open_regular`); None when it holds more
    than ``max_bytes``, which is all that is read of it then."""
    with open_regular(path, what=what) as file:
        if max_bytes is None:
            return file.read()
        if os.fstat(file.fileno()).st_size > max_bytes:
            return None
        data = file.read(max_bytes + 1)  # the file may have grown since
        return data if len(data) <= max_bytes else None


def check_regular(path: Path, *, what: str) -> None:
    """Refuse a FIFO, device or socket before a library opens it (and would block)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: the opener says so in its own words
    kind = special_kind(mode)
    if kind is not None:
        raise not_regular(path, what, kind)


def _too_big(label: str, size: int, max_bytes: int, what: str) -> UsageError:
    return UsageError(
        f"the {what} {label} is {human_bytes(size)}; the gateway accepts at most "
        f"{human_bytes(max_bytes)}",
        hint="downscale it or save it as jpeg or webp",
    )


def read_source(
    source: str | Path,
    *,
    what: str = "image",
    stdin: BinaryIO | None = None,
    max_bytes: int | None = MAX_INPUT_BYTES,
) -> SourceFile:
    """A file (or ``-``: ``stdin``, read whole) refused early when it is missing, too big,
    empty or unreadable; a file's bytes are read later, when they are needed."""
    if str(source) == STDIN:
        if stdin is None:
            raise UsageError(f"'-' reads the {what} from stdin, but stdin is not available",
                             hint="pipe the file in: ... < photo.png")
        # Even with no limit for files, stdin is read no further than the gateway's own
        # limit for an input: an endless one (``yes |``) must not fill the memory.
        cap = MAX_INPUT_BYTES if max_bytes is None else max_bytes
        data = stdin.read(cap + 1)
        if not data:
            raise UsageError(f"stdin is empty, but '-' asked for the {what} there",
                             hint="pipe the file in: ... < photo.png")
        if len(data) > cap and max_bytes is None:
            raise UsageError(f"the {what} on stdin is more than {human_bytes(cap)}, the most "
                             "read from stdin", hint="save it to a file and give its name "
                                                     "instead of '-'")
        if len(data) > cap:
            raise UsageError(
                f"the {what} on stdin is more than {human_bytes(cap)}, the most the "
                "gateway accepts", hint="downscale it or save it as jpeg or webp")
        return SourceFile("stdin", data)
    path = Path(source)
    try:
        file = open_regular(path, what=what)
    except FileNotFoundError:
        raise UsageError(f"the {what} {path} does not exist",
                         hint="check the path") from None
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}",
                         hint="check the path and its permissions") from exc
    with file:
        info = os.fstat(file.fileno())
        if max_bytes is not None and info.st_size > max_bytes:
            raise _too_big(str(path), info.st_size, max_bytes, what)
        try:  # its head only: the rest is read when it is checked, and sent
            head = file.read(HEAD_BYTES)
        except OSError as exc:
            raise UsageError(f"cannot read the {what} {path}: {exc.strerror}",
                             hint="check the file's permissions") from exc
    if not head:
        raise UsageError(f"the {what} {path} is empty", hint="check the file")
    found = SourceFile(str(path), None, path, info.st_size, (info.st_size, info.st_mtime_ns))
    found.__dict__["head"] = head  # the cached property, read already
    return found
