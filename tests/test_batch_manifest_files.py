"""The manifest file itself: something else in its place, a write the disk refuses, a
folder another run is writing. Each runs vibeimg in a child process with a timeout, so
a regression fails instead of hanging the suite."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vibeimg.batch.manifest import read_manifest
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

MANIFEST = "vibeimg-manifest.jsonl"


def vibeimg(cwd: Path, *args: str, emulator: Emulator | None = None, file_limit: int = 0,
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    if emulator is not None:
        env.update(VIBEIMG_BASE_URL=emulator.base_url, VIBEIMG_API_KEY="sk-test-process")

    def limit_files() -> None:  # before exec: no threads yet
        if file_limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=30, check=False,
                          preexec_fn=limit_files)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", [MANIFEST, "vibeimg-manifest-1of2.jsonl"])
def test_a_named_pipe_in_the_manifest_s_place_is_refused_at_once(tmp_path: Path,
                                                                 name: str) -> None:
    """A FIFO named like a manifest: one line naming it and the fix, exit 2, nothing sent
    (it used to hang reading the pipe)."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / name)
    with Emulator() as emulator:
        result = vibeimg(tmp_path, "batch", "p.txt", "-d", "out", emulator=emulator)
        assert emulator.api_requests() == []
    assert result.returncode == ExitCode.USAGE
    line = one_error_line(result)
    assert line.startswith(f"error: the manifest out/{name} is a named pipe (FIFO), not a "
                           "regular file"), line
    assert "move it out of the way" in line
    assert result.stdout == ""


def test_a_folder_in_the_manifest_s_place_is_refused(tmp_path: Path) -> None:
    """A folder named vibeimg-manifest.jsonl: one line, exit 2, nothing sent (it used to
    be an internal error), for a dry run too."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    (tmp_path / "out" / MANIFEST).mkdir(parents=True)
    with Emulator() as emulator:
        for extra in ((), ("--dry-run",)):
            result = vibeimg(tmp_path, "batch", "p.txt", "-d", "out", *extra,
                             emulator=emulator)
            assert result.returncode == ExitCode.USAGE, result.stderr
            line = one_error_line(result)
            assert line.startswith(f"error: the manifest out/{MANIFEST} is a folder, not a "
                                   "regular file"), line
        assert emulator.api_requests() == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_batch_merge_given_a_named_pipe_says_what_it_is(tmp_path: Path) -> None:
    """batch-merge FIFO: "is a named pipe (FIFO), not a regular file", not "does not
    exist"; exit 2 and nothing written. A FIFO inside a source folder is refused too."""
    os.mkfifo(tmp_path / "pipe.jsonl")
    result = vibeimg(tmp_path, "batch-merge", "pipe.jsonl", "-d", "all")
    assert result.returncode == ExitCode.USAGE
    line = one_error_line(result)
    assert line.startswith("error: pipe.jsonl is a named pipe (FIFO), not a regular file"), line
    (tmp_path / "shard").mkdir()
    os.mkfifo(tmp_path / "shard" / MANIFEST)
    result = vibeimg(tmp_path, "batch-merge", "shard", "-d", "all")
    assert result.returncode == ExitCode.USAGE
    assert "is a named pipe (FIFO), not a regular file" in one_error_line(result)
    assert not (tmp_path / "all").exists()


WRITE_TWO_LINES = """
import resource, sys
from pathlib import Path
from vibeimg.batch.writer import ManifestWriter
from vibeimg.errors import WriteError
path = Path(sys.argv[1])
with ManifestWriter(path) as writer:
    writer.append({"type": "plan", "items": []})
    before = path.read_bytes()
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 40, len(before) + 40))
    for write in (writer.write_now, writer.append):
        try:
            write({"type": "sending", "key": "k" * 200})
        except WriteError as exc:
            print(exc.one_line())
        print(path.read_bytes() == before)
"""


def test_a_line_the_disk_refuses_is_cut_back_off(tmp_path: Path) -> None:
    """A file size limit cuts a line short (as a full disk does): the manifest is cut
    back to where the line began, whichever way the line was written, and the error is
    the save error."""
    path = tmp_path / MANIFEST
    done = subprocess.run([sys.executable, "-c", WRITE_TWO_LINES, str(path)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1::2] == ["True", "True"], done.stdout
    assert all(line.startswith(f"cannot save the manifest {path}: File too large")
               for line in lines[0::2]), done.stdout
    assert read_manifest(path) == ([{"type": "plan", "items": []}], 0)


def test_a_batch_whose_manifest_fills_up_leaves_no_torn_line(tmp_path: Path) -> None:
    """The manifest reaches a size limit mid-line during a batch: exit 8, the manifest
    still ends with a whole line, and the rerun finishes without a warning about an
    unreadable line (a torn line used to warn on every run after) or paying twice."""
    out = tmp_path / "out"
    out.mkdir()
    limit = 64 * 1024
    pad = b'{"type": "note"}\n'
    (out / MANIFEST).write_bytes(pad * ((limit - 1800) // len(pad)))
    (tmp_path / "p.txt").write_text("".join(f"a fox {i}\n" for i in range(6)))
    args = ("batch", "p.txt", "-d", "out", "-c", "1", "--quality", "low", "--no-history")
    with Emulator() as emulator:
        first = vibeimg(tmp_path, *args, emulator=emulator, file_limit=limit)
        assert first.returncode == ExitCode.WRITE, first.stderr
        assert "cannot save the manifest" in first.stderr
        data = (out / MANIFEST).read_bytes()
        assert data.endswith(b"\n") and len(data) <= limit
        assert read_manifest(out / MANIFEST)[1] == 0  # every line whole
        again = vibeimg(tmp_path, *args, emulator=emulator)
        assert again.returncode == 0, again.stderr
        assert "unreadable manifest line" not in again.stderr
        assert len(emulator.api_requests()) == 6  # each prompt paid for once


def test_a_folder_another_run_writes_is_refused_before_anything_is_said(
        tmp_path: Path) -> None:
    """A second run of the same batch while the first is at work: its one line is the
    refusal, with nothing about what it would send (nor the first run's requests on
    the wire taken for an earlier run's), exit 2, nothing sent by it."""
    (tmp_path / "p.txt").write_text("".join(f"a heron {i}\n" for i in range(4)))
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with Emulator(EmulatorConfig(latency=3)) as emulator:
        env.update(VIBEIMG_BASE_URL=emulator.base_url, VIBEIMG_API_KEY="sk-test-process")
        first = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "batch", "p.txt", "-d", "out", "-c", "2"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while len(emulator.api_requests()) < 2:
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.01)
            second = vibeimg(tmp_path, "batch", "p.txt", "-d", "out", "-c", "2",
                             emulator=emulator)
            assert len(emulator.api_requests()) == 2
        finally:
            first.kill()
            first.communicate(timeout=10)
    assert second.returncode == ExitCode.USAGE
    line = one_error_line(second)
    assert line.startswith(f"error: another vibeimg batch is already writing out/{MANIFEST}")
    assert second.stdout == ""
