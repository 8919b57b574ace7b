"""A hand-edited config file: each value goes through the parser 'config set' uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vibeimg.errors import ExitCode, UsageError
from vibeimg.settings import configfile
from vibeimg.settings.resolve import config_path

SMALL = ("--size", "1024x1024", "--quality", "low", "--no-sidecar")

# (a line of the file, the key it names, the setting that repairs it)
BAD_LINES = [
    ("out_dir = 5", "out_dir", "out-dir"),
    ("out_dir = 1979-05-27", "out_dir", "out-dir"),
    ("size = 1024", "size", "size"),
    ('quality = "best"', "quality", "quality"),
    ('model = ["a"]', "model", "model"),
    ("api_key = 5", "api_key", "api-key"),
    ("base_url = 5", "base_url", "base-url"),
    ('history = "maybe"', "history", "history"),
    ("history = 2", "history", "history"),
    ("retries = 3.0", "retries", "retries"),
    ("timeout = true", "timeout", "timeout"),
]


def write_config(text: str) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(text + "\n", encoding="utf-8")


@pytest.mark.parametrize(("line", "key", "name"), BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_a_bad_value_stops_generate_with_the_key_the_file_and_the_fix(
    cli, emulator, tmp_path: Path, line: str, key: str, name: str
) -> None:
    """Exit 2, one line naming the key, the file and 'config unset'; nothing sent or made."""
    write_config(line)
    result = cli("generate", "a fox", *SMALL)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    [error] = result.stderr.splitlines()
    assert error.startswith(f"error: the config file {config_path()} has an invalid {key}")
    assert f"'vibeimg config unset {name}'" in error
    assert "internal error" not in error
    assert result.stdout == ""
    assert emulator.requests == []
    assert list(tmp_path.iterdir()) == []  # no folder named 5/, no image


def test_doctor_reports_a_value_of_the_wrong_kind_instead_of_crashing(cli) -> None:
    """out_dir = 5: a failed config-file check (exit 2), and the other checks still run."""
    write_config("out_dir = 5")
    result = cli("doctor")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "FAIL  config file" in result.stdout
    assert "has an invalid out_dir 5: it is a number, not text" in result.stdout
    assert "'vibeimg config unset out-dir'" in result.stdout
    assert "ok    gateway" in result.stdout
    assert "internal error" not in result.stderr
    report = json.loads(cli("doctor", "--json").stdout)
    check = next(c for c in report["checks"] if c["name"] == "config file")
    assert check["status"] == "fail" and "out_dir" in check["detail"]


@pytest.mark.parametrize("text", ["timeout = 1e12", 'quality = "best"', "retries = -1"])
def test_doctor_fails_the_config_file_check_on_any_bad_value(cli, text: str) -> None:
    """Connection settings and option settings alike: the file's check fails, exit 2."""
    write_config(text)
    result = cli("doctor")
    assert result.exit_code == ExitCode.USAGE
    assert "FAIL  config file" in result.stdout
    assert f"has an invalid {text.partition(' ')[0]}" in result.stdout


def test_values_that_always_worked_still_do(cli, tmp_path: Path) -> None:
    """Numbers written as text and 0/1 for yes/no were accepted before, and still are."""
    write_config('timeout = "300"\nretries = "2"\nhistory = 0\nout_dir = "shots"')
    result = cli("generate", "a fox", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "shots" / "a-fox.png").exists()


def test_config_set_repairs_the_file(cli, tmp_path: Path) -> None:
    """With out_dir = 5 in the file, 'config set out-dir' still works and fixes it."""
    write_config("out_dir = 5")
    assert cli("config", "set", "out-dir", str(tmp_path / "pics")).exit_code == 0
    result = cli("generate", "a fox", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{tmp_path / 'pics' / 'a-fox.png'}\n"


def test_check_file_parses_every_known_key_and_skips_unknown_ones() -> None:
    """The file's values come back as 'config set' would have stored them."""
    values = configfile.check_file({"timeout": 30, "history": "off", "size": "Square",
                                    "colour": "red"})
    assert values == {"timeout": 30.0, "history": False, "size": "square"}
    with pytest.raises(UsageError, match="has an invalid size 1024: it is a number"):
        configfile.check_file({"size": 1024})
