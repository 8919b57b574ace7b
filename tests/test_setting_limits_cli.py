"""Timeout and retries: one check, whether they come from a flag, a variable, the file or
``config set``; a bad value is one line and exit 2, and nothing is sent."""

from __future__ import annotations

import pytest

from vibeimg.errors import ExitCode
from vibeimg.settings.resolve import MAX_RETRIES, MAX_TIMEOUT, config_path, read_config_file

SMALL = ("--size", "1024x1024", "--quality", "low", "--no-sidecar")
BAD_TIMEOUTS = ["1e12", "inf", "-inf", "1e400", "nan", "0", "-5", "3600.5"]
BAD_RETRIES = ["11", "-1", "2.5", "many"]


def one_error_line(result) -> str:
    """The whole of stderr, which must be a single 'error:' line."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_the_limits_are_the_documented_ones() -> None:
    """The README's settings section states these numbers."""
    assert (MAX_TIMEOUT, MAX_RETRIES) == (3600.0, 10)


@pytest.mark.parametrize("value", BAD_TIMEOUTS)
def test_bad_timeout_flag_is_a_usage_error_before_any_request(cli, emulator, value) -> None:
    """--timeout 1e12, inf, nan, 0... exit 2 naming the flag and the fix; nothing is sent."""
    result = cli("generate", "a fox", *SMALL, "--timeout", value)
    assert result.exit_code == ExitCode.USAGE
    line = one_error_line(result)
    assert "invalid timeout" in line and "(from --timeout)" in line
    assert "at most 3600" in line and "for example --timeout 300" in line
    assert result.stdout == ""
    assert emulator.requests == []


def test_the_largest_timeout_is_accepted(cli) -> None:
    """--timeout 3600 is within the limit and the image is made."""
    result = cli("generate", "a fox", *SMALL, "--timeout", "3600")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-fox.png\n"


@pytest.mark.parametrize("value", ["inf", "1e12", "nan", "abc"])
def test_bad_timeout_variable_fails_generate_and_doctor(cli, emulator, value) -> None:
    """VIBEIMG_TIMEOUT=inf: generate exits 2; doctor reports a failed settings check."""
    env = {"VIBEIMG_TIMEOUT": value}
    result = cli("generate", "a fox", *SMALL, env=env)
    assert result.exit_code == ExitCode.USAGE
    line = one_error_line(result)
    assert f"invalid timeout '{value}' (from env VIBEIMG_TIMEOUT)" in line
    assert "set VIBEIMG_TIMEOUT to a value such as 300, or unset it" in line
    doctor = cli("doctor", "--offline", env=env, key=None, connect=False)
    assert doctor.exit_code == ExitCode.USAGE
    assert "FAIL  settings" in doctor.stdout and "VIBEIMG_TIMEOUT" in doctor.stdout
    assert "ok    settings" not in doctor.stdout
    assert emulator.api_requests() == []


@pytest.mark.parametrize("value", BAD_TIMEOUTS)
def test_config_set_refuses_a_bad_timeout(cli, value) -> None:
    """'config set timeout 1e12' is refused and nothing is written."""
    result = cli("config", "set", "timeout", "--", value)
    assert result.exit_code == ExitCode.USAGE
    assert f"invalid timeout {value!r}" in one_error_line(result)
    assert not config_path().exists()


@pytest.mark.parametrize("text", ["timeout = 1e12", "timeout = inf", "timeout = nan",
                                  "timeout = -1", "timeout = true", 'timeout = "soon"'])
def test_bad_timeout_in_the_file_names_the_file_and_the_fix(cli, emulator, text) -> None:
    """A hand-edited timeout fails each command with exit 2 (not a crash); unset repairs it."""
    config_path().write_text(text + "\n", encoding="utf-8")
    result = cli("generate", "a fox", *SMALL)
    assert result.exit_code == ExitCode.USAGE
    line = one_error_line(result)
    assert "invalid timeout" in line and str(config_path()) in line
    assert "vibeimg config unset timeout" in line
    assert emulator.requests == []
    assert cli("config", "unset", "timeout").exit_code == 0
    assert cli("generate", "a fox", *SMALL).exit_code == 0


@pytest.mark.parametrize("value", BAD_RETRIES)
def test_bad_retries_from_flag_variable_and_config_set(cli, emulator, value) -> None:
    """Retries are a whole number from 0 to 10, by flag, variable or 'config set'."""
    if value.lstrip("-").isdigit():  # the flag takes whole numbers only; Click refuses others
        flag = cli("generate", "a fox", *SMALL, "--retries", value)
        assert flag.exit_code == ExitCode.USAGE
        assert "from 0 to 10 (for example --retries 3)" in one_error_line(flag)
    env = cli("generate", "a fox", *SMALL, env={"VIBEIMG_RETRIES": value})
    assert env.exit_code == ExitCode.USAGE
    assert f"invalid retries '{value}' (from env VIBEIMG_RETRIES)" in one_error_line(env)
    stored = cli("config", "set", "retries", "--", value)
    assert stored.exit_code == ExitCode.USAGE
    assert "whole number from 0 to 10" in one_error_line(stored)
    assert not config_path().exists()
    assert emulator.requests == []


def test_good_values_are_stored_and_used(cli) -> None:
    """The limits themselves are accepted and written as numbers."""
    assert cli("config", "set", "timeout", "3600").exit_code == 0
    assert cli("config", "set", "retries", "10").exit_code == 0
    assert read_config_file() == {"timeout": 3600.0, "retries": 10}
    assert cli("generate", "a fox", *SMALL).exit_code == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_batch_max_cost_must_be_a_finite_amount(cli, emulator, tmp_path, value,
                                                dry_run) -> None:
    """--max-cost nan, inf or below 0 is exit 2 naming the option; no request, no JSON."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    result = cli("batch", "p.txt", f"--max-cost={value}", *dry_run)
    assert result.exit_code == ExitCode.USAGE
    assert "Invalid value for '--max-cost'" in one_error_line(result)
    assert result.stdout == ""
    assert emulator.requests == []


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_batch_progress_every_must_be_finite(cli, emulator, tmp_path, value) -> None:
    """--progress-every nan is exit 2 naming the option, before any request."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    result = cli("batch", "p.txt", "--progress-every", value)
    assert result.exit_code == ExitCode.USAGE
    assert "Invalid value for '--progress-every'" in one_error_line(result)
    assert emulator.requests == []
