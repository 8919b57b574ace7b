"""A run killed with SIGKILL after its requests went out is in the history: ``killed``,
its requests sent priced as possibly billed, in ``history``, ``history show`` and
``history cost``; a run still going on is never taken for killed; an older database
gains what this needs. Real processes, real signals, a slow emulator."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.pictures import photo, save
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode
from vibeimg.records import owners, schema
from vibeimg.records.history import History, database_path
from vibeimg.records.runs import Entry

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PRICE = 0.211  # one image at auto size and quality, priced as 1024x1024 high


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}


def start(args: list[str], cwd: Path, emu: Emulator) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vibeimg", *args, "--base-url",
                             emu.base_url, "--api-key", "k"], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def vibeimg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, check=False)


def wait_for_requests(process: subprocess.Popen[str], emu: Emulator, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(emu.api_requests()) < count:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


def kill_when_sent(process: subprocess.Popen[str], emu: Emulator, count: int) -> int:
    """SIGKILL once ``count`` requests reached the (slow) emulator; how many it received."""
    wait_for_requests(process, emu, count)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    return len(emu.api_requests())


def runs(cwd: Path) -> list[dict[str, Any]]:
    listed = vibeimg("history", "--json", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout)["runs"])


def cost(cwd: Path) -> dict[str, Any]:
    totals = vibeimg("history", "cost", "--json", cwd=cwd)
    assert totals.returncode == 0, totals.stderr
    return dict(json.loads(totals.stdout))


def test_a_killed_generate_is_in_the_history_with_what_it_may_have_cost(
        tmp_path: Path) -> None:
    """generate -n 3 -c 3 killed while its requests are on the wire: one row, killed,
    its 3 requests sent and 3 times the price possibly billed, in history, history show
    and history cost (apart from the estimated cost). Killed with --no-history, a run
    leaves nothing."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["generate", "fox", "--no-history"], tmp_path, emu)
        kill_when_sent(process, emu, 1)
        assert not database_path().exists()
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["generate", "fox", "-n", "3", "-c", "3", "--json"], tmp_path, emu)
        received = kill_when_sent(process, emu, 3)
    assert received == 3
    (run,) = runs(tmp_path)
    assert (run["command"], run["outcome"], run["requests_sent"]) == ("generate", "killed", 3)
    assert run["possible_cost_usd"] == pytest.approx(received * PRICE)
    assert run["estimated_cost_usd"] == 0 and run["images"] == 0 and not run["offline"]
    assert "killed" in run["error"] and "3 requests sent" in run["error"]
    totals = cost(tmp_path)
    assert totals["possible_cost_usd"] == pytest.approx(received * PRICE)
    assert totals["killed_possible_cost_usd"] == pytest.approx(received * PRICE)
    assert (totals["killed_runs"], totals["running_runs"]) == (1, 0)
    assert totals["estimated_cost_usd"] == 0 and totals["runs"] == 1
    text = vibeimg("history", "cost", cwd=tmp_path).stdout
    assert "plus up to $0.633 possibly billed" in text and "1 killed run" in text
    shown = vibeimg("history", "show", str(run["id"]), cwd=tmp_path).stdout
    assert "killed" in shown and "requests sent   3" in shown and "$0.6330" in shown
    listing = vibeimg("history", cwd=tmp_path).stdout
    assert " killed " in listing and "<=$0.633" in listing


def test_a_killed_edit_is_in_the_history(tmp_path: Path) -> None:
    """edit -n 2 -c 2 killed while its requests are on the wire: killed, 2 requests."""
    save(tmp_path / "in.png", photo())
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["edit", "warmer", "-i", "in.png", "-n", "2", "-c", "2"], tmp_path, emu)
        received = kill_when_sent(process, emu, 2)
    (run,) = runs(tmp_path)
    assert (run["command"], run["outcome"], run["requests_sent"]) == ("edit", "killed", 2)
    assert run["possible_cost_usd"] == pytest.approx(received * PRICE)
    assert cost(tmp_path)["possible_cost_usd"] == pytest.approx(received * PRICE)


