"""An output folder nothing can be written in: a read-only mount (EROFS) is named as
such, with a fix that looks elsewhere, and told apart from a permission to fix."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vibeimg.errors import ExitCode


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A folder with a read-only tmpfs mounted on it; skipped where nothing can be mounted."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mount = shutil.which("mount")
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root and mount(8)")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):
            subprocess.run(["umount", str(folder)], capture_output=True, check=False)


def test_out_dir_on_a_read_only_mount_says_read_only(cli, emulator, read_only_mount) -> None:
    """-d on a read-only file system: exit 2 before sending, the line says read-only
    (EROFS) and points at another folder, not at a permission."""
    result = cli("generate", "fox", "-d", "ro")
    assert result.exit_code == ExitCode.USAGE
    assert "read-only file system (EROFS)" in result.stderr
    assert "choose a folder on a writable disk with --out-dir" in result.stderr
    assert "permission" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert emulator.requests == []


def test_a_folder_to_make_on_a_read_only_mount(cli, emulator, read_only_mount) -> None:
    """-d naming a folder to be made inside a read-only mount says the same."""
    result = cli("generate", "fox", "-d", "ro/sub")
    assert result.exit_code == ExitCode.USAGE
    assert "cannot create the output folder ro/sub: the file system is read-only (EROFS)" \
        in result.stderr
    assert emulator.requests == []


def test_doctor_names_a_read_only_output_folder(cli, read_only_mount) -> None:
    """doctor's output-folder check says read-only, not 'not writable' with a chmod fix."""
    result = cli("doctor", env={"VIBEIMG_OUT_DIR": str(read_only_mount)})
    assert result.exit_code == ExitCode.USAGE
    assert f"{read_only_mount} is on a read-only file system (EROFS)" in result.stdout
    assert "chmod" not in result.stdout


def test_out_dir_without_permission_says_so(cli, emulator, tmp_path) -> None:
    """A folder the user may not write in: 'permission denied', and the chmod that fixes it."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = cli("generate", "fox", "-d", "locked")
    finally:
        locked.chmod(0o700)
    assert result.exit_code == ExitCode.USAGE
    assert "the output folder locked is not writable (permission denied)" in result.stderr
    assert "chmod u+w locked" in result.stderr
    assert emulator.requests == []
