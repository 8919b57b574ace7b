"""Moving a finished file to a name nobody has: one rename where the system can."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from vibeimg.files import atomic, noreplace
from vibeimg.files.atomic import AtomicFile

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")


@linux_only
def test_moves_the_file_itself_in_one_rename(tmp_path: Path) -> None:
    """The same inode under the new name, the old name gone: a rename, not a copy."""
    source, destination = tmp_path / ".part", tmp_path / "fox.png"
    source.write_bytes(b"image")
    inode = source.stat().st_ino
    assert noreplace.move_noreplace(source, destination) is True
    assert not source.exists()
    assert destination.read_bytes() == b"image" and destination.stat().st_ino == inode


@linux_only
def test_a_taken_name_is_refused_and_both_files_kept(tmp_path: Path) -> None:
    """A name in use raises FileExistsError; neither file is touched."""
    source, destination = tmp_path / ".part", tmp_path / "fox.png"
    source.write_bytes(b"new")
    destination.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        noreplace.move_noreplace(source, destination)
    assert source.read_bytes() == b"new" and destination.read_bytes() == b"theirs"


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "link-unlink"])
def test_commit_never_replaces_with_or_without_renameat2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renameat2: bool
) -> None:
    """Either way a commit takes a free name, refuses a taken one and leaves no temp file."""
    monkeypatch.setattr(atomic, "open_unnamed", lambda _folder: None)  # a named temp file
    if not renameat2:
        monkeypatch.setattr(noreplace, "_available", False)
    elif sys.platform != "linux":
        pytest.skip("renameat2 is Linux's")
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"theirs")
    with AtomicFile(tmp_path) as first:
        first.write(b"mine")
        assert first.commit(tmp_path / "free.png", overwrite=False) == tmp_path / "free.png"
    second = AtomicFile(tmp_path)
    second.write(b"mine too")
    with pytest.raises(FileExistsError):
        second.commit(taken, overwrite=False)
    second.discard()
    assert (tmp_path / "free.png").read_bytes() == b"mine"
    assert taken.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["free.png", "taken.png"]


def test_a_filesystem_that_refuses_the_flag_falls_back_for_good(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """EINVAL (a filesystem without RENAME_NOREPLACE) turns the fast path off: link and
    unlink do the move from then on."""
    calls: list[int] = []

    def refusing(*args: object) -> int:
        calls.append(1)
        return -1

    monkeypatch.setattr(atomic, "open_unnamed", lambda _folder: None)  # a named temp file
    monkeypatch.setattr(noreplace, "_available", True)
    monkeypatch.setattr(noreplace, "_call", refusing)
    monkeypatch.setattr(noreplace, "_errno", lambda: 22)  # EINVAL
    source = tmp_path / "a"
    source.write_bytes(b"x")
    assert noreplace.move_noreplace(source, tmp_path / "b") is False
    assert noreplace._available is False
    assert noreplace.move_noreplace(source, tmp_path / "b") is False
    assert calls == [1]  # not asked again
    with AtomicFile(tmp_path) as tmp:
        tmp.write(b"y")
        tmp.commit(tmp_path / "c", overwrite=False)
    assert (tmp_path / "c").read_bytes() == b"y"


def test_a_filesystem_without_unnamed_files_gets_named_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """O_TMPFILE refused (EOPNOTSUPP, as on a filesystem without it): a hidden named
    temporary file instead, and that folder is not asked again."""
    calls: list[str] = []
    real_open = os.open

    def refusing(path: object, flags: int, *args: object) -> int:
        if flags & getattr(os, "O_TMPFILE", 0) == getattr(os, "O_TMPFILE", -1):
            calls.append(str(path))
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(noreplace, "_tmpfile_refused", set())
    monkeypatch.setattr(noreplace.os, "open", refusing)
    for name in ("a.png", "b.png"):
        with AtomicFile(tmp_path) as tmp:
            tmp.write(b"x")
            assert tmp.temp_path is not None and tmp.temp_path.name.startswith(".vibeimg-")
            tmp.commit(tmp_path / name, overwrite=False)
    if getattr(os, "O_TMPFILE", 0) and noreplace._proc_mounted:
        assert calls == [str(tmp_path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]
