"""The batch manifest: an append-only JSON Lines record of what a batch has done.

One line per finished item (``"type": "item"``, ``"status"`` ``ok``, ``failed`` or
``unknown``: see :mod:`vibeimg.batch.records`) and one line per run naming the items it
set out to make (``"type": "plan"``). Lines are written whole and ``fsync``'d before
their items are reported (several lines share one ``fsync`` when several items finish
at once), so a ``kill -9`` loses nothing that had completed and never leaves half a
line; a torn last
line (a power cut) is skipped when reading.

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
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError, save_error

if sys.platform != "win32":
    import fcntl

MANIFEST_PREFIX = "vibeimg-manifest"
MANIFEST_GLOB = f"{MANIFEST_PREFIX}*.jsonl"
FOLDER_LOCK = ".vibeimg-batch.lock"
TEMP_GLOB = ".vibeimg-*.part"  # images.AtomicFile's temporary names
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

Record = dict[str, Any]


def _open_nofollow(path: Path, flags: int, what: str) -> int:
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


def _try_lock(fd: int, *, exclusive: bool) -> bool:
    if sys.platform == "win32":  # pragma: no cover - no advisory locks there
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


#: Told when a line is durable: ``(None, offset)``, the offset where the line starts in
#: the file (to read it back); or that it failed: ``(error, -1)``.
Durable = Callable[[OSError | None, int], None]
GATHER_SECONDS = 0.02  # how long a first line waits for others to share its fsync


class ManifestWriter:
    """Appends records to one manifest, each durable before it is acknowledged.

    Group commit: one writer thread writes every line queued since its last ``fsync``
    in a single ``write``, then ``fsync``s once for all of them, and only then tells
    each line's sender (:meth:`submit`'s callback; :meth:`append` waits for it). Items
    finishing at once share one ``fsync``, a worker never waits on another's, and a
    ``kill -9`` loses no line that had been acknowledged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = _open_nofollow(path, os.O_RDWR | os.O_APPEND | os.O_CREAT,
                                      "the manifest")
        except OSError as exc:
            raise save_error(exc, f"the manifest {path}") from exc
        if not _try_lock(self._fd, exclusive=True):
            os.close(self._fd)
            raise UsageError(
                f"another vibeimg batch is already writing {path}",
                hint="wait for it to finish, or use another --out-dir or --shard",
            )
        self._torn = self._ends_mid_line()
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)  # the writer waits on it alone
        self._pending: list[tuple[bytes, Durable]] = []  # lines for the next write
        self._failure: OSError | None = None  # the write or fsync that failed: no more
        self._closing = False
        self._writer: threading.Thread | None = None
        self._idle = False  # the writer waits for lines (else it finds them when done)

    def _ends_mid_line(self) -> bool:
        """Whether a run cut off mid-write left a last line without its newline."""
        size = os.fstat(self._fd).st_size
        return size > 0 and os.pread(self._fd, 1, size - 1) != b"\n"

    def append(self, record: Record) -> None:
        """Write one whole line and make it durable; a WriteError (disk full, a size
        limit) if it cannot be. A torn line is skipped when the manifest is read."""
        durable = threading.Event()
        failed: list[OSError] = []

        def told(failure: OSError | None, offset: int) -> None:
            del offset
            if failure is not None:
                failed.append(failure)
            durable.set()

        self.submit(record, told)
        durable.wait()
        if failed:
            raise save_error(failed[0], f"the manifest {self.path}") from failed[0]

    def submit(self, record: Record, then: Durable) -> None:
        """Queue one line; ``then(None, offset)`` is called (on the writer thread) once
        it is durable, ``then(error, -1)`` if it cannot be written. Never blocks on the
        disk."""
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode(
            "utf-8", "surrogateescape")
        with self._lock:
            if self._closing and self._failure is None:  # no writer to wait for
                self._failure = OSError(errno.EBADF, "the manifest was closed")
            failure = self._failure
            if failure is None:
                self._pending.append((line, then))
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_all, daemon=True,
                                                    name="vibeimg-manifest")
                    self._writer.start()
                if self._idle:
                    self._has_work.notify()
        if failure is not None:
            then(failure, -1)

    def _write_all(self) -> None:
        """The writer thread: everything queued, one write and one fsync at a time."""
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._idle = True
                    self._has_work.wait()
                    self._idle = False
                if not self._pending:
                    return
                if not self._closing:  # woken by a first line: let others join its fsync
                    self._has_work.wait(GATHER_SECONDS)
                batch, self._pending = self._pending, []
            try:
                offset = self._write(b"".join(line for line, _ in batch))
            except OSError as exc:
                with self._lock:
                    self._failure = exc
                    batch += self._pending
                    self._pending = []
                for _, then in batch:
                    then(exc, -1)
                return
            for line, then in batch:
                then(None, offset)
                offset += len(line)

    def _write(self, data: bytes) -> int:
        """Append ``data`` (whole lines) and sync it; the offset where it starts."""
        view = memoryview((b"\n" if self._torn else b"") + data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._torn = bool(view)
        os.fsync(self._fd)
        # Appended, so the file's position is now the end of these lines.
        return os.lseek(self._fd, 0, os.SEEK_CUR) - len(data)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._has_work.notify()
        if self._writer is not None:
            self._writer.join()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderLock:
    """A shared lock on the output folder; cleans up after killed runs when alone."""

    def __init__(self, directory: Path, subfolders: Iterable[Path] = ()) -> None:
        self._fd = _open_nofollow(directory / FOLDER_LOCK, os.O_RDWR | os.O_CREAT,
                                  "the lock file")
        self._folders = sorted({directory, *subfolders})
        self.cleaned: list[Path] = []
        self.clean_if_alone()
        if sys.platform != "win32":
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def clean_if_alone(self) -> None:
        """Remove temporary files if no other batch runs here (they are leftovers)."""
        if not _try_lock(self._fd, exclusive=True):
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
    """
    records: list[Record] = []
    skipped = 0
    try:
        fd = _open_nofollow(path, os.O_RDONLY, "the manifest") if not follow else None
        if fd is None:
            lines = path.read_bytes().splitlines()
        else:
            with os.fdopen(fd, "rb") as file:
                lines = file.read().splitlines()
    except FileNotFoundError:
        return [], 0
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
                self._fd = _open_nofollow(self.path, os.O_RDONLY, "the manifest")
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
