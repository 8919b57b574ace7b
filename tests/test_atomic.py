"""Atomic files: a file takes its name only when whole, never takes a name in use unless
asked, and leaves nothing behind when it is given up, killed or refused a name.

Each test runs twice: with a file that has no name until it is finished (``O_TMPFILE``,
where the system has it) and with a hidden temporary name (everywhere else).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vibeimg.files import atomic, noreplace
from vibeimg.files.atomic import AtomicFile


def _unnamed_available(folder: Path) -> bool:
    fd = noreplace.open_unnamed(folder)
    if fd is None:
        return False
    os.close(fd)
    return True


@pytest.fixture(params=["unnamed", "named"])
def mode(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "named":
        monkeypatch.setattr(atomic, "open_unnamed", lambda _folder: None)
    elif not _unnamed_available(tmp_path):
        pytest.skip("this system or filesystem has no O_TMPFILE")
    return str(request.param)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_file_has_its_name_only_when_committed(tmp_path: Path, mode: str) -> None:
    with AtomicFile(tmp_path) as tmp:
        tmp.write(b"half")
        tmp.flush()
        during = names(tmp_path)
        tmp.write(b" and the rest")
        tmp.commit(tmp_path / "fox.png", overwrite=False)
    assert names(tmp_path) == ["fox.png"]
    assert (tmp_path / "fox.png").read_bytes() == b"half and the rest"
    # Unnamed, nothing shows while it is written; named, only the hidden name does.
    if mode == "unnamed":
        assert during == []
    else:
        assert len(during) == 1 and during[0].startswith(".vibeimg-"), during


def test_a_taken_name_is_refused_and_another_can_be_tried(tmp_path: Path, mode: str) -> None:
    """The refusal loses nothing: the same file then takes a free name, whole."""
    (tmp_path / "fox.png").write_bytes(b"theirs")
    with AtomicFile(tmp_path) as tmp:
        tmp.write(b"mine")
        with pytest.raises(FileExistsError):
            tmp.commit(tmp_path / "fox.png", overwrite=False)
        tmp.commit(tmp_path / "fox-2.png", overwrite=False)
    assert (tmp_path / "fox.png").read_bytes() == b"theirs"
    assert (tmp_path / "fox-2.png").read_bytes() == b"mine"
    assert names(tmp_path) == ["fox-2.png", "fox.png"]


def test_a_taken_pending_name_is_refused_and_another_can_be_tried(
    tmp_path: Path, mode: str
) -> None:
    (tmp_path / ".wait-1").write_bytes(b"left by another run")
    with AtomicFile(tmp_path) as tmp:
        tmp.write(b"mine")
        with pytest.raises(FileExistsError):
            tmp.rename(tmp_path / ".wait-1")
        tmp.rename(tmp_path / ".wait-2")
        assert (tmp_path / ".wait-2").read_bytes() == b"mine"
        tmp.commit(tmp_path / "fox.png", overwrite=False)
    assert (tmp_path / ".wait-1").read_bytes() == b"left by another run"
    assert names(tmp_path) == [".wait-1", "fox.png"]
    assert (tmp_path / "fox.png").read_bytes() == b"mine"


def test_overwrite_replaces_a_file_and_a_link_never_its_target(tmp_path: Path, mode: str) -> None:
    (tmp_path / "fox.png").write_bytes(b"old")
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"keep me")
    (tmp_path / "link.png").symlink_to(target)
    for name in ("fox.png", "link.png"):
        with AtomicFile(tmp_path) as tmp:
            tmp.write(b"new")
            tmp.commit(tmp_path / name, overwrite=True)
    assert (tmp_path / "fox.png").read_bytes() == b"new"
    assert not (tmp_path / "link.png").is_symlink()
    assert (tmp_path / "link.png").read_bytes() == b"new"
    assert target.read_bytes() == b"keep me"
    assert names(tmp_path) == ["elsewhere.txt", "fox.png", "link.png"]


def test_a_link_at_the_name_is_a_taken_name(tmp_path: Path, mode: str) -> None:
    """Without overwrite a symbolic link (even a dangling one) is never written through."""
    (tmp_path / "fox.png").symlink_to(tmp_path / "nowhere")
    with AtomicFile(tmp_path) as tmp:
        tmp.write(b"mine")
        with pytest.raises(FileExistsError):
            tmp.commit(tmp_path / "fox.png", overwrite=False)
    assert not (tmp_path / "nowhere").exists()
    assert names(tmp_path) == ["fox.png"]  # the given-up file left nothing


def test_discard_and_discard_all_leave_nothing(tmp_path: Path, mode: str) -> None:
    with AtomicFile(tmp_path) as given_up:
        given_up.write(b"x")
        given_up.discard()
    interrupted = AtomicFile(tmp_path)
    interrupted.write(b"y" * 1000)
    AtomicFile.discard_all()  # what Ctrl-C does, from another thread
    with pytest.raises(FileNotFoundError):
        interrupted.commit(tmp_path / "fox.png", overwrite=False)
    interrupted.discard()
    assert names(tmp_path) == []


def test_reader_and_digest_see_what_was_written(tmp_path: Path, mode: str) -> None:
    with AtomicFile(tmp_path, digest=True) as tmp:
        tmp.write(b"abc")
        with tmp.reader() as reader:
            assert reader.read() == b"abc"
        tmp.write(b"def")  # the reader had its own offset: writing goes on at the end
        path = tmp.commit(tmp_path / "a.bin", overwrite=False)
        facts = tmp.facts()
    assert path.read_bytes() == b"abcdef"
    assert facts is not None and facts["bytes"] == 6
    assert facts["mtime_ns"] == path.stat().st_mtime_ns
    with pytest.raises(ValueError, match="closed"):
        tmp.reader()


def test_a_new_file_has_the_usual_mode(tmp_path: Path, mode: str) -> None:
    """0666 less the umask, as any new file the user makes."""
    old = os.umask(0o027)
    try:
        with AtomicFile(tmp_path) as tmp:
            tmp.write(b"x")
            path = tmp.commit(tmp_path / "fox.png", overwrite=False)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(sys.platform != "linux", reason="O_TMPFILE is Linux's")
def test_kill_9_while_writing_leaves_nothing(tmp_path: Path) -> None:
    """A file without a name is freed by the system when its writer dies."""
    if not _unnamed_available(tmp_path):
        pytest.skip("this filesystem has no O_TMPFILE")
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from vibeimg.files.atomic import AtomicFile
        tmp = AtomicFile(Path({str(tmp_path)!r}))
        tmp.write(b"x" * 1_000_000)
        tmp.flush()
        print("written", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "written\n"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert names(tmp_path) == []
