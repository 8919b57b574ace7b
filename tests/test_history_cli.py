"""``vibeimg history`` and the recording of generate runs, against the emulator."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_KEY, Cli
from tinygateway import TinyGateway

from vibeimg.errors import ExitCode
from vibeimg.records import history
from vibeimg.records.history import History, database_path
from vibeimg.records.runs import Entry

SMALL = ("--size", "1024x1024", "--quality", "low")


def _entries() -> list[Entry]:
    with History() as store:
        return store.recent(100)


def test_generate_is_recorded_with_everything_but_the_key(cli, emulator, tmp_path: Path) -> None:
    """A run records its prompt, parameters, absolute paths, request id, usage and cost."""
    result = cli("generate", "a watercolor otter", *SMALL)
    assert result.exit_code == 0, result.stderr
    [entry] = _entries()
    assert (entry.command, entry.prompt, entry.outcome) == (
        "generate", "a watercolor otter", "completed")
    assert entry.outputs == [str(tmp_path / "a-watercolor-otter.png")]
    assert entry.parameters["size"] == "1024x1024" and entry.parameters["count"] == 1
    assert entry.request_ids == [emulator.api_requests()[0].request_id]
    assert entry.usage and entry.usage["total_tokens"] > 0
    assert entry.estimated_cost_usd == 0.006 and entry.images == 1
    assert TEST_KEY.encode() not in database_path().read_bytes()


def test_list_show_search_and_json(cli) -> None:
    """history lists newest first; show, search and --json find the same runs."""
    cli("generate", "a red fox", *SMALL)
    cli("generate", "a watercolor otter", *SMALL)
    listing = cli("history")
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split()[0] == "2" and lines[0].endswith("a watercolor otter")
    # The test emulator's runs are marked offline once it says it is one (its header).
    assert lines[1].split()[0] == "1" and ("$0.006" in lines[1] or "offline" in lines[1])
    shown = cli("history", "show", "1")
    assert "a red fox" in shown.stdout and "a-red-fox.png" in shown.stdout
    assert "request id" in shown.stdout
    found = cli("history", "search", "otter")
    assert [line.split()[0] for line in found.stdout.splitlines()] == ["2"]
    data = json.loads(cli("history", "--json", "-n", "1").stdout)
    assert [run["prompt"] for run in data["runs"]] == ["a watercolor otter"]
    one = json.loads(cli("history", "show", "2", "--json").stdout)
    assert one["outputs"][0].endswith("a-watercolor-otter.png")
    assert json.loads(cli("history", "search", "fox", "--json").stdout)["runs"][0]["id"] == 1


def test_show_of_an_unknown_id(cli) -> None:
    """An id that is not in the history is a usage error naming the fix."""
    result = cli("history", "show", "99")
    assert result.exit_code == 2 and "vibeimg history" in result.stderr


def test_cost_totals_paid_runs_since_a_date(tmp_path: Path) -> None:
    """history cost sums the estimates; offline runs are left out, counted apart."""
    with TinyGateway() as gateway:  # a paid gateway: its answers carry no emulator header
        cli = Cli(gateway, tmp_path)  # type: ignore[arg-type]
        assert cli("generate", "a red fox", *SMALL, "-n", "2").exit_code == 0
    assert cli("generate", "an otter", *SMALL, "--offline").exit_code == 0
    result = cli("history", "cost", "--since", "today")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "$0.012 estimated for 1 run (2 images) since today"
    assert "(1 offline run left out, nothing billed; $0.006 with --include-offline)" \
        in result.stdout
    data = json.loads(cli("history", "cost", "--since", "2000-01-01", "--json").stdout)
    assert data["estimated_cost_usd"] == 0.012 and data["by_command"] == {"generate": 0.012}
    assert data["offline_runs"] == 1 and data["offline_estimated_cost_usd"] == 0.006
    assert json.loads(cli("history", "cost", "--since", "2999-01-01", "--json").stdout)["runs"] == 0
    assert cli("history", "cost", "--since", "someday").exit_code == 2


def test_cost_includes_offline_runs_when_asked(cli) -> None:
    """--include-offline adds the emulator's runs at what they would cost, and says so."""
    assert cli("generate", "an otter", *SMALL, "--offline").exit_code == 0
    result = cli("history", "cost", "--include-offline")
    assert result.stdout.splitlines()[0] == \
        "$0.006 estimated for 1 run (1 image, offline runs included)"
    data = json.loads(cli("history", "cost", "--include-offline", "--json").stdout)
    assert data["estimated_cost_usd"] == 0.006 and data["include_offline"] is True


def test_failed_and_partial_runs_are_recorded(cli, emulator) -> None:
    """A failure is recorded with its error and request id; some-of-several as partial."""
    emulator.add_fault("500")
    assert cli("generate", "a red fox", *SMALL, "--retries", "0").exit_code == 5
    emulator.add_fault("400")
    assert cli("generate", "a blue fox", *SMALL, "-n", "2", "-c", "1").exit_code == 7
    partial, failed = _entries()
    assert failed.outcome == "failed" and "HTTP 500" in (failed.error or "")
    assert failed.request_ids and failed.images == 0 and failed.estimated_cost_usd == 0
    assert partial.outcome == "partial" and partial.images == 1
    assert len(partial.request_ids) == 2


def test_no_history_flag_records_nothing(cli) -> None:
    """--no-history leaves no trace, not even an empty database."""
    assert cli("generate", "a fox", *SMALL, "--no-history").exit_code == 0
    assert not database_path().exists()


