"""SIGTERM and SIGHUP (timeout, a CI cancel, docker stop, a closed terminal) stop a run
as Ctrl-C does: no temporary file left, the --json document, the history, exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pictures import photo, save
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.Popen([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_when_sent(process: subprocess.Popen[str], emu: Emulator, requests: int,
                     signum: int, *, times: int = 2) -> tuple[str, str]:
    """Wait until the requests reached the (slow) emulator, then send ``signum``
    ``times`` times: the first waits for the requests on the wire, the second abandons
    them."""
    deadline = time.monotonic() + 20
    while len(emu.api_requests()) < requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the temporary files exist by now: the signal must remove them
    for _ in range(times):
        process.send_signal(signum)
        time.sleep(0.3)
    return process.communicate(timeout=10)  # far less than the emulator's latency


def history_outcome(cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    shown = subprocess.run([sys.executable, "-m", "vibeimg", "history", "show", "1", "--json"],
                           cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return str(json.loads(shown.stdout)["outcome"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_generate_stops_cleanly(tmp_path: Path, signum: int) -> None:
    """generate -n 3 --json, signalled twice (the second abandons the requests on the
    wire): exit 130, the document says interrupted, no .part file, the run is in the
    history."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["generate", "fox", "-n", "3", "--json", "--base-url", emu.base_url,
                         "--api-key", "k"], tmp_path)
        stdout, stderr = signal_when_sent(process, emu, 3, signum)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert "interrupted: 0 of 3 images saved" in stderr
    document = json.loads(stdout)
    assert document["status"] == "interrupted" and document["exit_code"] == 130
    assert list(tmp_path.iterdir()) == []
    assert history_outcome(tmp_path) == "interrupted"


def test_single_generate_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """One image in flight and SIGTERM twice: exit 130, no temporary file."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["generate", "fox", "--base-url", emu.base_url, "--api-key", "k"],
                        tmp_path)
        _, stderr = signal_when_sent(process, emu, 1, signal.SIGTERM)
    assert process.returncode == ExitCode.INTERRUPTED
    assert stderr.endswith("error: interrupted: 0 of 1 image saved; 1 request abandoned on "
                           "the wire, may have been billed (up to $0.211)\n")
    assert list(tmp_path.iterdir()) == []


def test_edit_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """edit -n 2 --json and SIGTERM twice: exit 130, the document, only the input left."""
    save(tmp_path / "in.png", photo())
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["edit", "warmer", "-i", "in.png", "-n", "2", "--json",
                         "--base-url", emu.base_url, "--api-key", "k"], tmp_path)
        stdout, _ = signal_when_sent(process, emu, 2, signal.SIGTERM)
    assert process.returncode == ExitCode.INTERRUPTED
    assert json.loads(stdout)["status"] == "interrupted"
    assert [p.name for p in tmp_path.iterdir()] == ["in.png"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_chat_stream_stops_cleanly(tmp_path: Path, signum: int) -> None:
    """chat-stream --json --progress jsonl, signalled twice: the final record and the
    document, exit 130."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = start(["chat-stream", "fox", "--json", "--progress", "jsonl",
                         "--base-url", emu.base_url, "--api-key", "k"], tmp_path)
        stdout, stderr = signal_when_sent(process, emu, 1, signum)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert records[-1]["type"] == "vibeimg.finished"
    assert records[-1]["status"] == "interrupted"
    assert json.loads(stdout)["status"] == "interrupted"
    assert list(tmp_path.iterdir()) == []
    assert history_outcome(tmp_path) == "interrupted"


def test_nohup_keeps_sighup_ignored(tmp_path: Path) -> None:
    """Under nohup (SIGHUP ignored) a hang-up changes nothing: the run completes."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with Emulator(EmulatorConfig(latency=1)) as emu:
        script = 'trap "" HUP; exec "$0" -m vibeimg generate fox --base-url "$1" --api-key k'
        process = subprocess.Popen(["bash", "-c", script, sys.executable, emu.base_url],
                                   cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        stdout, _ = signal_when_sent(process, emu, 1, signal.SIGHUP, times=1)
    assert process.returncode == 0
    assert stdout == "fox.png\n"


def test_a_finished_console_run_ignores_a_late_sigterm() -> None:
    """Once the console script's command is done (its result printed), SIGTERM and SIGHUP
    are ignored for the last moments of the process, so a late signal cannot turn a
    success into 143; within a run they still interrupt."""
    code = (
        "import signal\n"
        "from vibeimg.cli.interrupts import signals_as_interrupt\n"
        "with signals_as_interrupt(then_ignore=True):\n"
        "    assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)\n"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_IGN,"
        " signal.getsignal(signal.SIGHUP) is signal.SIG_IGN)\n"
        "with signals_as_interrupt():\n"
        "    pass\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["True", "True"]


def test_mask_convert_interrupted_reports_every_mask_it_wrote(tmp_path: Path) -> None:
    """SIGTERM in the middle of many masks: exit 130, and the --json document lists each
    mask on disk, those the pool finished after the signal included."""
    from PIL import Image  # noqa: PLC0415

    for i in range(16):
        Image.effect_noise((900, 900), 80).point(lambda v: 255 if v > 128 else 0).save(
            tmp_path / f"m{i:02d}.png")
    process = start(["mask-convert", *(f"m{i:02d}.png" for i in range(16)),
                     "--out-dir", "out", "--json"], tmp_path)
    assert process.stderr is not None
    while "->" not in process.stderr.readline():  # the first mask is written
        assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=60)
    document = json.loads(stdout)
    on_disk = sorted(p.name for p in (tmp_path / "out").iterdir())
    if process.returncode == 0:  # all done before the signal landed: nothing to check
        assert len(on_disk) == 16
        return
    assert process.returncode == ExitCode.INTERRUPTED
    assert document["status"] == "interrupted" and document["exit_code"] == 130
    assert sorted(Path(m["output"]).name for m in document["masks"]) == on_disk
