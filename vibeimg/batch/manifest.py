"""The batch manifest: an append-only JSON Lines record of what a batch has done.

One line per finished item (``"type": "item"``, ``"status"`` ``ok``, ``failed`` or
``unknown``: see :mod:`vibeimg.batch.records`) and one line per run naming the items it
set out to make (``"type": "plan"``). Lines are written whole and ``fsync``'d before
their items are reported (several lines share one ``fsync`` when several items finish
at once), so a ``kill -9`` loses nothing that had completed and never leaves half a
line; a torn last line (a power cut) is skipped when reading, and a write that fails
(a full disk) is cut back off (:mod:`vibeimg.batch.writer`).

Before each request goes out, an intent line (``"type": "sending"``) names its item;
a request that certainly was not billed after all (refused as busy, dropped before it
went out) gets an ``"unsent"`` line. An intent with no line about its item after it is
a request whose outcome nobody learned (the run was killed while it was on the wire):
a rerun treats the item as of unknown outcome (:func:`unanswered`). Readers of older
vibeimg versions skip these lines, as they skip any type they do not know.

An unsharded batch writes ``vibeimg-manifest.jsonl`` in its output folder, shard K of
N writes ``vibeimg-manifest-KofN.jsonl``: shards can share a folder, and artifacts of
a CI matrix can be downloaded into one folder without overwriting each other.
Readers take every ``vibeimg-manifest*.jsonl`` of a folder.

While a batch runs it holds an exclusive lock on its manifest (two runs of the same
shard would pay twice) and a shared lock on the folder. A run that finds the folder
unlocked knows that nobody is writing there and removes the temporary files a killed
run left behind.

The manifest and the lock file are opened without following symbolic links: a link
left in the folder (a restored CI cache can carry one) is refused, never written
through, and a manifest found in a folder is read only when it is a file of its own.
A named pipe, a folder or a device in a manifest's place is refused, never read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError

if sys.platform != "win32":
    import fcntl

MANIFEST_PREFIX = "vibeimg-manifest"
MANIFEST_GLOB = f"{MANIFEST_PREFIX}*.jsonl"
FOLDER_LOCK = ".vibeimg-batch.lock"
TEMP_GLOB = ".vibeimg-*.part"  # images.AtomicFile's temporary names
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

Record = dict[str, Any]


def open_nofollow(path: Path, flags: int, what: str) -> int:
    """``os.open`` that refuses a symbolic link in place of the file (UsageError)."""
    try:
        return os.open(path, flags | NOFOLLOW, 0o644)
    except OSError as exc:
        if path.is_symlink():
            raise UsageError(
                f"{what} {path} is a symbolic link: vibeimg never writes through one",
                hint="remove the link (a restored cache can carry one), or choose another "
                     "--out-dir") from exc
        raise


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words: ``a named pipe (FIFO)``..."""
    return next((name for test, name in _KINDS if test(mode)), "something else")


def not_regular(path: Path, mode: int) -> UsageError:
    """The error for a manifest's place taken by something that is not a file (a
    named pipe would hang a reader, a folder cannot be appended to)."""
    return UsageError(
        f"the manifest {path} is {kind_of(mode)}, not a regular file: vibeimg keeps a "
        "batch's record there",
        hint="move it out of the way, or use another output folder: vibeimg creates "
             "the manifest itself")


def busy(path: Path) -> UsageError:
    return UsageError(f"another vibeimg batch is already writing {path}; nothing was sent",
                      hint="wait for it to finish, or use another --out-dir or --shard")


