"""The manifest, the folder lock and the adaptive concurrency limit, on their own."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from pathlib import Path

import pytest

from vibeimg.batch.items import BatchDefaults, parse_batch
from vibeimg.batch.ledger import Ledger
from vibeimg.batch.limiter import AdaptiveLimit
from vibeimg.batch.manifest import (
    FolderLock,
    LineReader,
    latest,
    manifest_name,
    read_folder,
    read_manifest,
)
from vibeimg.batch.plan import make_plan
from vibeimg.batch.verify import file_facts, safe_paths, verify_record
from vibeimg.batch.writer import ManifestWriter
from vibeimg.errors import UsageError, WriteError


def test_manifest_names() -> None:
    """Unsharded and sharded runs write different files, so shards can share a folder."""
    assert manifest_name(None) == "vibeimg-manifest.jsonl"
    assert manifest_name("2/3") == "vibeimg-manifest-2of3.jsonl"


def test_append_then_read_back_skipping_a_torn_line(tmp_path: Path) -> None:
    """Each append is one whole line; a torn last line (power cut) is skipped, not fatal."""
    path = tmp_path / "vibeimg-manifest.jsonl"
    with ManifestWriter(path) as writer:
        writer.append({"type": "item", "key": "a", "status": "ok", "prompt": "ü"})
        writer.append({"type": "item", "key": "b", "status": "failed"})
    with path.open("a", encoding="utf-8") as file:
        file.write('{"type": "item", "key": "c", "sta')
    records, skipped = read_manifest(path)
    assert [r["key"] for r in records] == ["a", "b"] and skipped == 1
    assert records[0]["prompt"] == "ü"


def test_lines_finishing_together_share_an_fsync(tmp_path: Path, monkeypatch) -> None:
    """Eight workers appending at once: every line lands whole, each append returns only
    once its line was fsync'd, and lines finishing together share one fsync."""
    real_fsync = os.fsync
    synced: list[int] = []  # the file's size at each fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.005)  # a disk: long enough for other workers to queue lines
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    path = tmp_path / "vibeimg-manifest.jsonl"
    late: list[str] = []

    def work(writer: ManifestWriter, worker: int) -> None:
        for n in range(10):
            key = f"{worker}-{n}"
            writer.append({"type": "item", "key": key, "status": "ok"})
            text = path.read_bytes()
            end = text.index(f'"key": "{key}"'.encode()) + text[text.index(
                f'"key": "{key}"'.encode()):].index(b"\n") + 1
            if not synced or max(synced) < end:
                late.append(key)

    with ManifestWriter(path) as writer:
        workers = [threading.Thread(target=work, args=(writer, w)) for w in range(8)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
    records, skipped = read_manifest(path)
    assert len(records) == 80 and skipped == 0 and late == []
    assert len({r["key"] for r in records}) == 80
    assert len(synced) < 80


def test_a_submitted_line_is_acknowledged_only_once_durable(tmp_path: Path,
                                                           monkeypatch) -> None:
    """submit() never waits for the disk; its callback comes after the fsync that
    covered the line, never before (a worker sends its next request meanwhile)."""
    real_fsync = os.fsync
    disk = threading.Event()
    told: list[object] = []

    def held_fsync(fd: int) -> None:
        disk.wait(5)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", held_fsync)
    path = tmp_path / "vibeimg-manifest.jsonl"
    with ManifestWriter(path) as writer:
        started = time.monotonic()
        writer.submit({"type": "item", "key": "a", "status": "ok"},
                      lambda failure, _: told.append(failure))
        assert time.monotonic() - started < 1 and told == []
        time.sleep(0.05)
        assert told == []  # written, perhaps, but not yet durable
        disk.set()
    assert told == [None]
    assert [r["key"] for r in read_manifest(path)[0]] == ["a"]


def test_each_durable_line_is_told_where_it_starts(tmp_path: Path) -> None:
    """submit() tells each line's offset once it is durable, after a torn last line too;
    the line is read back from there, and only as the item it was written for."""
    path = tmp_path / "vibeimg-manifest.jsonl"
    path.write_bytes(b'{"type": "item", "key": "x", "sta')  # a run cut off mid-line
    told: dict[str, int] = {}
    with ManifestWriter(path) as writer:
        for key in ("a", "b", "c"):
            writer.submit({"type": "item", "key": key, "prompt": "ü " * 3000},
                          lambda failure, offset, key=key: told.setdefault(key, offset))
    reader = LineReader(path)
    try:
        assert [reader.record(told[key], key)["key"] for key in "abc"] == ["a", "b", "c"]
        assert reader.record(told["b"], "a") is None  # another item's line: not taken
        assert reader.record(0, "x") is None  # the torn line
    finally:
        reader.close()


def test_a_ledger_keeps_where_lines_are_and_reads_them_back(tmp_path: Path) -> None:
    """A finished item's record is read back from the manifest, in the plan's order;
    one whose line is not in the manifest (its writing failed) keeps its record."""
    items = parse_batch("a fox\na heron\nan owl\n", source="p.txt", base_dir=tmp_path,
                        defaults=BatchDefaults())
    plan = make_plan(items, out_dir=tmp_path, shard=None)
    ledger = Ledger(plan)
    records = [{"type": "item", "key": item.key, "status": "ok", "estimated_cost_usd": 0.011,
                "prompt": item.prompt} for item in items]
    offsets: dict[int, int] = {}
    with ManifestWriter(plan.manifest_path) as writer:
        writer.submit(records[2], lambda failure, offset: offsets.setdefault(2, offset))
    ledger.finish(2, "done", {**records[2], "prompt": "in memory"}, None, offsets[2])
    ledger.finish(0, "done", records[0])  # not in the manifest
    assert [(o.status, (o.record or {}).get("prompt")) for o in ledger] == [
        ("done", "a fox"), ("not-run", None), ("done", "an owl")]
    assert (ledger.count("done"), ledger.count("not-run"), ledger.spent) == (2, 1, 0.022)


def test_a_failed_fsync_fails_every_line_waiting_on_it(tmp_path: Path, monkeypatch) -> None:
    """A disk that cannot sync: the appends waiting on it get a WriteError, as do later
    ones; none is reported as durable."""
    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with ManifestWriter(tmp_path / "vibeimg-manifest.jsonl") as writer:
        for _ in range(2):
            with pytest.raises(WriteError, match="manifest"):
                writer.append({"type": "item", "key": "a", "status": "ok"})


def test_one_writer_per_manifest(tmp_path: Path) -> None:
    """A second run of the same shard in the same folder is refused: it would pay twice."""
    path = tmp_path / "vibeimg-manifest.jsonl"
    with ManifestWriter(path), pytest.raises(UsageError, match="already writing"):
        ManifestWriter(path)
    ManifestWriter(path).close()  # free again once the first is done


def test_a_line_is_trusted_only_while_its_files_are_what_it_says(tmp_path: Path) -> None:
    """Size first, then the SHA-256 when the modification time moved (fast) or always
    (full); a missing file, a link or a changed byte makes the line untrusted."""
    (tmp_path / "a.png").write_bytes(b"image bytes")
    line = {"type": "item", "key": "a", "status": "ok", "line": 1, "path": "a.png",
            **file_facts(tmp_path / "a.png")}
    assert verify_record(line, tmp_path, "fast") is None
    assert verify_record(line, tmp_path, "full") is None
    (tmp_path / "a.png").write_bytes(b"image bytez")  # same size, another digest
    os.utime(tmp_path / "a.png", ns=(line["mtime_ns"], line["mtime_ns"]))  # as touch -r
    assert verify_record(line, tmp_path, "fast") is None  # fast trusts an unmoved mtime
    problem = verify_record(line, tmp_path, "full")
    assert problem is not None and "another SHA-256" in problem.problem
    os.utime(tmp_path / "a.png", ns=(line["mtime_ns"], line["mtime_ns"] + 10**9))
    problem = verify_record(line, tmp_path, "fast")
    assert problem is not None and "another SHA-256" in problem.problem
    (tmp_path / "a.png").write_bytes(b"short")
    problem = verify_record(line, tmp_path, "fast")
    assert problem is not None and "has 5 bytes, not the 11 recorded" in problem.problem
    (tmp_path / "a.png").unlink()
    (tmp_path / "a.png").symlink_to(tmp_path / "elsewhere.png")
    problem = verify_record(line, tmp_path, "fast")
    assert problem is not None and "symbolic link" in problem.problem
    (tmp_path / "a.png").unlink()
    problem = verify_record(line, tmp_path, "fast")
    assert problem is not None and problem.problem == "is missing"


def test_paths_that_leave_the_folder_are_never_safe(tmp_path: Path) -> None:
    """Absolute paths, .. anywhere, and a subfolder that is a link leading out."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").mkdir()
    (tmp_path / "out" / "away").symlink_to(tmp_path)
    for path in ("/etc/passwd", "../x.png", "sub/../../x.png", "C:\\x.png", "", "away/x.png"):
        assert not safe_paths({"status": "ok", "path": path}, tmp_path / "out"), path
    assert safe_paths({"status": "ok", "path": "sub/x.png", "sidecar": "sub/x.json"},
                      tmp_path / "out")
    assert not safe_paths({"status": "ok", "path": "x.png", "sidecar": "../x.json"},
                          tmp_path / "out")


def test_latest_prefers_success_over_later_failures(tmp_path: Path) -> None:
    """A key's outcome is its success if any, else its last failure."""
    records = [
        {"type": "item", "key": "a", "status": "failed", "error": "first"},
        {"type": "item", "key": "a", "status": "ok"},
        {"type": "item", "key": "a", "status": "failed", "error": "later"},
        {"type": "item", "key": "b", "status": "failed", "error": "one"},
        {"type": "item", "key": "b", "status": "failed", "error": "two"},
    ]
    outcome = latest(records)
    assert outcome["a"]["status"] == "ok" and outcome["b"]["error"] == "two"


def test_read_folder_takes_every_manifest(tmp_path: Path) -> None:
    """Shard manifests and the unsharded one are all read."""
    for name, key in (("vibeimg-manifest.jsonl", "a"), ("vibeimg-manifest-1of2.jsonl", "b")):
        (tmp_path / name).write_text(json.dumps({"type": "item", "key": key}) + "\n")
    (tmp_path / "other.jsonl").write_text(json.dumps({"type": "item", "key": "z"}) + "\n")
    records, _ = read_folder(tmp_path)
    assert sorted(r["key"] for r in records) == ["a", "b"]


def test_folder_lock_cleans_leftovers_only_when_alone(tmp_path: Path) -> None:
    """Temporary files are removed by the first run, not while another run holds the folder."""
    leftover = tmp_path / ".vibeimg-abc.part"
    leftover.write_bytes(b"half an image")
    with FolderLock(tmp_path) as first:
        assert first.cleaned == [leftover] and not leftover.exists()
        leftover.write_bytes(b"another run's image in progress")
        with FolderLock(tmp_path) as second:
            assert second.cleaned == [] and leftover.exists()


def test_limit_halves_on_busy_and_grows_back() -> None:
    """AIMD: one busy answer halves the limit; a streak of successes raises it by one."""
    limit = AdaptiveLimit(8, clock=lambda: 0.0)
    stop = threading.Event()
    tickets = [limit.acquire(stop) for _ in range(8)]
    assert limit.in_flight == 8
    limit.throttled(tickets[0], 0.0)
    assert limit.limit == 4 and limit.lowest == 4
    for ticket in tickets[1:]:  # the same burst, sent under the old limit: counted once
        limit.throttled(ticket, 0.0)
    assert limit.limit == 4 and limit.throttles == 8
    for ticket in tickets:
        limit.release(ticket, succeeded=False)
    for _ in range(4):
        ticket = limit.acquire(stop)
        assert ticket is not None
        limit.release(ticket, succeeded=True)
    assert limit.limit == 5


def test_a_throttle_after_the_drop_halves_again() -> None:
    """A request sent under the new limit that is refused again lowers it further."""
    limit = AdaptiveLimit(8, clock=lambda: 0.0)
    stop = threading.Event()
    ticket = limit.acquire(stop)
    assert ticket is not None
    limit.throttled(ticket, 0.0)
    limit.throttled(ticket, 0.0)  # its retry, sent after the drop, was refused too
    assert limit.limit == 2 and limit.lowest == 2


def test_acquire_waits_out_the_pause_and_stops_on_request() -> None:
    """During Retry-After nobody starts; a stop request releases the waiters with None."""
    now = [0.0]
    limit = AdaptiveLimit(2, clock=lambda: now[0])
    stop = threading.Event()
    first = limit.acquire(stop)
    assert first is not None
    limit.throttled(first, 10.0)
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(limit.acquire(stop)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # paused: the clock has not moved
    stop.set()
    waiter.join(2)
    assert got == [None]
