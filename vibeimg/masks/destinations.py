"""Where ``mask-convert`` may write a mask: refused before any work, when no file can
be written there (a folder, a FIFO, a device, a link to an open stream, a name too long)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from vibeimg.errors import UsageError
from vibeimg.files.inputs import special_kind
from vibeimg.files.naming import NAME_MAX


def check_destination(destination: str) -> None:
    """Refuse, before any work, a name no file can have and a place no mask can be
    written as a file: a folder, or a FIFO, device or socket (itself, or where a link
    such as ``/dev/stdout`` leads: --force would put a file in place of the link)."""
    path = Path(destination)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise UsageError(f"the output name {path.name[:40]}... is "
                         f"{len(os.fsencode(path.name))} bytes long; file names hold at "
                         f"most {NAME_MAX}", hint="choose a shorter name")
    try:
        linked = stat.S_ISLNK(os.lstat(path).st_mode)
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise UsageError(f"the output path {destination[:40]}... is too long",
                             hint="choose a shorter path") from None
        return  # nothing there (or a dangling link): the write says the rest
    if linked and _names_a_stream(path):
        raise UsageError(f"{destination} is a name of an open stream (a link into /proc), "
                         "not a file: --force would replace the link itself",
                         hint="to write the mask to stdout, use '-'")
    if stat.S_ISDIR(mode) and not linked:
        raise UsageError(f"{destination} is a folder, not a file the mask can replace",
                         hint="name a file, or save into the folder with --out-dir")
    kind = special_kind(mode)
    if kind is not None:
        where = f"{destination} leads to {kind}" if linked else f"{destination} is {kind}"
        raise UsageError(f"{where}, not a regular file the mask can replace",
                         hint="name a regular file; to write the mask to stdout, use '-'")


def _names_a_stream(link: Path) -> bool:
    """Whether the link leads through /proc/.../fd/: ``/dev/stdout``, ``/dev/stderr``."""
    try:
        target = link.readlink().as_posix()
    except OSError:
        return False
    return target.startswith("/proc/") and "/fd/" in target
