"""What a rerun trusts: each finished item's files, checked against its manifest line.

A manifest line names an image and its sidecar by paths relative to the output folder,
with their sizes and SHA-256s. A rerun skips an item whose image is still what the line
says; a missing or changed image is made again, with a warning naming it. An intact
image is never bought again for its sidecar's sake: a sidecar that changed but still
describes the image (valid JSON naming it and the item) is kept as it is, and one that
is missing or damaged is written again from the manifest line, with a warning, and
nothing is sent.
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

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vibeimg.errors import WriteError

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


#: What is done about a line's file that is not what the line says.
REMAKE = "remake"  # the image: the item is made again
REWRITE = "rewrite"  # the sidecar of an intact image: written again from the line
KEEP = "keep"  # the sidecar, but it cannot be replaced (a folder): left, the item done


@dataclass(frozen=True)
class Problem:
    """Why a finished item's line cannot be trusted: which file, what is wrong, and what
    the rerun does about it (``remedy``: REMAKE, REWRITE or KEEP)."""

    record: Record
    path: str  # as the line names it, relative to the output folder
    problem: str
    remedy: str = REMAKE

    @property
    def sidecar_only(self) -> bool:
        """The image is intact: the item stays done, and nothing is sent for it."""
        return self.remedy != REMAKE

    def describe(self, out_dir: Path) -> str:
        where = f"line {self.record.get('line')}"
        if (self.record.get("index") or 1) != 1:
            where += f" #{self.record['index']}"
        said = f"{where}: {out_dir / self.path} {self.problem}"
        if self.remedy == REWRITE:
            return (f"{said}: the image is intact, so nothing is sent; the sidecar is "
                    "written again from the manifest")
        if self.remedy == KEEP:
            return (f"{said}: the image is intact, so nothing is sent; move it aside to have "
                    "the sidecar written again from the manifest")
        return f"{said}: the item is made again"

    def rewrite(self, out_dir: Path) -> None:
        """Write the sidecar of an intact image again from its line (REWRITE only);
        atomically, replacing the damaged file (or a link) itself, never writing
        through it. A failure leaves things as they were: the image is what counts."""
        if self.remedy != REWRITE:
            return
        from vibeimg.files.sidecars import write_sidecar  # noqa: PLC0415 - a rare repair

        with contextlib.suppress(OSError, WriteError):
            write_sidecar(out_dir / str(self.record["path"]), sidecar_from_record(self.record))


def verify_record(record: Record, out_dir: Path, level: str) -> Problem | None:
    """None when the line's image and sidecar are still what it says, else the problem.
    The caller has checked that the line's paths stay inside ``out_dir``."""
    folder = os.fspath(out_dir)
    image = str(record.get("path"))
    problem = check_file(
        os.path.join(folder, image),  # noqa: PTH118 - a str: twice per item
        size=record.get("bytes"), sha256=record.get("sha256"),
        mtime_ns=record.get("mtime_ns"), level=level)
    if problem is not None:
        return Problem(record, image, problem)
    relative = record.get("sidecar")
    if relative is None:  # --no-sidecar
        return None
    path = os.path.join(folder, str(relative))  # noqa: PTH118
    problem = check_file(path, size=record.get("sidecar_bytes"),
                         sha256=record.get("sidecar_sha256"),
                         mtime_ns=record.get("sidecar_mtime_ns"), level=level)
    if problem is None or _describes(path, record):
        return None  # a sidecar edited, or written again by an earlier rerun: still true
    return Problem(record, str(relative), problem, _sidecar_remedy(path, record))


def _describes(path: str, record: Record) -> bool:
    """Whether ``path`` is a regular file (no link) holding a vibeimg sidecar of the
    line's image: JSON naming the image, its size and the item's key."""
    from vibeimg.files.sidecars import read_sidecar  # noqa: PLC0415 - only when changed

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    data = read_sidecar(Path(path))
    batch = data.get("batch") if data is not None else None
    return (data is not None and "vibeimg_version" in data
            and data.get("file") == Path(str(record.get("path"))).name
            and data.get("bytes") == record.get("bytes")
            and isinstance(batch, dict) and batch.get("key") == record.get("key"))


def _sidecar_remedy(path: str, record: Record) -> str:
    """REWRITE when the sidecar can be replaced, where the image's sidecar belongs (it
    is missing, a file or a link); KEEP for a folder, a FIFO, or a name of another kind."""
    from vibeimg.files.sidecars import sidecar_path  # noqa: PLC0415 - only when damaged

    if sidecar_path(Path(str(record.get("path")))) != Path(str(record.get("sidecar"))):
        return KEEP
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return REWRITE
    except OSError:
        return KEEP
    return REWRITE if stat.S_ISREG(mode) or stat.S_ISLNK(mode) else KEEP


def sidecar_from_record(record: Record) -> dict[str, Any]:
    """The sidecar of a line's image, as far as the line knows it: every field a sidecar
    has but the gateway's ``created`` time and the edit inputs' digests, and
    ``rebuilt_from_manifest`` to say so."""
    from vibeimg.version import __version__  # noqa: PLC0415 - only for a repair

    parameters = record.get("parameters") or {}
    return {
        "file": Path(str(record.get("path"))).name,
        "prompt": record.get("prompt"),
        "revised_prompt": record.get("revised_prompt"),
        "model": parameters.get("model") if isinstance(parameters, dict) else None,
        "endpoint": "images/edits" if record.get("kind") == "edit" else "images/generations",
        "parameters": parameters,
        "format": record.get("format"),
        "size": record.get("size"),
        "quality": record.get("quality"),
        "bytes": record.get("bytes"),
        "usage": record.get("usage"),
        "request_id": record.get("request_id"),
        "created": None,
        "saved_at": record.get("finished_at"),
        "elapsed_seconds": record.get("elapsed_seconds"),
        "estimated_cost_usd": record.get("estimated_cost_usd"),
        "cost_extrapolated": bool(record.get("cost_extrapolated")),
        "offline": bool(record.get("offline")),
        "vibeimg_version": __version__,
        "batch": {"key": record.get("key"), "line": record.get("line"),
                  "index": record.get("index")},
        "rebuilt_from_manifest": True,
    }


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
