"""vibeimg as a real process: the console script, python -m, the emulator server, a tty."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode
from vibeimg.version import __version__


def run(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False, **kwargs)


def test_readme_main_job_offline(tmp_path: Path) -> None:
    """The README's first command makes a real PNG with no key and no network."""
    result = run("generate", "a watercolor otter", "--offline", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a-watercolor-otter.png\n"
    assert Image.open(tmp_path / "a-watercolor-otter.png").format == "PNG"
    assert result.stderr == ""  # not a terminal: no progress noise


def test_version(tmp_path: Path) -> None:
    """--version prints the package version."""
    assert run("--version", cwd=tmp_path).stdout == f"vibeimg {__version__}\n"


def test_no_traceback_on_bad_input(tmp_path: Path) -> None:
    """A usage error in a real process is one line and exit 2, with no traceback."""
    result = run("generate", "fox", "--size", "12x12", "--offline", cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("error: invalid size '12x12'")
    assert "Traceback" not in result.stderr


def test_mock_server_prints_its_url_and_serves(tmp_path: Path) -> None:
    """mock-server prints its base URL on stdout, answers, and stops on Ctrl-C."""
    env = dict(os.environ)
    server = subprocess.Popen([sys.executable, "-m", "vibeimg", "mock-server"], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        response = httpx.get(f"{base_url}/models", headers={"Authorization": "Bearer k"})
        assert response.status_code == 200
        result = run("generate", "fox", "--base-url", base_url, "--api-key", "k", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
    assert server.returncode == 0


def test_image_bytes_are_refused_on_a_terminal(tmp_path: Path) -> None:
    """-o - with stdout on a terminal is refused before sending anything."""
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vibeimg", "generate", "fox", "-o", "-", "--offline"],
            cwd=tmp_path, stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == ExitCode.USAGE
    assert "refusing to write image bytes to a terminal" in result.stderr


def test_raw_bytes_pipe_into_another_program(tmp_path: Path) -> None:
    """-o - pipes the image into another program byte for byte."""
    script = (f"{sys.executable} -m vibeimg generate fox -o - --offline --format jpeg"
              " | cat > piped.jpg")
    subprocess.run(["bash", "-o", "pipefail", "-c", script], cwd=tmp_path, check=True,
                   timeout=60)
    assert Image.open(tmp_path / "piped.jpg").format == "JPEG"


@pytest.mark.parametrize(("count", "message"), [("3", "interrupted: 0 of 3 images saved"),
                                                ("1", "error: interrupted")])
def test_ctrl_c_exits_130_at_once_and_leaves_no_partial_file(tmp_path, count, message) -> None:
    """SIGINT twice while images are in flight (the second abandons them): exit 130
    promptly, no temporary file left."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "generate", "fox", "-n", count,
             "--base-url", emu.base_url, "--api-key", "k"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 20
        while len(emu.api_requests()) < int(count) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)  # far less than the 30 s latency
    assert process.returncode == ExitCode.INTERRUPTED
    assert message in stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_still_prints_what_was_saved(tmp_path: Path) -> None:
    """Interrupted after one of three images: its path is on stdout, exit 130."""
    with Emulator(EmulatorConfig(latency=0.5)) as emu:
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "generate", "fox", "-n", "3", "-c", "1",
             "--base-url", emu.base_url, "--api-key", "k"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 20
        while not (tmp_path / "fox-1.json").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitCode.INTERRUPTED
    assert stdout.splitlines()[0] == "fox-1.png"
    assert "images saved" in stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".vibeimg-")]


def closed_pipe_run(*args: str, cwd: Path) -> tuple[int, str]:
    """Run vibeimg with stdout a pipe whose reader has already gone; the code and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    process = subprocess.Popen([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.close()  # long before the interpreter has started: nobody reads
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


@pytest.mark.parametrize("args", [("history",), ("history", "show", "1"), ("--help",),
                                  ("generate", "fox", "--offline", "--json")])
def test_a_closed_pipe_ends_quietly_with_141(cli, tmp_path: Path, args) -> None:
    """stdout's reader gone: exit 141 (128 + SIGPIPE) and nothing at all on stderr."""
    assert cli("generate", "a fox", "--quality", "low").exit_code == 0  # a run to list
    code, stderr = closed_pipe_run(*args, cwd=tmp_path)
    assert code == ExitCode.BROKEN_PIPE == 141
    assert stderr == ""  # no traceback, no "internal error", no "Exception ignored"


def test_history_piped_into_head(cli, tmp_path: Path) -> None:
    """'vibeimg history | head -1' in a shell: the first line, then a quiet 141."""
    for prompt in ("a fox", "a heron", "a cat"):
        assert cli("generate", prompt, "--quality", "low").exit_code == 0
    script = (f"{sys.executable} -m vibeimg history | (exec 0<&-; sleep 1) ;"
              " echo \"status ${PIPESTATUS[0]}\";"
              f" {sys.executable} -m vibeimg history | head -1")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    first, second = result.stdout.splitlines()
    assert first == "status 141"
    assert second.endswith("a cat")
    assert result.stderr == ""
