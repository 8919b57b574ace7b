"""What occupies a name vibeimg will not write over is said as it is: a folder, a
symbolic link (to where), a dangling one, a FIFO; "another file" only for a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from vibeimg.errors import ExitCode


def _occupy(path: Path, kind: str) -> str:
    """Put a ``kind`` at ``path``; the words the message should use for it."""
    if kind == "folder":
        path.mkdir()
        return "is a folder"
    if kind == "link":
        path.symlink_to("/etc/hostname")
        return "is a symbolic link (to /etc/hostname)"
    if kind == "dangling":
        path.symlink_to("nowhere.json")
        return "is a dangling symbolic link (to nowhere.json, which does not exist)"
    if kind == "fifo":
        os.mkfifo(path)
        return "is a FIFO (named pipe)"
    path.write_text("{}")
    return "is another file"


@pytest.mark.parametrize("kind", ["folder", "link", "dangling", "fifo", "file"])
@pytest.mark.parametrize("force", [(), ("--force",)])
def test_the_sidecar_name_taken_says_what_is_there(cli, tmp_path: Path, kind, force) -> None:
    """fox.json taken by a folder, link, dangling link, FIFO or file: fox-2.png is saved and
    the note names what fox.json is ('a folder', not 'another file')."""
    words = _occupy(tmp_path / "fox.json", kind)
    result = cli("generate", "fox", *force)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "fox-2.png\n"
    assert f"saved as fox-2.png (fox.json {words})" in result.stderr


@pytest.mark.parametrize("kind", ["folder", "dangling", "fifo"])
def test_the_image_name_taken_says_what_is_there(cli, tmp_path: Path, kind) -> None:
    """fox.png taken by a folder, dangling link or FIFO (no sidecar in play): the note
    names it, where a plain file taken is the silent, documented -2."""
    words = _occupy(tmp_path / "fox.png", kind)
    result = cli("generate", "fox", "--no-sidecar")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "fox-2.png\n"
    assert f"(fox.png {words})" in result.stderr


def test_a_dangling_link_at_a_mask_output_is_named(cli, tmp_path: Path) -> None:
    """mask-convert onto a dangling link: 'is a dangling symbolic link', not 'exists'."""
    Image.new("L", (16, 16), 0).save(tmp_path / "m.png")
    words = _occupy(tmp_path / "out.png", "dangling")
    result = cli("mask-convert", "m.png", "out.png")
    assert result.exit_code == ExitCode.USAGE
    assert f"out.png {words}" in result.stderr


@pytest.mark.parametrize("kind", ["dangling", "fifo"])
def test_the_events_file_name_taken_says_what_is_there(cli, tmp_path: Path, kind) -> None:
    """chat-stream --events onto a dangling link or FIFO names it; --force is offered only
    where it would help (a FIFO is never replaced)."""
    words = _occupy(tmp_path / "ev.jsonl", kind)
    result = cli("chat-stream", "a fox", "--events", "ev.jsonl")
    assert result.exit_code == ExitCode.USAGE
    assert f"the events file ev.jsonl {words}" in result.stderr
    assert ("--force" in result.stderr) == (kind == "dangling")
