"""Moving a file to a name nobody has, in one directory operation where the system can.

Linux's ``renameat2`` with ``RENAME_NOREPLACE`` renames a file unless its new name is
taken, atomically. Without it the same is done with ``link`` (which fails on a name in
use) and then ``unlink``: two operations on the folder, each of which takes its lock. A
batch moves two or three files per image into one folder from eight threads, so the
folder's lock is where they queue: one operation instead of two is most of the saving.

Where the call is missing (not Linux, an old C library) or the filesystem refuses the
flag, :func:`move_noreplace` says so once and the caller links and unlinks as before.
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
