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
from pathlib import Path
from typing import Any

Record = dict[str, Any]
VERIFY_LEVELS = ("fast", "full")


def contained(value: object) -> str | None:
    """``value`` if it is a relative path that stays below its folder, else None.

    Refused: anything but a non-empty string, an absolute path (POSIX or Windows, a
    drive letter included), and any ``..`` part, wherever it is (``a/../../x``).
    Plain string checks: a rerun makes them for every file of every finished item.
    """
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    if value[0] in "/\\" or value[1:2] == ":":
        return None
    if ".." in value.replace("\\", "/").split("/"):
        return None
    return value


class Realpaths:
    """``os.path.realpath`` of folders, each resolved once per plan (a folder holds
    thousands of images; resolving each path would ``lstat`` every part of it)."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        known = self._known.get(path)
        if known is None:
            known = self._known[path] = os.path.realpath(path)
        return known


def resolves_inside(folder: Path, relative: str, realpaths: Realpaths | None = None, *,
                    is_folder: bool = False) -> bool:
    """Whether ``folder/relative`` (a file's folder, or with ``is_folder`` the folder
    itself), every symbolic link followed, is still in ``folder``. A file itself is
    checked with ``lstat`` where it is read: a link is never trusted."""
    real = realpaths or Realpaths()
    root = real(os.fspath(folder))
    parent = relative if is_folder else os.path.split(relative)[0]
    target = real(os.path.join(folder, parent)) if parent else root  # noqa: PTH118 - a str, hot
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def nofollow_sha256(path: Path | str) -> str:
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


def check_file(path: Path | str, *, size: object, sha256: object, mtime_ns: object,
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
    folder = os.fspath(out_dir)
    for prefix, name in (("", "path"), ("sidecar_", "sidecar")):
        relative = record.get(name)
        if relative is None and name == "sidecar":
            continue
        problem = check_file(
            os.path.join(folder, str(relative)),  # noqa: PTH118 - a str: twice per item
            size=record.get(f"{prefix}bytes"), sha256=record.get(f"{prefix}sha256"),
            mtime_ns=record.get(f"{prefix}mtime_ns"), level=level)
        if problem is not None:
            return Problem(record, str(relative), problem)
    return None


def safe_paths(record: Record, folder: Path, realpaths: Realpaths | None = None) -> bool:
    """Whether every path of the line stays inside ``folder`` (links followed); an ``ok``
    line must name its image."""
    for name in ("path", "sidecar"):
        value = record.get(name)
        if value is None and (name == "sidecar" or record.get("status") != "ok"):
            continue
        relative = contained(value)
        if relative is None or not resolves_inside(folder, relative, realpaths):
            return False
    return True
