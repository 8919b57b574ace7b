"""What a rerun trusts: each finished item's files, checked against its manifest line.

A manifest line names an image and its sidecar by paths relative to the output folder,
with their sizes and SHA-256s. A rerun skips an item only when both files are still
what the line says; a missing or changed file is made again, with a warning naming it.
A path that is absolute or climbs out of the folder (``../../etc/x``), a file reached
through a symbolic link, or one that is a link itself, is never trusted: a restored
CI cache or a hand-edited line can hold any of them.

Two levels (``batch --verify``):

    fast  (default) each file's size; its SHA-256 too whenever its modification time is
          not the one recorded (or none was): an untouched folder costs one ``lstat``
          per file, and a file rewritten in any way since is hashed
    full  each file's size and SHA-256, whatever its modification time
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

Record = dict[str, Any]
VERIFY_LEVELS = ("fast", "full")


def contained(value: object) -> str | None:
    """``value`` if it is a relative path that stays below its folder, else None.

    Refused: anything but a non-empty string, an absolute path (POSIX or Windows), and
    any ``..`` part, wherever it is (``a/../../x``).
    """
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() \
            or PureWindowsPath(value).drive:
        return None
    if ".." in PurePosixPath(value.replace("\\", "/")).parts:
        return None
    return value


def resolves_inside(folder: Path, relative: str) -> bool:
    """Whether ``folder/relative``, every symbolic link followed, is still in ``folder``."""
    root = os.path.realpath(folder)
    target = os.path.realpath(folder / relative)
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def nofollow_sha256(path: Path) -> str:
    """The SHA-256 of a file, opened without following a symbolic link."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    digest = hashlib.sha256()
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_facts(path: Path) -> dict[str, Any]:
    """What a manifest line records of a file it vouches for: size, SHA-256, mtime."""
    info = os.lstat(path)
    return {"bytes": info.st_size, "sha256": nofollow_sha256(path),
            "mtime_ns": info.st_mtime_ns}


def check_file(path: Path, *, size: object, sha256: object, mtime_ns: object,
               level: str) -> str | None:
    """Why ``path`` is not the file recorded (``is missing``...), or None when it is."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link, which a batch never trusts"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if isinstance(size, int) and not isinstance(size, bool) and info.st_size != size:
        return f"has {info.st_size:,} bytes, not the {size:,} recorded"
    if not isinstance(sha256, str):
        return None  # an old line without a digest: its size is all there is to check
    if level == "fast" and isinstance(mtime_ns, int) and info.st_mtime_ns == mtime_ns:
        return None
    try:
        actual = nofollow_sha256(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None if actual == sha256 else "has changed since it was saved (another SHA-256)"


@dataclass(frozen=True)
class Problem:
    """Why a finished item's line cannot be trusted: which file, and what is wrong."""

    record: Record
    path: str  # as the line names it, relative to the output folder
    problem: str

    def describe(self, out_dir: Path) -> str:
        where = f"line {self.record.get('line')}"
        if (self.record.get("index") or 1) != 1:
            where += f" #{self.record['index']}"
        return f"{where}: {out_dir / self.path} {self.problem}: the item is made again"


def verify_record(record: Record, out_dir: Path, level: str) -> Problem | None:
    """None when the line's image and sidecar are still what it says, else the problem.
    The caller has checked that the line's paths stay inside ``out_dir``."""
    checks: list[tuple[object, object, object, object]] = [
        (record.get("path"), record.get("bytes"), record.get("sha256"),
         record.get("mtime_ns"))]
    if record.get("sidecar") is not None:
        checks.append((record.get("sidecar"), record.get("sidecar_bytes"),
                       record.get("sidecar_sha256"), record.get("sidecar_mtime_ns")))
    for name, size, digest, mtime in checks:
        relative = str(contained(name))
        problem = check_file(out_dir / relative, size=size, sha256=digest, mtime_ns=mtime,
                             level=level)
        if problem is not None:
            return Problem(record, relative, problem)
    return None


def safe_paths(record: Record, folder: Path) -> bool:
    """Whether every path of the line stays inside ``folder`` (links followed); an ``ok``
    line must name its image."""
    for name in ("path", "sidecar"):
        value = record.get(name)
        if value is None and (name == "sidecar" or record.get("status") != "ok"):
            continue
        relative = contained(value)
        if relative is None or not resolves_inside(folder, relative):
            return False
    return True
