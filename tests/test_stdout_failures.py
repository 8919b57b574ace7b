"""A stdout that cannot be written (> /dev/full, >&-) is one line and exit 8, with the
images saved kept and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


def run(args: list[str], cwd: Path, *, stdout: Any = None, close_stdout: bool = False,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """vibeimg in a real process, stdout sent to ``stdout`` or closed altogether."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env, input=stdin,
        stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
        preexec_fn=(lambda: os.close(1)) if close_stdout else None,  # vibeimg ... >&-
    )


@needs_dev_full
@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_generate_to_a_full_stdout(tmp_path: Path, extra: list[str]) -> None:
    """generate > /dev/full: one line, exit 8, the image and its sidecar kept."""
    with DEV_FULL.open("w") as full:
        result = run(["generate", "fox", "--offline", *extra], tmp_path, stdout=full)
    assert result.returncode == ExitCode.WRITE
    assert result.stderr == ("error: cannot write to stdout: No space left on device (send "
                             "stdout where there is room, or leave it open; files already "
                             "saved are kept)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox.json", "fox.png"]


def test_generate_with_stdout_closed(tmp_path: Path) -> None:
    """generate >&-: 'stdout is closed', exit 8, the image kept."""
    result = run(["generate", "fox", "--offline"], tmp_path, close_stdout=True)
    assert result.returncode == ExitCode.WRITE
    assert result.stderr.startswith("error: cannot write to stdout: it is closed (")
    assert "Traceback" not in result.stderr
    assert (tmp_path / "fox.png").is_file()


def test_raw_bytes_refused_when_stdout_is_closed(tmp_path: Path) -> None:
    """-o - >&-: refused before sending, exit 2."""
    result = run(["generate", "fox", "--offline", "-o", "-"], tmp_path, close_stdout=True)
    assert result.returncode == ExitCode.USAGE
    assert "stdout is closed" in result.stderr
    assert list(tmp_path.iterdir()) == []


@needs_dev_full
def test_batch_summary_to_a_full_stdout(tmp_path: Path) -> None:
    """batch > /dev/full: the images land, then one line and exit 8."""
    with DEV_FULL.open("w") as full:
        result = run(["batch", "-", "--offline", "-d", "out"], tmp_path, stdout=full,
                     stdin="a fox\na heron\n")
    assert result.returncode == ExitCode.WRITE, result.stderr
    assert result.stderr.endswith("error: cannot write to stdout: No space left on device "
                                  "(send stdout where there is room, or leave it open; files "
                                  "already saved are kept)\n")
    assert len(list((tmp_path / "out").glob("*.png"))) == 2


def test_history_with_stdout_closed(tmp_path: Path) -> None:
    """A command without requests fails the same way: one line, exit 8."""
    assert run(["generate", "fox", "--offline"], tmp_path).returncode == 0
    result = run(["history", "--json"], tmp_path, close_stdout=True)
    assert result.returncode == ExitCode.WRITE
    assert result.stderr.startswith("error: cannot write to stdout: it is closed")


def _against(emulator_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return {**env, "VIBEIMG_BASE_URL": emulator_url, "VIBEIMG_API_KEY": "sk-anything"}


@pytest.mark.parametrize("command", ["generate", "edit"])
def test_no_request_sent_once_the_reader_is_gone(tmp_path: Path, command: str) -> None:
    """-n 6 -c 1 | head -1: no request is sent once a path cannot be written; exit 141."""
    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "in.png")
    extra = ["-i", "in.png"] if command == "edit" else []
    with Emulator(EmulatorConfig(latency=0.3)) as emulator:
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", command, "pipe head", "-n", "6", "-c", "1",
             "--quality", "low", *extra], cwd=tmp_path, env=_against(emulator.base_url),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # as head -1 does
        stderr = process.stderr.read()
        code = process.wait(timeout=60)
        sent = len(emulator.api_requests())
    assert first == b"pipe-head-1.png\n"
    assert code == ExitCode.BROKEN_PIPE, stderr
    assert sent <= 2  # the one that landed, and at most one already on the wire
    assert b"Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.glob("pipe-head-*.png")) == [
        f"pipe-head-{n}.png" for n in range(1, sent + 1)]


@needs_dev_full
def test_no_request_sent_once_stdout_is_full(tmp_path: Path) -> None:
    """-n 4 -c 1 > /dev/full: the first failed write stops the run; one image, exit 8."""
    with Emulator(EmulatorConfig(latency=0.2)) as emulator, DEV_FULL.open("w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "vibeimg", "generate", "full", "-n", "4", "-c", "1"],
            cwd=tmp_path, env=_against(emulator.base_url), stdout=full,
            stderr=subprocess.PIPE, text=True, timeout=60, check=False)
        sent = len(emulator.api_requests())
    assert result.returncode == ExitCode.WRITE
    assert result.stderr.endswith("error: cannot write to stdout: No space left on device "
                                  "(send stdout where there is room, or leave it open; files "
                                  "already saved are kept)\n")
    assert sent == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full-1.json", "full-1.png"]
