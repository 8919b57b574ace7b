"""Giving a file a name nobody has, in one directory operation where the system can.

Linux's ``renameat2`` with ``RENAME_NOREPLACE`` renames a file unless its new name is
taken, atomically. Without it the same is done with ``link`` (which fails on a name in
use) and then ``unlink``: two operations on the folder, each of which takes its lock. A
batch moves two or three files per image into one folder from eight threads, so the
folder's lock is where they queue: one operation instead of two is most of the saving.

Where the call is missing (not Linux, an old C library) or the filesystem refuses the
flag, :func:`move_noreplace` says so once and the caller links and unlinks as before.

A new file need not have a name at all until it is whole: Linux's ``O_TMPFILE`` makes
one in a folder without an entry (:func:`open_unnamed`), and ``linkat`` gives it its
name when it is finished, failing if the name is taken (:func:`link_unnamed`). That is
one operation on the folder per file where a named temporary file takes three (create,
and a rename's removal and addition), and a ``kill -9`` leaves nothing behind: the
system frees an unnamed file when its last descriptor closes.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
#: Errors meaning "this system or filesystem cannot do it": fall back for good.
_UNSUPPORTED = (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP)

_lock = threading.Lock()
_call: Callable[..., int] | None = None
_errno: Callable[[], int] | None = None
_available = sys.platform == "linux"


def _load() -> bool:
    """Find ``renameat2`` in the C library, once (ctypes is imported only then)."""
    global _call, _errno, _available  # noqa: PLW0603 - looked up once per process
    with _lock:
        if _call is None and _available:
            try:
                import ctypes  # noqa: PLC0415 - only when a file is first moved

                function = ctypes.CDLL(None, use_errno=True).renameat2
            except (OSError, AttributeError):  # no such function in this C library
                _available = False
            else:
                function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                     ctypes.c_char_p, ctypes.c_uint]
                function.restype = ctypes.c_int
                _call, _errno = function, ctypes.get_errno
    return _available


_PROC_FD = Path("/proc/self/fd")
#: Errors of ``open(O_TMPFILE)`` meaning "not here": an old kernel, or a filesystem
#: without it (EISDIR is what a kernel that predates the flag answers).
_NO_TMPFILE = (errno.EISDIR, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS)
_tmpfile_refused: set[str] = set()  # folders whose filesystem said no, asked once each
_proc_mounted: bool | None = None  # /proc is how an unnamed file is named: looked at once


def open_unnamed(directory: Path) -> int | None:
    """A new empty file in ``directory`` with no name, open for reading and writing
    (mode 0666 less the umask, as any new file); None where the system or the folder's
    filesystem cannot make one (the caller makes a named temporary file instead)."""
    global _proc_mounted  # noqa: PLW0603 - looked at once per process
    flag = getattr(os, "O_TMPFILE", 0)
    if _proc_mounted is None:
        _proc_mounted = bool(flag) and _PROC_FD.is_dir()
    key = str(directory)
    if not _proc_mounted or key in _tmpfile_refused:
        return None
    try:
        return os.open(directory, flag | os.O_RDWR | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno not in _NO_TMPFILE:
            raise
        _tmpfile_refused.add(key)
        return None


def proc_path(fd: int) -> Path:
    """The path that opens the file of descriptor ``fd`` anew (own offset), while open."""
    return _PROC_FD / str(fd)


def link_unnamed(fd: int, destination: Path) -> None:
    """Give the unnamed file of ``fd`` the name ``destination``: FileExistsError when the
    name is taken, never replacing it."""
    # The path is absolute, so the descriptor given as src_dir_fd is not used to find it:
    # it only makes Python call linkat(), whose AT_SYMLINK_FOLLOW follows /proc's link to
    # the file itself (link() would try to link the symbolic link).
    os.link(proc_path(fd), destination, src_dir_fd=fd, follow_symlinks=True)


def move_noreplace(source: Path, destination: Path) -> bool:
    """Rename ``source`` to ``destination`` unless that name is taken.

    True when done; FileExistsError when the name is taken; False when this system or
    filesystem cannot rename without replacing (the caller falls back) or the rename
    failed for another reason (the caller's fallback then raises the real error).
    """
    global _available  # noqa: PLW0603 - a filesystem refusing the flag: fall back for good
    if not _available or (_call is None and not _load()):
        return False
    assert _call is not None and _errno is not None
    if _call(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination),
             _RENAME_NOREPLACE) == 0:
        return True
    error = _errno()
    if error == errno.EEXIST:
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(destination))
    if error in _UNSUPPORTED:
        _available = False
    return False
