"""A history on a disk vibeimg cannot write (a read-only mount, a folder without write
permission) is still read: ``history``, ``search`` and ``cost`` list it, and ``doctor``
finds it sound; a damaged one makes ``doctor`` exit 2, not the internal-error code."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vibeimg.errors import ExitCode
from vibeimg.records.history import History, database_path
from vibeimg.records.runs import Entry


def _vibeimg(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run([sys.executable, "-m", "vibeimg", *args], env=env, timeout=60,
                          capture_output=True, text=True, check=False)


@contextlib.contextmanager
def _unwritable(folder: Path) -> Iterator[None]:
    """``folder``, with its files, on a read-only mount (root passes permission bits) or,
    for another user, without write permission."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    saved = folder.with_name(folder.name + ".saved")
    shutil.copytree(folder, saved)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                      capture_output=True, check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        shutil.copytree(saved, folder, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_history_on_a_read_only_disk_is_read() -> None:
    """The database in WAL mode, its folder unwritable: list, search and cost show the
    run (they said 'unable to open database file' and advised moving it aside)."""
    with History() as database:
        database.add(Entry(command="generate", prompt="一只水獭 on a rock", outcome="completed",
                           images=1, estimated_cost_usd=0.053))
    with _unwritable(database_path().parent):
        listed = _vibeimg("history")
        found = _vibeimg("history", "search", "水獭")
        cost = _vibeimg("history", "cost")
        doctor = _vibeimg("doctor", "--offline", "--json")
    for done in (listed, found, cost):
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    assert "一只水獭 on a rock" in listed.stdout and "一只水獭 on a rock" in found.stdout
    assert "$0.053 estimated for 1 run" in cost.stdout
    assert '"name": "history",\n      "status": "ok"' in doctor.stdout


def test_doctor_on_a_damaged_history_exits_with_the_usage_code() -> None:
    """A history that is no database: doctor's finding and exit 2, as `history` has."""
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database at all" * 100)
    done = _vibeimg("doctor", "--offline")
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "history database" in done.stdout + done.stderr and "is damaged" in done.stdout
    assert _vibeimg("history").returncode == ExitCode.USAGE
