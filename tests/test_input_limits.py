"""stdin and prompt files are read no further than what could be valid: an endless stdin
(``yes | vibeimg generate -``) or a huge prompt file is one line and exit 2, not a
process that reads until memory runs out."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pictures import photo, save

from vibeimg.cli import common
from vibeimg.cli.common import MAX_PROMPT_BYTES
from vibeimg.errors import ExitCode

FLOOD = 24_000_000  # far more than any prompt: a reader that stops early leaves most of it


def _flood(tmp_path: Path, *args: str, total: int = FLOOD) -> tuple[int, str, int]:
    """Run vibeimg with ``total`` bytes of ``y`` lines offered on stdin: its exit code,
    its stderr, and how many bytes it accepted before it stopped reading."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    process = subprocess.Popen([sys.executable, "-m", "vibeimg", *args], cwd=tmp_path, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stderr is not None
    accepted = 0

    def feed() -> None:
        nonlocal accepted
        piece = b"y\n" * 32768
        try:
            while accepted < total:
                process.stdin.write(piece)  # type: ignore[union-attr]
                accepted += len(piece)
            process.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=60)
    writer.join(10)
    return code, stderr, accepted


@pytest.mark.parametrize("args", [
    ("generate", "-", "--offline"),
    ("chat-stream", "-", "--offline"),
    ("edit", "-", "-i", "in.png", "--offline"),
])
def test_an_endless_prompt_on_stdin_is_refused_early(tmp_path: Path, args) -> None:
    """A prompt on stdin is read no further than 32,000 characters can take: exit 2."""
    save(tmp_path / "in.png", photo())
    code, stderr, accepted = _flood(tmp_path, *args)
    assert code == ExitCode.USAGE
    assert stderr == (f"error: the prompt on stdin is more than {MAX_PROMPT_BYTES:,} bytes, "
                      "longer than any prompt can be (at most 32,000 characters) (shorten "
                      "the prompt)\n")
    assert accepted < FLOOD // 2  # it stopped reading: the pipe closed on the writer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_an_endless_mask_on_stdin_is_refused(tmp_path: Path) -> None:
    """mask-convert - reads at most 50 MB of stdin, then refuses: exit 2, nothing written."""
    code, stderr, accepted = _flood(tmp_path, "mask-convert", "-", total=120_000_000)
    assert code == ExitCode.USAGE
    assert stderr == ("error: the mask on stdin is more than 50.0 MB, the most read from "
                      "stdin (save it to a file and give its name instead of '-')\n")
    assert accepted < 100_000_000
    assert list(tmp_path.iterdir()) == []


def test_a_prompt_file_too_big_for_any_prompt(cli, emulator, tmp_path: Path) -> None:
    """--prompt-file larger than any prompt can be is refused by its size: exit 2; the
    longest prompt there can be still passes."""
    (tmp_path / "p.txt").write_bytes(b"a" * (MAX_PROMPT_BYTES + 1))
    result = cli("generate", "--prompt-file", "p.txt")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == (f"error: the prompt file p.txt is more than "
                             f"{MAX_PROMPT_BYTES:,} bytes, longer than any prompt can be (at "
                             "most 32,000 characters) (shorten the prompt)\n")
    assert emulator.requests == []
    # The longest prompt in the widest characters, a byte-order mark and blank lines pass.
    text = "\ufeff" + "\U0001f9a6" * 32_000 + "\n" * 1000
    (tmp_path / "p.txt").write_text(text, encoding="utf-8")
    assert cli("generate", "--prompt-file", "p.txt", "--dry-run").exit_code == 0
    assert cli("generate", "-", "--dry-run", input=text.encode()).exit_code == 0


def test_a_batch_on_stdin_has_a_cap(cli, emulator, monkeypatch) -> None:
    """batch - reads stdin no further than its cap, then refuses: exit 2, no request."""
    monkeypatch.setattr(common, "MAX_STDIN_BATCH_BYTES", 1000)
    result = cli("batch", "-", input=b"a fox\n" * 1000)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == ("error: the batch on stdin is more than 1,000 bytes (save it to "
                             "a file and give its name instead of '-')\n")
    assert emulator.requests == []


def test_a_chat_line_longer_than_any_prompt(cli, emulator) -> None:
    """chat with stdin piped: a line longer than any prompt is refused, nothing sent."""
    result = cli("chat", input=b"y" * (MAX_PROMPT_BYTES + 10) + b"\n")
    assert result.exit_code == ExitCode.USAGE
    assert f"line 1 of stdin is more than {MAX_PROMPT_BYTES:,} bytes" in result.stderr
    assert emulator.requests == []
