"""Whether an output folder can be written, found by trying, and the one error that says
why not before any request is sent: a read-only file system (EROFS) told apart from a
permission to fix, since the fixes differ (another disk; chmod)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from vibeimg.errors import UsageError


def write_error(folder: Path, *, make_folder: bool = False) -> OSError | None:
    """Why nothing can be written in ``folder``, found by trying; None when it can.

    Permission bits are not the whole story: root passes every ``os.access`` check, yet
    cannot write in /proc or on a read-only mount. So a temporary file (or, with
    ``make_folder``, a folder) is made in ``folder`` and removed at once.
    """
    try:
        if make_folder:
            Path(tempfile.mkdtemp(prefix=".vibeimg-probe-", dir=folder)).rmdir()
        else:
            handle, name = tempfile.mkstemp(prefix=".vibeimg-probe-", suffix=".part",
                                            dir=folder)
            os.close(handle)
            Path(name).unlink()
    except OSError as exc:
        return exc
    return None


def write_problem(folder: Path, *, make_folder: bool = False) -> str | None:
    """:func:`write_error` in words: a read-only file system named as such."""
    error = write_error(folder, make_folder=make_folder)
    if error is None:
        return None
    if error.errno == errno.EROFS:
        return READ_ONLY
    return error.strerror or str(error)


#: What EROFS means, said so that no one looks for a permission to fix.
READ_ONLY = "the file system is read-only (EROFS)"
#: The fix for an output folder on a read-only file system.
READ_ONLY_FIX = "choose a folder on a writable disk with --out-dir"


def ensure_output_dir(directory: Path) -> Path:
    """Create the output folder if needed and check it is writable, before any request."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        read_only = exc.errno == errno.EROFS
        raise UsageError(
            f"cannot create the output folder {directory}: "
            f"{READ_ONLY if read_only else exc.strerror}",
            hint=READ_ONLY_FIX if read_only else "choose another with --out-dir",
        ) from exc
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder", hint="choose another with --out-dir")
    error = write_error(directory)
    if error is not None and error.errno == errno.EROFS:
        raise UsageError(f"the output folder {directory} is on a read-only file system "
                         "(EROFS): nothing can be saved in it", hint=READ_ONLY_FIX)
    if error is not None or not os.access(directory, os.W_OK | os.X_OK):
        denied = error is None or error.errno in (errno.EACCES, errno.EPERM)
        problem = "permission denied" if error is None or denied else \
            error.strerror or str(error)
        raise UsageError(
            f"the output folder {directory} is not writable ({problem})",
            hint=f"make it writable (chmod u+w {directory}) or choose another with --out-dir"
            if denied else "choose another with --out-dir")
    return directory
