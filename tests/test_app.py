"""The command table and start-up: what 'vibeimg --help' imports and lists."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from vibeimg.cli.app import COMMANDS


@pytest.mark.parametrize("name", list(COMMANDS))
def test_summary_matches_the_docstring(name: str) -> None:
    """The static summary shown by 'vibeimg --help' is the command docstring's first line."""
    lazy = COMMANDS[name]
    function = getattr(importlib.import_module(lazy.module), lazy.function)
    assert inspect.getdoc(function).splitlines()[0] == lazy.summary


def test_help_imports_no_command_and_no_heavy_library() -> None:
    """'vibeimg --help' imports no command module, httpx, Pillow or Rich."""
    code = (
        "import sys; sys.argv = ['vibeimg', '--help']\n"
        "from vibeimg.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('httpx', 'PIL', 'rich', "
        "'pydantic') or m.startswith('vibeimg.cli.') and m not in ('vibeimg.cli.app',)]\n"
        "print('HEAVY', sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("HEAVY []"), out


def test_every_command_is_listed() -> None:
    """The root help lists each command with its summary."""
    out = subprocess.run([sys.executable, "-m", "vibeimg", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for name, lazy in COMMANDS.items():
        assert name in out and lazy.summary in out
