"""The --json documents of generate and edit: status and exit code in every outcome."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pictures import photo, save

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

SMALL = ("--size", "1024x1024", "--quality", "low")


def test_a_run_that_went_well(cli) -> None:
    """-n 2, both saved: status completed, exit code 0, nothing missing, no error."""
    result = cli("generate", "a fox", *SMALL, "-n", "2", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "completed" and document["exit_code"] == 0
    assert document["requested"] == 2 and document["received"] == 2
    assert document["missing"] == [] and document["failures"] == []
    assert document["error"] is None


def test_a_partial_run(make_cli) -> None:
    """-n 4 with one 500: status partial, exit code 7 in the document and the process."""
    cli = make_cli(faults=["500"])
    result = cli("generate", "a fox", *SMALL, "-n", "4", "--json")
    assert result.exit_code == ExitCode.PARTIAL
    document = json.loads(result.stdout)
    assert document["status"] == "partial" and document["exit_code"] == ExitCode.PARTIAL
    assert document["received"] == 3 and len(document["images"]) == 3
    failed = document["failures"][0]["index"]
    assert document["missing"] == [{"index": failed, "phase": "failed"}]
    assert document["error"] == ("3 of 4 images saved, 1 failed (for the 1 not saved alone: "
                                 "the same command with -n 1; the gateway may have billed "
                                 "it already)")


def test_a_run_where_all_failed(make_cli) -> None:
    """Every image refused: status failed, the error's own exit code, its line."""
    cli = make_cli(faults=["400x2"])
    result = cli("generate", "a fox", *SMALL, "-n", "2", "--json")
    assert result.exit_code == ExitCode.API
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and document["exit_code"] == ExitCode.API
    assert document["received"] == 0 and len(document["missing"]) == 2
    assert document["error"].startswith("HTTP 400: all 2 images failed")
    assert f"error: {document['error']}" in result.stderr


def test_edit_documents_have_the_same_fields(make_cli, tmp_path: Path) -> None:
    """edit --json: status and exit code too, here for a single refused image."""
    save(tmp_path / "otter.png", photo())
    cli = make_cli(faults=["401"])
    result = cli("edit", "winter", "-i", "otter.png", "--json")
    assert result.exit_code == ExitCode.AUTH
    document = json.loads(result.stdout)
    assert document["command"] == "edit" and document["status"] == "failed"
    assert document["exit_code"] == ExitCode.AUTH and document["received"] == 0
    assert document["missing"] == [{"index": 1, "phase": "failed"}]


def run_and_interrupt(tmp_path: Path, emu: Emulator, *args: str,
                      when: Path | None = None, times: int = 1) -> tuple[int, str, str]:
    """Start generate --json, send SIGINT ``times`` times once ``when`` exists (else once
    requests are out)."""
    env = {**os.environ, "VIBEIMG_BASE_URL": emu.base_url, "VIBEIMG_API_KEY": "k"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vibeimg", "generate", "fox", "--json", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (
            when.exists() if when is not None else emu.api_requests()):
        time.sleep(0.02)
    for _ in range(times):
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    stdout, stderr = process.communicate(timeout=20)
    return process.returncode, stdout, stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_mid_run_says_interrupted(tmp_path: Path) -> None:
    """SIGINT after the first of four: status interrupted, exit code 130, the rest missing."""
    with Emulator(EmulatorConfig(latency=0.5)) as emu:
        code, stdout, stderr = run_and_interrupt(tmp_path, emu, "-n", "4", "-c", "1",
                                                 when=tmp_path / "fox-1.json")
    assert code == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert document["status"] == "interrupted"
    assert document["exit_code"] == ExitCode.INTERRUPTED
    assert document["requested"] == 4 and document["received"] >= 1
    assert document["received"] + len(document["missing"]) == 4
    # One on the wire (abandoned: it may have been billed), the others never sent.
    phases = [m["phase"] for m in document["missing"]]
    assert phases.count("abandoned") <= 1 and set(phases) <= {"abandoned", "not-sent"}
    assert document["possible_cost_usd"] == round(phases.count("abandoned") * 0.211, 4)
    assert document["error"].startswith("interrupted: ")
    assert f"error: {document['error']}" in stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_with_one_image_still_prints_the_document(tmp_path: Path) -> None:
    """SIGINT twice while the only image is in flight (the second abandons it): an
    interrupted document, no file left."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        code, stdout, stderr = run_and_interrupt(tmp_path, emu, times=2)
    assert code == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert document["status"] == "interrupted" and document["received"] == 0
    assert document["missing"] == [{"index": 1, "phase": "abandoned"}]
    assert list(tmp_path.iterdir()) == []