def test_refused_before_sending_is_not_a_run(cli) -> None:
    """Bad input (nothing sent) is not recorded."""
    assert cli("generate", "a fox", "--size", "1000x1000").exit_code == 2
    assert not database_path().exists()


def test_locked_database_warns_and_saves_the_image(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A history locked by another program costs a warning, never the image."""
    monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.05)
    cli("generate", "a fox", *SMALL)
    holder = sqlite3.connect(database_path())
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("generate", "a red fox", *SMALL)
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 0
    assert result.stdout == "a-red-fox.png\n" and (tmp_path / "a-red-fox.png").exists()
    assert "warning: not recorded in the history" in result.stderr and "locked" in result.stderr
    assert len(_entries()) == 1


def test_batch_items_are_recorded_one_row_each(cli, emulator, tmp_path: Path) -> None:
    """Each finished item is a row of its own, with its batch key and absolute path."""
    (tmp_path / "p.txt").write_text("a fox\na heron\na cat\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "3")
    assert result.exit_code == 0, result.stderr
    entries = _entries()
    assert sorted(e.prompt for e in entries) == ["a cat", "a fox", "a heron"]
    manifest = {o["prompt"]: o for o in json.loads(result.stdout)["outcomes"]}
    for entry in entries:
        assert entry.command == "batch" and entry.outcome == "completed"
        assert entry.parameters["batch_key"] == manifest[entry.prompt]["key"]
        assert entry.outputs == [str(tmp_path / manifest[entry.prompt]["path"])]
    assert {e.request_ids[0] for e in entries} == {r.request_id for r in emulator.api_requests()}


def test_a_locked_database_costs_a_batch_one_warning(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every item of the batch is saved; the history's trouble is told once, not per item."""
    monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.05)
    cli("generate", "a fox", *SMALL)
    (tmp_path / "p.txt").write_text("a fox\na heron\na cat\n", encoding="utf-8")
    holder = sqlite3.connect(database_path())
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("batch", "p.txt", "-d", "out", "--quality", "low")
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    assert result.stderr.count("warning: not recorded in the history") == 1
    assert len(_entries()) == 1


def test_corrupt_database_warns_and_saves_the_image(cli, tmp_path: Path) -> None:
    """A damaged history costs a warning when generating; 'history' says how to start over."""
    database_path().parent.mkdir(parents=True)
    database_path().write_bytes(b"\x00garbage" * 512)
    result = cli("generate", "a red fox", *SMALL)
    assert result.exit_code == 0
    assert (tmp_path / "a-red-fox.png").exists()
    assert "warning: not recorded in the history" in result.stderr
    listing = cli("history")
    assert listing.exit_code == ExitCode.USAGE
    assert f"mv {database_path()} {database_path()}.bak" in listing.stderr
    assert "Traceback" not in listing.stderr


HISTORY_READS = [("history",), ("history", "search", "fox"), ("history", "cost"),
                 ("history", "show", "1")]


@pytest.mark.parametrize("args", HISTORY_READS)
def test_damaged_database_is_exit_2_with_the_fix(cli, args) -> None:
    """A damaged history: exit 2 (a local file to fix), one line naming the fix."""
    database_path().parent.mkdir(parents=True)
    database_path().write_bytes(b"\x00garbage" * 512)
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: the history database {database_path()}")
    assert f"mv {database_path()} {database_path()}.bak" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "internal error" not in result.stderr


@pytest.mark.parametrize("args", HISTORY_READS)
def test_locked_database_is_exit_2_saying_so(cli, args, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """A history locked by another program: exit 2 and a line that says it is locked.

    (A writer alone no longer blocks reading, with write-ahead logging: the lock here is
    a program holding the file in exclusive locking mode.)"""
    monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.05)
    assert cli("generate", "a fox", *SMALL).exit_code == 0
    holder = sqlite3.connect(database_path())
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM runs WHERE id < 0")
    try:
        result = cli(*args)
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == ExitCode.USAGE
    assert "is locked by another program" in result.stderr
    assert "internal error" not in result.stderr


def test_reading_the_history_does_not_wait_for_a_writer(cli) -> None:
    """While another vibeimg is in the middle of recording (a write transaction open),
    'history' still lists the runs: the database keeps a write-ahead log."""
    assert cli("generate", "a fox", *SMALL).exit_code == 0
    holder = sqlite3.connect(database_path())
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE runs SET prompt = 'changing' WHERE id = 1")
    try:
        result = cli("history")
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 0 and "a fox" in result.stdout, result.stderr


def test_history_path_and_empty_listing(cli) -> None:
    """Before any run, history prints nothing and 'history path' names the database."""
    assert cli("history").stdout == ""
    assert cli("history", "path").stdout == f"{database_path()}\n"
    assert cli("history", "--command", "paint").exit_code == 2


def test_a_full_disk_is_not_called_a_damaged_history(cli, emulator, tmp_path: Path) -> None:
    """A file size limit stops the history write: the warning says to look at the space,
    not to move a healthy database aside; the image is saved."""
    cli("generate", "a fox", *SMALL)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    done = subprocess.run(
        [sys.executable, "-m", "vibeimg", "generate", "a heron", "-o", "-", *SMALL,
         "--base-url", emulator.base_url, "--api-key", "k"],
        cwd=tmp_path, env=env, capture_output=True, check=False, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"\x89PNG")
    stderr = done.stderr.decode()
    assert "not recorded in the history" in stderr and "free space" in stderr
    assert "move it aside" not in stderr
    assert len(_entries()) == 1
