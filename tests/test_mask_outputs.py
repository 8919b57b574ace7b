"""Where ``mask-convert`` cannot write its mask as a file (a FIFO, a device, a link to an
open stream, a name too long): one line and exit 2 before any work, never a hang, a
traceback, or a link replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pictures import bw_mask, save
from typer.testing import CliRunner

from tests.conftest import Result
from vibeimg.cli.app import app
from vibeimg.errors import ExitCode


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run vibeimg in tmp_path with no emulator (mask-convert is local)."""
    monkeypatch.chdir(tmp_path)
    save(tmp_path / "in.png", bw_mask())

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(app, list(args), prog_name="vibeimg")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)

    return invoke


def test_a_fifo_at_the_output_is_refused_not_waited_on(tmp_path) -> None:
    """A FIFO named as OUTPUT, with and without --force: exit 2 at once (it was opened
    to sniff it and hung with no writer), the FIFO left as it was."""
    save(tmp_path / "in.png", bw_mask())
    os.mkfifo(tmp_path / "out.png")
    for extra in ([], ["--force"]):
        done = subprocess.run([sys.executable, "-m", "vibeimg", "mask-convert", "in.png",
                               "out.png", *extra], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode == ExitCode.USAGE, done.stderr
        assert done.stderr == ("error: out.png is a FIFO (named pipe), not a regular file the "
                               "mask can replace (name a regular file; to write the mask to "
                               "stdout, use '-')\n")
    assert (tmp_path / "out.png").is_fifo()


def test_a_link_to_a_device_is_refused(run, tmp_path) -> None:
    """-o NAME --force where NAME links to /dev/null: exit 2, the link kept."""
    (tmp_path / "null.png").symlink_to("/dev/null")
    result = run("mask-convert", "in.png", "-o", "null.png", "--force")
    assert result.exit_code == ExitCode.USAGE
    assert "null.png leads to a character device, not a regular file" in result.stderr
    assert (tmp_path / "null.png").readlink().as_posix() == "/dev/null"


def test_a_link_to_an_open_stream_is_never_replaced(run, tmp_path) -> None:
    """A link like /dev/stdout (into /proc/self/fd) with --force: refused with the '-'
    to use, where it replaced the link with a file (as root, /dev/stdout itself)."""
    (tmp_path / "stdout.png").symlink_to("/proc/self/fd/1")
    result = run("mask-convert", "in.png", "-o", "stdout.png", "--force")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "a link into /proc" in result.stderr and "use '-'" in result.stderr
    assert (tmp_path / "stdout.png").readlink().as_posix() == "/proc/self/fd/1"


def test_a_name_too_long_is_a_usage_error(run, tmp_path) -> None:
    """A 274-byte Chinese OUTPUT name: exit 2 naming the limit, not an internal error."""
    name = "水" * 90 + ".png"
    result = run("mask-convert", "in.png", name)
    assert result.exit_code == ExitCode.USAGE
    assert "is 274 bytes long; file names hold at most 255 (choose a shorter name)" in (
        result.stderr)
    assert "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
