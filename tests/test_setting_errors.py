"""Every bad setting value, whichever route it came by ('config set', the config file, a
VIBEIMG_* variable, a flag), is one line naming the setting, the value, where it came
from and the fix there; exit 2, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibeimg.errors import ExitCode
from vibeimg.settings.resolve import config_path

# (setting, a bad value, its variable, the words of the fix)
BAD = [
    ("size", "huge", "VIBEIMG_SIZE", "use auto"),
    ("quality", "best", "VIBEIMG_QUALITY", "choose one of"),
    ("format", "gif", "VIBEIMG_FORMAT", "choose one of"),
    ("moderation", "strict", "VIBEIMG_MODERATION", "choose one of"),
    ("out-dir", "afile", "VIBEIMG_OUT_DIR", "name a folder"),
    ("history", "maybe", "VIBEIMG_HISTORY", "use true or false"),
    ("ascii-names", "maybe", "VIBEIMG_ASCII_NAMES", "use true or false"),
    ("timeout", "-3", "VIBEIMG_TIMEOUT", "300"),
    ("retries", "x", "VIBEIMG_RETRIES", "3"),
    ("base-url", "ftp://x", "VIBEIMG_BASE_URL", "use an http(s) URL"),
]
IDS = [b[0] for b in BAD]


def _one_line(result) -> str:
    assert result.exit_code == ExitCode.USAGE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _shown(setting: str, value: str) -> str:
    """How the line quotes the value (the base URL is named in words)."""
    return f"invalid {'base URL' if setting == 'base-url' else setting} '{value}'"


@pytest.mark.parametrize(("setting", "value", "variable", "fix"), BAD, ids=IDS)
def test_config_set_names_the_setting_and_saves_nothing(cli, tmp_path: Path, setting, value,
                                                        variable, fix) -> None:
    """vibeimg config set history maybe: 'invalid history 'maybe'', that config set saved
    nothing, and the fix; the file is not written."""
    (tmp_path / "afile").write_text("x")
    line = _one_line(cli("config", "set", setting, value))
    assert _shown(setting, value) in line
    assert f"'vibeimg config set {setting}' saved nothing" in line
    assert fix in line
    assert not config_path().exists()


@pytest.mark.parametrize(("setting", "value", "variable", "fix"), BAD, ids=IDS)
def test_a_variable_names_the_setting_the_variable_and_the_fix(
        cli, emulator, tmp_path: Path, setting, value, variable, fix) -> None:
    """VIBEIMG_X=bad: the setting, the value, 'from env VIBEIMG_X', 'unset' and the fix."""
    (tmp_path / "afile").write_text("x")
    line = _one_line(cli("generate", "fox", env={variable: value}))
    assert _shown(setting, value) in line
    assert f"(from env {variable})" in line
    assert "unset" in line and fix in line
    assert emulator.requests == []


@pytest.mark.parametrize(("setting", "value", "variable", "fix"), BAD, ids=IDS)
def test_the_config_file_names_the_key_the_file_and_the_fix(
        cli, emulator, tmp_path: Path, setting, value, variable, fix) -> None:
    """A bad value written by hand: the file, the key, the value, the fix and the
    'config set' or 'config unset' that repairs it."""
    (tmp_path / "afile").write_text("x")
    key = setting.replace("-", "_")
    raw = value if setting in ("timeout",) else f'"{value}"'
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f"{key} = {raw}\n", encoding="utf-8")
    line = _one_line(cli("generate", "fox", connect=setting != "base-url"))
    assert f"the config file {config_path()} has an invalid" in line
    assert value in line and fix in line
    assert key in line or setting == "base-url"
    assert f"vibeimg config set {setting}" in line
    assert emulator.requests == []


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--size", "huge", "invalid size 'huge' (from --size)"),
    ("--quality", "best", "invalid quality 'best' (from --quality)"),
    ("--format", "gif", "invalid format 'gif' (from --format)"),
    ("--moderation", "strict", "invalid moderation 'strict' (from --moderation)"),
    ("--out-dir", "afile", "invalid out-dir 'afile' (from --out-dir): it is a file, not a folder"),
    ("--timeout", "abc", "invalid timeout 'abc' (from --timeout)"),
    ("--retries", "x", "invalid retries 'x' (from --retries)"),
    ("--base-url", "ftp://x", "invalid base URL 'ftp://x' (from --base-url)"),
])
def test_a_flag_names_the_setting_the_flag_and_the_fix(cli, emulator, tmp_path: Path, flag,
                                                       value, words) -> None:
    """--retries x, --out-dir FILE...: vibeimg's words for the setting, not Click's
    "'x' is not a valid int", with the fix."""
    (tmp_path / "afile").write_text("x")
    line = _one_line(cli("generate", "fox", flag, value))
    assert words in line
    assert "(" in line.rpartition(")")[0]  # a fix in parentheses after the problem
    assert "see 'vibeimg generate --help'" not in line
    assert emulator.requests == []


def test_mask_convert_out_dir_that_is_a_file(cli, tmp_path: Path) -> None:
    """mask-convert -d FILE: the same words as generate's."""
    (tmp_path / "afile").write_text("x")
    line = _one_line(cli("mask-convert", "m.png", "-d", "afile"))
    assert "invalid out-dir 'afile' (from --out-dir): it is a file, not a folder" in line
    assert "name a folder" in line


def test_a_yes_no_setting_of_the_wrong_kind_in_the_file_says_true_or_false(cli) -> None:
    """ascii_names = 3 in the file: the fix is true or false, not 'write it in quotes'."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("ascii_names = 3\n", encoding="utf-8")
    line = _one_line(cli("generate", "fox"))
    assert "invalid ascii_names 3" in line and "use true or false" in line
    assert "double quotes" not in line


def test_doctor_fails_a_variable_every_command_would_refuse(cli) -> None:
    """VIBEIMG_HISTORY=maybe: doctor fails it as generate would, not 'all ok'."""
    result = cli("doctor", "--offline", env={"VIBEIMG_HISTORY": "maybe"})
    assert result.exit_code == ExitCode.USAGE
    assert "invalid history 'maybe' (from env VIBEIMG_HISTORY)" in result.stdout
    assert "fix or unset VIBEIMG_HISTORY: use true or false" in result.stdout
