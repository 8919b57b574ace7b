"""Every shell example in README.md and README.zh-CN.md runs against an emulator, so the
docs cannot drift, in either language.

The rules, also written in a comment at the top of each README:

- every ``python`` code block runs as a Python script, in the same folder and
  environment as the shell blocks but with no key and no base URL, as on a newcomer's
  fresh machine: an example that needs a key it does not set fails here as it would
  there (with ``offline=True`` it needs none);
- every ``sh`` (or ``bash``, ``shell``) code block runs as a bash script with
  ``set -eo pipefail``, top to bottom, all in one empty folder per README, with its own ``HOME``
  and ``VIBEIMG_HOME``, ``vibeimg`` on ``PATH``, ``VIBEIMG_BASE_URL`` pointing at a test
  emulator and a test key in ``VIBEIMG_API_KEY`` (and on stdin, for
  ``vibeimg config set api-key``); each must exit 0. A block that sets a base URL itself
  (``VIBEIMG_BASE_URL=...``, its own mock-server) gets neither variable: like a reader
  who has none, it must set the key it needs;
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

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
READMES = (README, ROOT / "README.zh-CN.md")
RUNNABLE = ("sh", "bash", "shell", "python")
FENCE = re.compile(r"^```\s*([\w-]*)\s*$")
NORUN = re.compile(r"<!--\s*norun\b")
EXIT = re.compile(r"<!--\s*exit\s+(\d+)")
BLOCK_TIMEOUT = 120.0
OWN_GATEWAY = re.compile(r"\b(?:VIBEIMG|OPENAI)_BASE_URL=")  # a block that sets its own


@dataclass(frozen=True)
class Example:
    """One fenced code block of the README."""

    line: int  # where its opening fence is, counting from 1
    language: str
    code: str
    run: bool
    exit_code: int
    document: str = "README.md"

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}"


def examples(text: str, document: str = "README.md") -> list[Example]:
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
            exit_code=int(expected.group(1)) if expected else 0, document=document,
        ))
        between = []
        index += 1
    return found


BY_DOCUMENT = {path.name: examples(path.read_text(encoding="utf-8"), path.name)
               for path in READMES}
ALL = [example for found in BY_DOCUMENT.values() for example in found]
RUN = [example for example in ALL if example.run]


def without_gateway(env: dict[str, str]) -> dict[str, str]:
    """``env`` as a reader's fresh machine has it: no key and no base URL of ours."""
    return {k: v for k, v in env.items() if k not in ("VIBEIMG_API_KEY", "VIBEIMG_BASE_URL")}


@dataclass
class Shell:
    """The reader's shell: one folder, one home, an emulator, the test key."""

    folder: Path
    env: dict[str, str]

    def run(self, code: str, language: str = "sh") -> tuple[int, str, str]:
        command = ([sys.executable, "-c", code] if language == "python"
                   else ["bash", "-c", "set -eo pipefail\n" + code])
        env = self.env
        if language == "python" or OWN_GATEWAY.search(code):
            # A Python example, or a block that points vibeimg at its own server, is run
            # as a reader runs it: with no key or base URL from us, so it must set every
            # one it needs (or say offline=True).
            env = without_gateway(env)
        process = subprocess.Popen(
            command, cwd=self.folder, env=env,
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
def readers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Shell]]:
    """For each README, a shell where 'vibeimg' is this checkout, isolated from the real
    home and from the other README's files."""
    root = tmp_path_factory.mktemp("readme")
    tools = root / "bin"
    tools.mkdir()
    shim = tools / "vibeimg"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vibeimg "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIBEIMG_", "OPENAI_")) and k not in ("NO_COLOR",)}
    with Emulator(EmulatorConfig(retry_after=0.05)) as emulator:
        shells = {}
        for document in BY_DOCUMENT:
            folder, home = root / document / "work", root / document / "home"
            folder.mkdir(parents=True)
            home.mkdir()
            shells[document] = Shell(folder, {
                **env, "PATH": f"{tools}{os.pathsep}{env.get('PATH', '')}",
                "HOME": str(home), "VIBEIMG_HOME": str(root / document / "vibeimg-home"),
                "VIBEIMG_BASE_URL": emulator.base_url, "VIBEIMG_API_KEY": TEST_KEY,
            })
        yield shells


@pytest.mark.parametrize("example", RUN, ids=[example.name for example in RUN])
def test_readme_example_runs(readers: dict[str, Shell], example: Example) -> None:
    """The block exits as the README promises, and never shows the key."""
    code, out, err = readers[example.document].run(example.code, example.language)
    assert code == example.exit_code, f"{example.name} exited {code}\n{example.code}\n{err}"
    assert TEST_KEY not in out + err
    assert "Traceback" not in err


@pytest.mark.parametrize(("document", "least"), [("README.md", 8), ("README.zh-CN.md", 5)])
def test_readme_rules_are_followed(document: str, least: int) -> None:
    """The parser sees each README's blocks: the install commands are skipped, most run."""
    found = BY_DOCUMENT[document]
    assert len([example for example in found if example.run]) >= least
    top_two = [example for example in found if "python3 -m venv" in example.code][:2]
    assert len(top_two) == 2 and not any(example.run for example in top_two)
    for example in found:
        if example.run:
            assert "vibeimg" in example.code, f"{example.name} runs no vibeimg command"
    if document == "README.md":
        assert any(example.language == "python" for example in found if example.run), \
            "no Python example runs"


def test_the_readmes_link_each_other_at_the_top() -> None:
    """README.md links the Chinese one from its first lines, and the Chinese one links back."""
    english = README.read_text(encoding="utf-8").splitlines()[:12]
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8").splitlines()[:6]
    assert any("[中文说明](README.zh-CN.md)" in line for line in english)
    assert any("(README.md)" in line for line in chinese)


def test_parser_reads_directives() -> None:
    """norun skips a block, exit N sets the expected code, text blocks never run."""
    text = ("intro\n<!-- norun: installs -->\n```sh\npip install x\n```\n"
            "<!-- exit 2 -->\n```sh\nvibeimg generate\n```\n"
            "```text\noutput\n```\n```sh\nvibeimg --version\n```\n")
    found = examples(text)
    assert [(e.line, e.run, e.exit_code) for e in found] == [
        (3, False, 0), (7, True, 2), (10, False, 0), (13, True, 0)]
    assert found[1].code == "vibeimg generate\n"


def test_python_examples_run_without_a_key(tmp_path: Path) -> None:
    """A python block that needs a key it does not set fails, as on a fresh machine."""
    shell = Shell(tmp_path, {**os.environ, "VIBEIMG_HOME": str(tmp_path / "home"),
                             "VIBEIMG_API_KEY": TEST_KEY, "VIBEIMG_BASE_URL": "http://127.0.0.1:9"})
    needs_key = "import vibeimg\nvibeimg.Client().generate('a fox')\n"
    code, _out, err = shell.run(needs_key, "python")
    assert code != 0 and "MissingKeyError" in err
    code, _out, err = shell.run("import vibeimg\nvibeimg.generate('a fox', offline=True)\n",
                                "python")
    assert code == 0, err
