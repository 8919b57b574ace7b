"""Every shell example in README.md runs against an emulator, so the docs cannot drift.

The rules, also written in a comment at the top of README.md:

- every ``python`` code block runs as a Python script, in the same folder and
  environment as the shell blocks (so ``import vibeimg`` talks to the test emulator);
- every ``sh`` (or ``bash``, ``shell``) code block runs as a bash script with
  ``set -eo pipefail``, top to bottom, all in one empty folder, with its own ``HOME``
  and ``VIBEIMG_HOME``, ``vibeimg`` on ``PATH``, ``VIBEIMG_BASE_URL`` pointing at a test
  emulator and a test key in ``VIBEIMG_API_KEY`` (and on stdin, for
  ``vibeimg config set api-key``); each must exit 0;
- an HTML comment starting with ``norun`` between the previous block and this one skips
  the block (say why in the comment); one starting with ``exit N`` expects exit code N;
- output belongs in ``text`` blocks, which are not run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TEST_KEY

from vibeimg.emulator import Emulator, EmulatorConfig

README = Path(__file__).resolve().parents[1] / "README.md"
RUNNABLE = ("sh", "bash", "shell", "python")
FENCE = re.compile(r"^```\s*([\w-]*)\s*$")
NORUN = re.compile(r"<!--\s*norun\b")
EXIT = re.compile(r"<!--\s*exit\s+(\d+)")
BLOCK_TIMEOUT = 120.0


@dataclass(frozen=True)
class Example:
    """One fenced code block of the README."""

    line: int  # where its opening fence is, counting from 1
    language: str
    code: str
    run: bool
    exit_code: int

    @property
    def name(self) -> str:
        return f"README.md:{self.line}"


def examples(text: str) -> list[Example]:
    """The README's fenced blocks, with what the comments before each say about it."""
    found: list[Example] = []
    lines = text.splitlines()
    between: list[str] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            between.append(lines[index])
            index += 1
            continue
        opening, language, body = index, fence.group(1), []
        index += 1
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        notes = "\n".join(between)
        expected = EXIT.search(notes)
        found.append(Example(
            line=opening + 1, language=language, code="\n".join(body) + "\n",
            run=language in RUNNABLE and not NORUN.search(notes),
            exit_code=int(expected.group(1)) if expected else 0,
        ))
        between = []
        index += 1
    return found


ALL = examples(README.read_text(encoding="utf-8"))
RUN = [example for example in ALL if example.run]


@dataclass
class Shell:
    """The reader's shell: one folder, one home, an emulator, the test key."""

    folder: Path
    env: dict[str, str]

    def run(self, code: str, language: str = "sh") -> tuple[int, str, str]:
        command = ([sys.executable, "-c", code] if language == "python"
                   else ["bash", "-c", "set -eo pipefail\n" + code])
        process = subprocess.Popen(
            command, cwd=self.folder, env=self.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        try:
            out, err = process.communicate(TEST_KEY + "\n", timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            err += f"\n(timed out after {BLOCK_TIMEOUT:g} s)"
        finally:
            with contextlib.suppress(ProcessLookupError):  # anything left in the background
                os.killpg(process.pid, signal.SIGKILL)
        return process.returncode, out, err


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    """A shell where 'vibeimg' is this checkout, isolated from the real home."""
    root = tmp_path_factory.mktemp("readme")
    folder, home, tools = root / "work", root / "home", root / "bin"
    for path in (folder, home, tools):
        path.mkdir()
    shim = tools / "vibeimg"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vibeimg "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIBEIMG_", "OPENAI_")) and k not in ("NO_COLOR",)}
    with Emulator(EmulatorConfig(retry_after=0.05)) as emulator:
        env.update({
            "PATH": f"{tools}{os.pathsep}{env.get('PATH', '')}",
            "HOME": str(home), "VIBEIMG_HOME": str(root / "vibeimg-home"),
            "VIBEIMG_BASE_URL": emulator.base_url, "VIBEIMG_API_KEY": TEST_KEY,
        })
        yield Shell(folder, env)


@pytest.mark.parametrize("example", RUN, ids=[example.name for example in RUN])
def test_readme_example_runs(reader: Shell, example: Example) -> None:
    """The block exits as the README promises, and never shows the key."""
    code, out, err = reader.run(example.code, example.language)
    assert code == example.exit_code, f"{example.name} exited {code}\n{example.code}\n{err}"
    assert TEST_KEY not in out + err
    assert "Traceback" not in err


def test_readme_rules_are_followed() -> None:
    """The parser sees the README's blocks: the install commands are skipped, most run."""
    assert len(RUN) >= 8
    top_two = [example for example in ALL if "python3 -m venv" in example.code][:2]
    assert len(top_two) == 2 and not any(example.run for example in top_two)
    for example in RUN:
        assert "vibeimg" in example.code, f"{example.name} runs no vibeimg command"
    assert any(example.language == "python" for example in RUN), "no Python example runs"


def test_parser_reads_directives() -> None:
    """norun skips a block, exit N sets the expected code, text blocks never run."""
    text = ("intro\n<!-- norun: installs -->\n```sh\npip install x\n```\n"
            "<!-- exit 2 -->\n```sh\nvibeimg generate\n```\n"
            "```text\noutput\n```\n```sh\nvibeimg --version\n```\n")
    found = examples(text)
    assert [(e.line, e.run, e.exit_code) for e in found] == [
        (3, False, 0), (7, True, 2), (10, False, 0), (13, True, 0)]
    assert found[1].code == "vibeimg generate\n"
