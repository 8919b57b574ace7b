"""Click's usage errors, told the vibeimg way: a prompt that starts with a dash gets the
'--' fix, a mistyped option gets only close names, a refused variable is named as
every setting's is, and the exit code stands when stderr is closed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli

from vibeimg.errors import ExitCode


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(("args", "fix"), [
    (["generate", "--offline", "-40% off"],
     "put -- before a prompt that starts with a dash: vibeimg generate -- '-40% off'"),
    (["generate", "--offline", "-a cat"],
     "put -- before a prompt that starts with a dash: vibeimg generate -- '-a cat'"),
    (["generate", "--offline", "--40% off"],
     "put -- before a prompt that starts with a dash: vibeimg generate -- '--40% off'"),
    (["history", "search", "-40"],
     "put -- before an argument that starts with a dash: vibeimg history search -- -40"),
])
def test_a_value_starting_with_a_dash_gets_the_double_dash_fix(
        cli: Cli, tmp_path: Path, args: list[str], fix: str) -> None:
    """A prompt Click read as options: exit 2, one line with the '--' form to type."""
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE
    line = _error_line(result.stderr)
    assert line.startswith("error: No such option: ")
    assert line.endswith(f"({fix})")
    assert cli.emulator.api_requests() == [] and list(tmp_path.glob("*.png")) == []


def test_the_double_dash_form_works(cli: Cli, tmp_path: Path) -> None:
    """The form the fix gives makes the image, with the prompt as typed."""
    result = cli("generate", "--offline", "--size", "1024x1024", "--", "-40% off")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().endswith(".png")


@pytest.mark.parametrize(("option", "expected"), [
    ("--bogus", "error: No such option: --bogus (see 'vibeimg generate --help')"),
    ("--qualty", "error: No such option: --qualty. Did you mean --quality? "
                 "(see 'vibeimg generate --help')"),
    ("--quit", "error: No such option: --quit. Did you mean --quiet or --quality? "
               "(see 'vibeimg generate --help')"),
    ("-x", "error: No such option: -x (see 'vibeimg generate --help')"),
])
def test_only_close_options_are_suggested(cli: Cli, option: str, expected: str) -> None:
    """--bogus suggests nothing (not --verbose); --qualty suggests --quality."""
    result = cli("generate", "a fox", option)
    assert result.exit_code == ExitCode.USAGE
    assert _error_line(result.stderr) == expected


@pytest.mark.parametrize(("variable", "value", "setting"), [
    ("VIBEIMG_HISTORY", "maybe", "history"),
    ("VIBEIMG_ASCII_NAMES", "2", "ascii-names"),
])
def test_a_bad_boolean_variable_is_named(cli: Cli, tmp_path: Path, variable: str, value: str,
                                         setting: str) -> None:
    """VIBEIMG_HISTORY=maybe: one line naming the variable and the fix, exit 2."""
    result = cli("generate", "a fox", "--offline", env={variable: value})
    assert result.exit_code == ExitCode.USAGE
    assert _error_line(result.stderr) == (
        f"error: invalid {setting} {value!r} (from env {variable}) "
        f"(fix or unset {variable}: use true or false)")
    assert list(tmp_path.glob("*.png")) == []


def test_a_good_boolean_variable_still_works(cli: Cli, tmp_path: Path) -> None:
    """VIBEIMG_HISTORY=false is taken: the image is made and not recorded."""
    result = cli("generate", "a fox", "--offline", "--size", "1024x1024",
                 env={"VIBEIMG_HISTORY": "false"})
    assert result.exit_code == 0, result.stderr
    assert cli("history").stdout == ""


def _with_stderr_closed(args: list[str], cwd: Path) -> int:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
        stdout=subprocess.DEVNULL, timeout=60, check=False,
        preexec_fn=lambda: os.close(2),  # vibeimg ... 2>&-
    ).returncode


@pytest.mark.parametrize(("args", "code"), [
    (["generate", "x", "--size", "huge", "--offline"], ExitCode.USAGE),  # vibeimg's own
    (["generate", "x", "--bogus"], ExitCode.USAGE),  # Click's
    (["generate", "x"], ExitCode.USAGE),  # no key
    (["generate", "x", "--offline", "--size", "1024x1024"], ExitCode.OK),
])
def test_the_exit_code_stands_with_stderr_closed(tmp_path: Path, args: list[str],
                                                 code: int) -> None:
    """2>&-: the error's own exit code, not 1, though its line cannot be written."""
    assert _with_stderr_closed(args, tmp_path) == code


@pytest.mark.parametrize(("args", "expected"), [
    (["generate", "a fox", "--size"],
     "error: Option '--size' requires an argument. (see 'vibeimg generate --help')"),
    (["generate", "a fox", "--force=yes"],
     "error: Option '--force' does not take a value. (see 'vibeimg generate --help')"),
    (["mock-server", "--latency"],
     "error: Option '--latency' requires an argument. (see 'vibeimg mock-server --help')"),
    (["history", "--limit"],
     "error: Option '--limit' requires an argument. (see 'vibeimg history --help')"),
    (["history", "search", "fox", "--limit"],
     "error: Option '--limit' requires an argument. (see 'vibeimg history search --help')"),
    (["config", "list", "--origin=1"],
     "error: Option '--origin' does not take a value. (see 'vibeimg config list --help')"),
    (["--version=1"], "error: Option '--version' does not take a value. (see 'vibeimg --help')"),
])
def test_an_option_without_its_value_names_the_help(cli: Cli, args: list[str],
                                                    expected: str) -> None:
    """An option missing its value (or a flag given one) names the command's help, as
    every other usage error does: exit 2, one line."""
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE
    assert _error_line(result.stderr) == expected