def refuse_if_busy(path: Path) -> None:
    """Refuse (UsageError) while another run holds the manifest at ``path``: asked
    before the folder is read, so that nothing of that run's work in progress is taken
    for an earlier run's, and nothing is said about sending. Creates nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | NOFOLLOW)
    except OSError:
        return  # none yet (a link or a special file is refused when it is read)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode) and not try_lock(fd, exclusive=True):
            raise busy(path)
    finally:
        os.close(fd)


def manifest_name(shard: str | None) -> str:
    """``vibeimg-manifest.jsonl``, or ``vibeimg-manifest-2of3.jsonl`` for shard 2/3."""
    if shard is None:
        return f"{MANIFEST_PREFIX}.jsonl"
    return f"{MANIFEST_PREFIX}-{shard.replace('/', 'of')}.jsonl"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def try_lock(fd: int, *, exclusive: bool) -> bool:
    if sys.platform == "win32":  # pragma: no cover - no advisory locks there
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class FolderLock:
    """A shared lock on the output folder; cleans up after killed runs when alone."""

    def __init__(self, directory: Path, subfolders: Iterable[Path] = ()) -> None:
        self._fd = open_nofollow(directory / FOLDER_LOCK, os.O_RDWR | os.O_CREAT,
                                  "the lock file")
        self._folders = sorted({directory, *subfolders})
        self.cleaned: list[Path] = []
        self.clean_if_alone()
        if sys.platform != "win32":
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def clean_if_alone(self) -> None:
        """Remove temporary files if no other batch runs here (they are leftovers)."""
        if not try_lock(self._fd, exclusive=True):
            return
        for folder in self._folders:
            for leftover in folder.glob(TEMP_GLOB):
                with contextlib.suppress(OSError):
                    leftover.unlink()
                    self.cleaned.append(leftover)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest(path: Path, *, follow: bool = True) -> tuple[list[Record], int]:
    """The records of one manifest, and how many unreadable lines were skipped.

    ``follow=False`` refuses a symbolic link (UsageError) instead of reading its target.
    Anything but a regular file (a named pipe, a folder) is refused, never read.
    """
    records: list[Record] = []
    skipped = 0
    flags = os.O_RDONLY | os.O_NONBLOCK  # a named pipe must not block the open
    try:
        fd = os.open(path, flags) if follow else open_nofollow(path, flags, "the manifest")
    except FileNotFoundError:
        return [], 0
    except OSError as exc:  # a socket, a file it may not read
        with contextlib.suppress(OSError):
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                raise not_regular(path, mode) from exc
        raise UsageError(f"cannot read the manifest {path}: {exc.strerror or exc}",
                         hint="check its permissions, or use another output folder") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise not_regular(path, mode)
    with os.fdopen(fd, "rb") as file:
        lines = file.read().splitlines()
    for raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # cut short by a kill, or nested absurdly deep
            skipped += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("key", ""), str):
            records.append(record)
        else:
            skipped += 1
    return records, skipped


class LineReader:
    """Reads lines of a manifest back by their offsets (what :meth:`ManifestWriter.submit`
    reported): a run keeps an offset per item, not its record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def record(self, offset: int, key: str) -> Record | None:
        """The record of the line at ``offset``, if it is there and of item ``key``."""
        try:
            if self._fd is None:
                self._fd = open_nofollow(self.path, os.O_RDONLY, "the manifest")
            data = b""
            while not data.endswith(b"\n"):
                block = os.pread(self._fd, 4096, offset + len(data))
                if not block:
                    break
                data += block
                if b"\n" in block:
                    break
            record = json.loads(data.partition(b"\n")[0])
        except (OSError, UsageError, ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def unanswered(records: Iterable[Record]) -> dict[str, Record]:
    """Per key, its intent line (``"type": "sending"``) when no line about its item
    follows: the request went out and nothing says what became of it."""
    found: dict[str, Record] = {}
    for record in records:
        kind, key = record.get("type"), record.get("key")
        if not isinstance(key, str):
            continue
        if kind == "sending":
            found[key] = record
        elif kind in ("item", "unsent"):
            found.pop(key, None)
    return found


def manifests_in(directory: Path) -> list[Path]:
    return sorted(directory.glob(MANIFEST_GLOB))


def read_folder(directory: Path) -> tuple[list[Record], int]:
    """Every record of every manifest in ``directory`` (a symbolic link is refused)."""
    records: list[Record] = []
    skipped = 0
    for path in manifests_in(directory):
        found, bad = read_manifest(path, follow=False)
        records.extend(found)
        skipped += bad
    return records, skipped


def item_records(records: Iterable[Record]) -> Iterator[Record]:
    return (r for r in records if r.get("type") == "item" and isinstance(r.get("key"), str))


def latest(records: Iterable[Record]) -> dict[str, Record]:
    """The outcome of each key: its success if there is one, else its last failure."""
    outcome: dict[str, Record] = {}
    for record in item_records(records):
        key = record["key"]
        if outcome.get(key, {}).get("status") != "ok":
            outcome[key] = record
    return outcome
