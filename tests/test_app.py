"""The command table and start-up: what 'vibeimg --help' imports and lists."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys

import pytest
import typer

from vibeimg.cli.app import exit_code_for
from vibeimg.cli.commands import COMMANDS
from vibeimg.errors import ExitCode, ServerError


@pytest.mark.parametrize("name", list(COMMANDS))
def test_summary_matches_the_docstring(name: str) -> None:
    """The static summary shown by 'vibeimg --help' is the command docstring's first line."""
    lazy = COMMANDS[name]
    function = getattr(importlib.import_module(lazy.module), lazy.function)
    doc = function.info.help if isinstance(function, typer.Typer) else inspect.getdoc(function)
    assert doc.splitlines()[0] == lazy.summary

#: The command-line modules every run loads: the app, its command table, and the
#: standard-library-only helpers (the stdout guard, the signal handlers).
EVERY_RUN = ("vibeimg.cli.app", "vibeimg.cli.commands", "vibeimg.cli.stdout",
             "vibeimg.cli.interrupts")


def test_help_imports_no_command_and_no_heavy_library() -> None:
    """'vibeimg --help' imports no command module, httpx, Pillow or Rich (only the
    standard-library-only helpers of every run: the stdout guard, the signal handlers)."""
    code = (
        "import sys; sys.argv = ['vibeimg', '--help']\n"
        "from vibeimg.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('httpx', 'PIL', 'rich', "
        f"'pydantic') or m.startswith('vibeimg.cli.') and m not in {EVERY_RUN!r}]\n"
        "print('HEAVY', sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("HEAVY []"), out


# What describing a command must not import: the code that runs it, the config stack
# (platformdirs, tomllib, tempfile, hashlib) and the heavy libraries.
RUNTIME_ONLY = ("httpx", "PIL", "rich", "pydantic", "platformdirs", "tomllib", "tempfile",
                "hashlib", "sqlite3", "json", "vibeimg.wire", "vibeimg.files",
                "vibeimg.records", "vibeimg.batch", "vibeimg.masks",
                "vibeimg.settings.configfile", "vibeimg.settings.resolve", "vibeimg.params",
                "vibeimg.cli.common", "vibeimg.jobs.chat.request", "dataclasses")


@pytest.mark.parametrize("command", ["generate", "edit", "chat-stream", "mask-convert",
                                     "batch", "history", "config", "doctor"])
def test_command_help_imports_only_what_it_shows(command: str, tmp_path) -> None:
    """'vibeimg COMMAND --help' (no config file) imports no runtime code or library."""
    code = (
        f"import sys; sys.argv = ['vibeimg', {command!r}, '--help']\n"
        "from vibeimg.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"loaded = [m for m in sys.modules if any(m == r or m.startswith(r + '.') "
        f"for r in {RUNTIME_ONLY!r})]\n"
        "print('LOADED', sorted(loaded))"
    )
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIBEIMG_", "XDG_", "OPENAI_"))}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout
    assert out.splitlines()[-1] == "LOADED []"


@pytest.mark.parametrize("command", ["generate", "chat-stream"])
def test_a_dry_run_imports_no_http_or_file_code(command: str, tmp_path) -> None:
    """'--dry-run' prints the request without importing httpx, Pillow or the file writers."""
    code = (
        f"import sys; sys.argv = ['vibeimg', {command!r}, 'a fox', '--dry-run']\n"
        "from vibeimg.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpx_sse', 'PIL', "
        "'tempfile', 'hashlib', 'platformdirs') or m.startswith(('vibeimg.wire', "
        "'vibeimg.files.atomic', 'vibeimg.files.sidecars'))]\n"
        "print('LOADED', sorted(loaded))"
    )
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIBEIMG_", "XDG_", "OPENAI_"))}
    env["HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)
    assert '"dry_run": true' in done.stdout
    assert done.stdout.splitlines()[-1] == "LOADED []"


def test_every_command_is_listed() -> None:
    """The root help lists each command with its summary."""
    out = subprocess.run([sys.executable, "-m", "vibeimg", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for name, lazy in COMMANDS.items():
        assert name in out and lazy.summary in out


def test_a_mistyped_command_gets_a_suggestion(cli, emulator) -> None:
    """'vibeimg genrate': exit 2, Click's one line with the closest command, nothing sent."""
    result = cli("genrate", "a fox")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: No such command 'genrate'. Did you mean 'generate'? "
                             "(see 'vibeimg --help')\n")
    assert emulator.requests == []


def test_an_unknown_command_without_a_close_match(cli) -> None:
    """A name like no command: the same error, without a guess."""
    result = cli("frobnicate")
    assert result.exit_code == 2
    assert result.stderr == "error: No such command 'frobnicate'. (see 'vibeimg --help')\n"


def test_suggesting_a_command_imports_no_command() -> None:
    """The suggestion comes from the command table: no command module is imported for it."""
    code = (
        "import sys; sys.argv = ['vibeimg', 'mask-covert', 'x.png']\n"
        "from vibeimg.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print('EXIT', exit.code)\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('vibeimg.cli.') "
        f"and m not in {EVERY_RUN!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "Did you mean 'mask-convert'?" in done.stderr
    assert done.stdout.split() == ["EXIT", "2", "LOADED", "[]"]


@pytest.mark.parametrize("command", ["generate", "edit", "batch", "chat-stream", "mock-server"])
def test_help_names_what_each_value_is(cli, command: str) -> None:
    """Option values read as NAME or ADDRESS, never as a bare type such as <str>."""
    result = cli(command, "--help", connect=False)
    assert result.exit_code == 0
    assert not re.search(r"<[a-z ]+>", result.stdout), result.stdout


def test_an_error_already_reported_keeps_its_exit_code_without_a_line(capsys) -> None:
    """A reported error (a display wrote it as a record) sets the code, prints nothing."""
    error = ServerError("the gateway failed", status=500)
    error.reported = True
    assert exit_code_for(error) == ExitCode.SERVER
    assert capsys.readouterr().err == ""
    error.reported = False
    assert exit_code_for(error) == ExitCode.SERVER
    assert capsys.readouterr().err == "error: HTTP 500: the gateway failed\n"
