"""A prompt that is not UTF-8 text is refused before anything is sent or written, and a
byte-order mark in front of a prompt read from stdin or a file is dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from vibeimg.errors import ExitCode

NOT_UTF8 = b"caf\xe9 bad \x80\x81"  # Latin-1: no byte-order mark of another encoding
REFUSED = "error: the prompt is not valid UTF-8 text (convert it to UTF-8 first"


def assert_refused(cli: Cli, tmp_path: Path, result, message: str = REFUSED) -> None:
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stderr.startswith(message)
    assert "internal error" not in result.stderr
    assert result.stdout == ""  # not even a --json document: nothing was attempted
    assert cli.emulator.api_requests() == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["generate", "chat-stream"])
def test_argument_with_undecodable_bytes(cli, tmp_path, command: str) -> None:
    """argv $'caf\\xe9' (a surrogate escape): exit 2, nothing sent, nothing written."""
    result = cli(command, os.fsdecode(b"caf\xe9"), "--json")
    assert_refused(cli, tmp_path, result)


@pytest.mark.parametrize("command", ["generate", "chat-stream"])
def test_stdin_that_is_not_utf8(cli, tmp_path, command: str) -> None:
    """printf 'caf\\xe9 bad' | vibeimg COMMAND -: exit 2, nothing sent."""
    result = cli(command, "-", "--json", input=NOT_UTF8)
    assert_refused(cli, tmp_path, result)


def test_random_bytes_on_stdin(cli, tmp_path) -> None:
    """Bytes from /dev/urandom are refused the same way."""
    noise = b"\x80" + os.urandom(200)  # a lone continuation byte: never UTF-8
    assert_refused(cli, tmp_path, cli("generate", "-", input=noise))


def test_prompt_file_that_is_not_utf8(cli, tmp_path) -> None:
    """--prompt-file with Latin-1 text names the file."""
    (tmp_path / "p.txt").write_bytes(b"caf\xe9")
    result = cli("generate", "--prompt-file", "p.txt")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("error: the prompt file p.txt is not valid UTF-8 text")
    assert cli.emulator.api_requests() == []


@pytest.mark.parametrize(("encoding", "name", "iconv"), [
    ("utf-16", "UTF-16", "utf-16"), ("utf-16-be", "UTF-16", "utf-16"),
    ("utf-32", "UTF-32", "utf-32")])
def test_a_utf16_prompt_file_is_told_the_conversion_that_fits(cli, tmp_path, encoding: str,
                                                              name: str, iconv: str) -> None:
    """A prompt file saved as UTF-16 (with its byte-order mark) is named as such, with
    'iconv -f utf-16', not the Latin-1 conversion; nothing is sent."""
    text = "一只水獭 in the snow"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    (tmp_path / "p.txt").write_bytes(data)
    result = cli("generate", "--prompt-file", "p.txt")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == (f"error: the prompt file p.txt is {name} text, not UTF-8 "
                             f"(convert it to UTF-8 first: iconv -f {iconv} -t utf-8)\n")
    assert cli.emulator.api_requests() == []


def test_edit_argument_with_undecodable_bytes(cli, tmp_path) -> None:
    """edit refuses such a prompt before reading the inputs' upload."""
    result = cli("edit", os.fsdecode(b"caf\xe9"), "-i", "missing.png")
    assert result.exit_code == ExitCode.USAGE
    assert cli.emulator.api_requests() == []


def test_batch_from_stdin_that_is_not_utf8(cli, tmp_path) -> None:
    """batch -: refused before '1 to send', with no lock or manifest left."""
    result = cli("batch", "-", "-d", "out", input=b"caf\xe9\n")
    assert_refused(cli, tmp_path, result, "error: the batch on stdin is not valid UTF-8 text")
    assert "to send" not in result.stderr


def test_batch_line_with_a_surrogate_escape(cli, tmp_path) -> None:
    """A JSON line whose prompt escapes a lone surrogate is a bad line: nothing sent."""
    (tmp_path / "b.jsonl").write_text('{"prompt": "caf\\udce9"}\n')
    result = cli("batch", "b.jsonl", "-d", "out")
    assert result.exit_code == ExitCode.USAGE
    assert "b.jsonl:1: the prompt is not valid UTF-8 text" in result.stderr
    assert cli.emulator.api_requests() == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["stdin", "file"])
def test_byte_order_mark_is_dropped(cli, tmp_path, where: str) -> None:
    """A UTF-8 byte-order mark before the prompt is not part of it."""
    text = "\ufeffa red fox".encode()
    if where == "stdin":
        result = cli("generate", "-", "--json", input=text)
    else:
        (tmp_path / "p.txt").write_bytes(text)
        result = cli("generate", "--prompt-file", "p.txt", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["prompt"] == "a red fox"
    assert cli.emulator.api_requests()[0].json()["prompt"] == "a red fox"


def test_real_pipe_into_generate(tmp_path) -> None:
    """printf 'caf\\xe9 bad' | vibeimg generate - in a real process: exit 2, one line."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run([sys.executable, "-m", "vibeimg", "generate", "-", "--offline"],
                            input=NOT_UTF8, cwd=tmp_path, env=env, capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.decode().startswith(REFUSED)
    assert list(tmp_path.iterdir()) == []
