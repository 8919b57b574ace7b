"""A FIFO, a device or a socket given where a file is read is refused at once, exit 2.

Opening a FIFO that nobody writes to blocks for ever, and ``/dev/zero`` never ends:
every input vibeimg reads by name (images, masks, mask-convert inputs, ``--match``,
batch files and their images, ``--prompt-file``, ``preview``) is checked to be a
regular file first. ``-`` still reads stdin. Each case runs in a child process with a
timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pictures import alpha_mask, photo, save

from vibeimg.emulator import Emulator

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _run(tmp_path: Path, *args: str, stdin: bytes | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIBEIMG_HOME": str(tmp_path / "home")}
    for name in ("VIBEIMG_API_KEY", "OPENAI_API_KEY", "VIBEIMG_BASE_URL", "OPENAI_BASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "vibeimg", *args], cwd=tmp_path, env=env, timeout=30,
        capture_output=True, text=True, check=False,
        input=stdin.decode("latin-1") if stdin is not None else None)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    save(tmp_path / "in.png", photo())
    save(tmp_path / "mask.png", alpha_mask())
    return tmp_path


@pytest.mark.parametrize(("args", "what"), [
    (("edit", "a fox", "-i", "pipe.png", "--offline"), "image"),
    (("edit", "a fox", "-i", "in.png", "-i", "pipe.png", "--offline"), "image 2"),
    (("edit", "a fox", "-i", "in.png", "--mask", "pipe.png", "--offline"), "mask"),
    (("chat-stream", "a fox", "-i", "pipe.png", "--offline"), "input image"),
    (("mask-convert", "pipe.png", "out.png"), "mask"),
    (("mask-convert", "mask.png", "out.png", "--match", "pipe.png"), "--match image"),
    (("generate", "--prompt-file", "pipe.png", "--offline"), "prompt file"),
    (("batch", "pipe.png", "--offline", "-d", "out"), "batch file"),
])
def test_a_fifo_is_refused_at_once(tmp_path: Path, fifo: Path, inputs: Path,
                                   args: tuple[str, ...], what: str) -> None:
    """Exit 2, one line naming the FIFO and the fix; no hang, no traceback."""
    done = _run(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert f"the {what} pipe.png is a FIFO (named pipe), not a regular file" in done.stderr
    assert "use '-'" in done.stderr and "Traceback" not in done.stderr


def test_a_fifo_named_by_a_batch_line_is_refused(tmp_path: Path, fifo: Path,
                                                 inputs: Path) -> None:
    """A batch edit line naming a FIFO: FILE:LINE with the reason, nothing sent."""
    (tmp_path / "edits.jsonl").write_text('{"prompt": "a fox", "images": ["pipe.png"]}\n',
                                          encoding="utf-8")
    done = _run(tmp_path, "batch", "edits.jsonl", "--offline", "-d", "out")
    assert done.returncode == 2, done.stderr
    assert "edits.jsonl:1:" in done.stderr and "FIFO (named pipe)" in done.stderr


def test_a_character_device_is_refused(tmp_path: Path, inputs: Path) -> None:
    """/dev/zero never ends: refused as a device, not read until memory runs out."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    done = _run(tmp_path, "edit", "a fox", "-i", "/dev/zero", "--offline")
    assert done.returncode == 2
    assert "the image /dev/zero is a character device" in done.stderr
    done = _run(tmp_path, "generate", "--prompt-file", "/dev/zero", "--offline")
    assert done.returncode == 2 and "character device" in done.stderr


def test_preview_refuses_a_fifo(tmp_path: Path, fifo: Path, inputs: Path) -> None:
    """preview does not hang on a FIFO: it is refused, exit 2 when nothing can be shown."""
    done = _run(tmp_path, "preview", "pipe.png")
    assert done.returncode == 2 and "FIFO" in done.stderr


def test_stdin_still_works_with_a_dash(tmp_path: Path, inputs: Path) -> None:
    """'-' reads the image from stdin, as before."""
    emulator = Emulator().start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "vibeimg", "edit", "a fox", "-i", "-", "--quality", "low"],
            cwd=tmp_path, input=(tmp_path / "in.png").read_bytes(), capture_output=True,
            timeout=30, check=False,
            env={**os.environ, "VIBEIMG_HOME": str(tmp_path / "home"),
                 "VIBEIMG_BASE_URL": emulator.base_url, "VIBEIMG_API_KEY": "sk-test-x"})
    finally:
        emulator.stop()
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("args", [("config", "list"), ("config", "set", "quality", "low"),
                                  ("generate", "fox", "--offline", "--dry-run")])
def test_a_fifo_as_the_config_file_is_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    """A FIFO where config.toml goes: exit 2 naming it and the rm that fixes it, where
    every command that reads the settings hung on it."""
    (tmp_path / "home").mkdir()
    os.mkfifo(tmp_path / "home" / "config.toml")
    done = _run(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "config.toml is a FIFO (named pipe), not a regular file (remove it with 'rm " in (
        done.stderr)
    assert (tmp_path / "home" / "config.toml").is_fifo()


def test_a_config_file_linked_to_a_device_is_refused(tmp_path: Path) -> None:
    """config.toml linked to /dev/zero: exit 2 at once, where it read without end."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").symlink_to("/dev/zero")
    done = _run(tmp_path, "config", "list")
    assert done.returncode == 2, done.stderr
    assert "config.toml is a device, not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_config_file_too_big_to_be_one_is_refused(tmp_path: Path) -> None:
    """A config.toml over 1 MiB (some other file copied there): one line, exit 2."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").write_text("#" * (2 << 20))
    done = _run(tmp_path, "config", "list")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: the config file ")
    assert "is over 1,048,576 bytes" in done.stderr and len(done.stderr.splitlines()) == 1