def test_a_killed_chat_stream_is_priced_for_every_image_it_asked_for(tmp_path: Path) -> None:
    """chat-stream -n 2 killed while its one request is on the wire: killed, 1 request
    sent, which may have made and billed both images."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["chat-stream", "fox", "-n", "2"], tmp_path, emu)
        received = kill_when_sent(process, emu, 1)
    assert received == 1
    (run,) = runs(tmp_path)
    assert (run["command"], run["outcome"], run["requests_sent"]) == ("chat-stream", "killed", 1)
    assert run["possible_cost_usd"] == pytest.approx(2 * PRICE)
    assert cost(tmp_path)["possible_cost_usd"] == pytest.approx(2 * PRICE)


def test_a_killed_chat_turn_is_in_the_history(tmp_path: Path) -> None:
    """A turn of 'vibeimg chat' killed while its request is on the wire: killed."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "chat", "--session", "coast", "--base-url",
             emu.base_url, "--api-key", "k"], cwd=tmp_path, env=_env(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdin is not None
        process.stdin.write("a lighthouse\n")
        process.stdin.flush()
        received = kill_when_sent(process, emu, 1)
    (run,) = runs(tmp_path)
    assert (run["command"], run["outcome"], run["requests_sent"]) == ("chat-stream", "killed", 1)
    assert run["parameters"]["session"] == "coast"
    assert run["possible_cost_usd"] == pytest.approx(received * PRICE)


def test_a_killed_python_api_call_is_in_the_history(tmp_path: Path) -> None:
    """Client(history=True).generate(n=2) in a process killed while its requests are on
    the wire: killed, 2 requests possibly billed."""
    script = ("import sys, vibeimg\n"
              "with vibeimg.Client(base_url=sys.argv[1], api_key='k', history=True) as c:\n"
              "    c.generate('fox', n=2, concurrency=2)\n")
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = subprocess.Popen([sys.executable, "-c", script, emu.base_url], cwd=tmp_path,
                                   env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        received = kill_when_sent(process, emu, 2)
    (run,) = runs(tmp_path)
    assert (run["command"], run["outcome"], run["requests_sent"]) == ("generate", "killed", 2)
    assert run["possible_cost_usd"] == pytest.approx(received * PRICE)


def test_a_run_going_on_is_never_marked_killed_and_ends_as_one_row(tmp_path: Path) -> None:
    """While a generate waits on the gateway, another vibeimg reading the history sees it
    running (its request counted as possibly billed), not killed; interrupted, the same
    row becomes its record: never two rows for one run."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["generate", "fox", "-n", "2", "-c", "2"], tmp_path, emu)
        wait_for_requests(process, emu, 2)
        (run,) = runs(tmp_path)
        totals = cost(tmp_path)
        assert process.poll() is None  # the reads above happened while it was alive
        for _ in range(2):  # the second abandons the requests on the wire
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        process.communicate(timeout=10)
    assert process.returncode == ExitCode.INTERRUPTED
    assert (run["outcome"], run["requests_sent"]) == ("running", 2)
    assert run["possible_cost_usd"] == pytest.approx(2 * PRICE)
    assert (totals["running_runs"], totals["killed_runs"]) == (1, 0)
    (ended,) = runs(tmp_path)
    assert ended["id"] == run["id"]
    assert (ended["outcome"], ended["requests_sent"]) == ("interrupted", 2)
    assert ended["possible_cost_usd"] == pytest.approx(2 * PRICE)


def test_a_finished_run_is_one_row_that_is_never_judged_again(cli, emulator) -> None:
    """A run that ends well is one row, completed, with its requests sent; a later
    opening of the history leaves it as it is. The revised prompt a row gains at the
    end is found by 'history search'."""
    result = cli("generate", "fox", "-n", "2", "--quality", "low", "--size", "1024x1024")
    assert result.exit_code == 0, result.stderr
    with History() as store:
        (entry,) = store.recent()
        owner = store.connection().execute("SELECT owner FROM runs").fetchone()[0]
    assert (entry.outcome, entry.requests_sent, entry.images) == ("completed", 2, 2)
    assert owner is None
    with History() as store:
        assert store.recent()[0].outcome == "completed"
    assert cli("chat-stream", "a heron").exit_code == 0
    found = cli("history", "search", "illustration", "--json")
    assert [(r["prompt"], r["requests_sent"]) for r in json.loads(found.stdout)["runs"]] == [
        ("a heron", 1)]


def _pending(owner: str, sent: int = 1) -> None:
    entry = Entry(command="generate", prompt="fox", outcome="running", requests_sent=sent,
                  possible_cost_usd=sent * PRICE)
    with History() as store:
        store.add(entry, owner=owner)


def test_a_reused_process_id_is_not_taken_for_the_run() -> None:
    """A run whose process id is alive again, but as another process (another start time),
    is killed; one of this very process is not; one of another host is never judged."""
    me = owners.new_owner()
    reused = owners.Owner(me.host, me.boot, me.pid, str(int(me.started or 0) + 1), "t1")
    elsewhere = owners.Owner("another-host", me.boot, 1, "1", "t2")
    _pending(reused.text())
    _pending(me.text())
    _pending(elsewhere.text())
    with History() as store:
        outcomes = [entry.outcome for entry in reversed(store.recent())]
    assert outcomes == ["killed", "running", "running"]


def test_an_older_database_upgrades_and_marks_killed_runs(tmp_path: Path) -> None:
    """A version-6 database keeps its runs, gains the columns of a run in progress, and
    a run killed in it is found and counted."""
    old = (schema.SCHEMA.replace(",\n    requests_sent INTEGER,\n    owner TEXT", "")
           + schema.FTS_SCHEMA.split("CREATE TRIGGER IF NOT EXISTS runs_fts_update")[0])
    assert "owner" not in old and "requests_sent" not in old
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(old)
        conn.execute("CREATE INDEX runs_spend ON runs(command, offline, created, images, "
                     "estimated_cost_usd, possible_cost_usd, cost_extrapolated)")
        conn.execute("INSERT INTO runs (created, command, prompt, outcome, images, "
                     "estimated_cost_usd) VALUES ('2026-01-01T00:00:00Z', 'generate', "
                     "'an old fox', 'completed', 1, 0.5)")
        conn.execute("PRAGMA user_version = 6")
    conn.close()
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["generate", "a new fox"], tmp_path, emu)
        kill_when_sent(process, emu, 1)
    new, old_run = runs(tmp_path)
    assert (old_run["prompt"], old_run["outcome"], old_run["requests_sent"]) == (
        "an old fox", "completed", None)
    assert (new["prompt"], new["outcome"], new["requests_sent"]) == ("a new fox", "killed", 1)
    totals = cost(tmp_path)
    assert (totals["estimated_cost_usd"], totals["killed_runs"]) == (0.5, 1)
    assert totals["possible_cost_usd"] == pytest.approx(PRICE)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()
    found = vibeimg("history", "search", "new fox", "--json", cwd=tmp_path)
    assert [r["prompt"] for r in json.loads(found.stdout)["runs"]] == ["a new fox"]



def test_a_killed_run_against_the_emulator_is_not_billed(tmp_path: Path) -> None:
    """A run killed after an answer said it came from vibeimg's emulator is an offline
    run: left out of 'history cost', nothing possibly billed."""
    with Emulator(EmulatorConfig(latency=1.5)) as emu:
        process = start(["generate", "fox", "-n", "2", "-c", "1"], tmp_path, emu)
        kill_when_sent(process, emu, 2)  # the first answered, the second on the wire
    (run,) = runs(tmp_path)
    assert (run["outcome"], run["requests_sent"], run["offline"]) == ("killed", 2, True)
    totals = cost(tmp_path)
    assert (totals["runs"], totals["offline_runs"], totals["killed_runs"]) == (0, 1, 0)
    assert totals["possible_cost_usd"] == 0
