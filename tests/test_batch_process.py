"""``vibeimg batch`` as a real process, killed or interrupted mid-run, then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from vibeimg.batch.manifest import file_sha256, read_folder
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

PROMPTS = [f"a lighthouse at night, variation {i}" for i in range(10)]


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    """An emulator that takes 0.3 s per image, so a batch can be stopped half-way."""
    with Emulator(EmulatorConfig(latency=0.3)) as emu:
        yield emu


def start_batch(emulator: Emulator, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(VIBEIMG_BASE_URL=emulator.base_url, VIBEIMG_API_KEY="sk-test-process")
    return subprocess.Popen(
        [sys.executable, "-m", "vibeimg", "batch", "p.txt", "-d", "out", "-c", "2",
         "--quality", "low", "--format", "jpeg"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished_items(out: Path) -> list[dict]:
    records, _ = read_folder(out)
    return [r for r in records if r.get("type") == "item" and r["status"] == "ok"]


def wait_for_items(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while len(finished_items(out)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.02)


def assert_consistent(out: Path) -> None:
    """Every image on disk is whole; every recorded item matches its file's SHA-256."""
    for image in out.glob("*.jpg"):
        with Image.open(image) as opened:
            opened.load()
    for record in finished_items(out):
        assert file_sha256(out / record["path"]) == record["sha256"]


def test_sigkill_mid_batch_then_rerun_completes_without_resending(
        slow_emulator: Emulator, tmp_path: Path) -> None:
    """kill -9 half-way: every finished image survives; the rerun sends only the items
    that were never sent, not those finished nor those on the wire at the kill."""
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    process = start_batch(slow_emulator, tmp_path)
    wait_for_items(tmp_path / "out", 3, process)
    process.kill()
    process.communicate(timeout=10)
    out = tmp_path / "out"
    assert_consistent(out)
    # Complete = the image and its sidecar were saved, whether or not the manifest says so.
    survived = {json.loads(p.read_text())["prompt"] for p in out.glob("*.json")}
    assert {r["prompt"] for r in finished_items(out)} <= survived
    assert 3 <= len(survived) < len(PROMPTS)
    sent_before = len(slow_emulator.api_requests())
    on_the_wire = {r.json()["prompt"] for r in slow_emulator.api_requests()} - survived

    rerun = start_batch(slow_emulator, tmp_path)
    stdout, stderr = rerun.communicate(timeout=60)
    summary = json.loads(stdout)
    held = {o["prompt"] for o in summary["outcomes"] if o["status"] == "unknown"}
    assert on_the_wire <= held  # sent and maybe billed: not paid for twice
    assert rerun.returncode == (ExitCode.PARTIAL if held else 0), stderr
    resent = [r.json()["prompt"] for r in slow_emulator.api_requests()[sent_before:]]
    assert not (survived | held) & set(resent)  # nothing finished was paid for twice
    assert sorted(resent) == sorted(set(PROMPTS) - survived - held)
    assert (summary["skipped"], summary["done"]) == (len(survived), len(resent))
    assert_consistent(out)
    assert sorted(p.name for p in out.glob("*.jpg")) == sorted(
        f"{i:04d}-a-lighthouse-at-night-variation-{i - 1}.jpg" for i in range(1, 11)
        if PROMPTS[i - 1] not in held)
    assert list(out.glob(".vibeimg-*.part")) == []  # the killed run's temporary files are gone


def test_ctrl_c_stops_cleanly_with_130_and_the_rerun_resumes(
        slow_emulator: Emulator, tmp_path: Path) -> None:
    """SIGINT: requests in flight land, exit 130, no temporary file; the rerun finishes."""
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    process = start_batch(slow_emulator, tmp_path)
    wait_for_items(tmp_path / "out", 2, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True and summary["not_run"] >= 1, stdout
    assert summary["status"] == "interrupted"
    assert summary["exit_code"] == ExitCode.INTERRUPTED, stdout
    assert "interrupted:" in stderr and "rerun the same command" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    out = tmp_path / "out"
    assert list(out.glob(".vibeimg-*.part")) == [], sorted(p.name for p in out.iterdir())
    assert_consistent(out)
    done = {r["prompt"] for r in finished_items(out)}
    sent = [r.json()["prompt"] for r in slow_emulator.api_requests()]
    sent_before = len(sent)
    # Every request sent was saved.
    assert sent_before == len(done) == summary["done"], (sent, done, stdout, stderr)

    rerun = start_batch(slow_emulator, tmp_path)
    _, stderr = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, stderr
    resent = {r.json()["prompt"] for r in slow_emulator.api_requests()[sent_before:]}
    assert resent == set(PROMPTS) - done


def test_a_second_ctrl_c_abandons_requests_in_flight(tmp_path: Path) -> None:
    """Two SIGINTs: the batch stops at once with 130 and leaves no temporary file; the two
    requests on the wire are reported and recorded as abandoned, of unknown outcome, with
    their possible cost, and the rerun does not send them again."""
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    with Emulator(EmulatorConfig(latency=3)) as emulator:
        process = start_batch(emulator, tmp_path)
        deadline = time.monotonic() + 30
        while len(emulator.api_requests()) < 2:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        assert process.stderr is not None
        process.send_signal(signal.SIGINT)
        assert "press Ctrl-C again" in process.stderr.readline() + process.stderr.readline()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    summary = json.loads(stdout)
    assert (summary["abandoned"], summary["not_run"]) == (2, len(PROMPTS) - 2), stdout
    assert summary["estimated_cost_usd"] == 0 and summary["possible_cost_usd"] == 0.012
    abandoned = [o for o in summary["outcomes"] if o["status"] == "abandoned"]
    assert {o["prompt"] for o in abandoned} == set(PROMPTS[:2])
    assert all(o["possible_cost_usd"] == 0.006 for o in abandoned)
    assert "2 abandoned on the wire (may have been billed, up to $0.012)" in stderr
    out = tmp_path / "out"
    assert list(out.glob(".vibeimg-*.part")) == []
    records, _ = read_folder(out)
    unknown = [r for r in records if r.get("type") == "item"]
    assert [(r["status"], r["abandoned"]) for r in unknown] == [("unknown", True)] * 2

    with Emulator(EmulatorConfig()) as emulator:
        rerun = start_batch(emulator, tmp_path)
        stdout, stderr = rerun.communicate(timeout=60)
        sent = sorted(r.json()["prompt"] for r in emulator.api_requests())
    assert rerun.returncode == ExitCode.PARTIAL, stderr
    assert sent == sorted(PROMPTS[2:])  # the abandoned two are not paid for twice
    assert json.loads(stdout)["not_resent"] == 2
    assert stderr.count("outcome unknown in an earlier run") == 2
