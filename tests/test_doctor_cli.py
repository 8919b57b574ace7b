"""``vibeimg doctor``: a report on stdout, a fix for each problem, an exit code for the first."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import TEST_KEY

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.settings.resolve import config_path


def test_offline_everything_is_fine(cli) -> None:
    """Offline, the emulator answers GET /models and every check passes."""
    result = cli("doctor", "--offline", key=None, connect=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("vibeimg ")
    assert "ok    gateway" in result.stdout and "offline emulator answers" in result.stdout
    assert "FAIL" not in result.stdout


def test_gateway_gets_one_cheap_request_with_the_key(cli, emulator) -> None:
    """Online, doctor sends GET /models with the key and shows the key masked."""
    result = cli("doctor")
    assert result.exit_code == 0, result.stdout
    [request] = emulator.requests
    assert (request.method, request.path) == ("GET", "/models")
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert "sk-****cdef (env VIBEIMG_API_KEY)" in result.stdout
    assert emulator.api_requests() == []


def test_missing_key_fails_with_the_fix(cli) -> None:
    """No key: exit 2, the report says how to set one."""
    result = cli("doctor", key=None)
    assert result.exit_code == 2
    assert "FAIL  API key" in result.stdout
    assert "vibeimg config set api-key" in result.stdout
    assert "error: doctor found a problem (API key)" in result.stderr


def test_several_problems_name_the_one_whose_fix_is_given(cli) -> None:
    """No key and no gateway: the closing line's fix says which problem it is for."""
    result = cli("doctor", "--base-url", "http://127.0.0.1:9/v1", key=None)
    assert result.exit_code == 2
    assert "error: doctor found 2 problems (API key, gateway)" in result.stderr
    assert "(first API key: run 'vibeimg config set api-key'" in result.stderr


def test_refused_key_exits_with_the_auth_code(cli) -> None:
    """A key the gateway refuses: exit 3, with the fix."""
    with Emulator(EmulatorConfig(api_key="sk-the-right-key-9999")) as strict:
        result = cli("doctor", env={"VIBEIMG_BASE_URL": strict.base_url})
    assert result.exit_code == 3
    assert "refused the key" in result.stdout and "fix: check the key" in result.stdout


def test_unreachable_gateway_exits_with_the_network_code(cli) -> None:
    """Nothing listening at the base URL: exit 6, with the fix (and no long retries)."""
    result = cli("doctor", "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 6
    assert "does not answer" in result.stdout and "or use --offline" in result.stdout


def test_json_report(cli) -> None:
    """--json gives one document: ok, versions, settings with origins, checks."""
    result = cli("doctor", "--json")
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["versions"]["vibeimg"]
    key = next(row for row in data["settings"] if row["name"] == "api-key")
    assert key["value"] == "sk-****cdef" and key["origin"] == "env VIBEIMG_API_KEY"
    assert {c["name"] for c in data["checks"]} >= {"config file", "API key", "gateway",
                                                    "history", "output folder"}


def test_broken_config_file_is_reported_not_fatal(cli) -> None:
    """Invalid TOML is a failed check with the fix; the rest of the report still runs."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("size = [unclosed", encoding="utf-8")
    result = cli("doctor")
    assert result.exit_code == 2
    assert "FAIL  config file" in result.stdout and "not valid TOML" in result.stdout
    assert "ok    gateway" in result.stdout


def test_key_file_readable_by_others_fails(cli) -> None:
    """A config file holding a key must not be readable by others: the fix is chmod 600."""
    cli("config", "set", "api-key", input=f"{TEST_KEY}\n")
    config_path().chmod(0o644)
    result = cli("doctor")
    assert result.exit_code == 2
    assert f"chmod 600 {config_path()}" in result.stdout


def _output_folder_line(stdout: str) -> str:
    [line] = [x for x in stdout.splitlines() if x[6:].startswith("output folder")]
    return line


@pytest.mark.parametrize(("out_dir", "problem"), [
    ("/proc/vibeimg-cannot-be-here", "cannot be created: nothing can be made in /proc"),
    ("/proc", "/proc is not writable"),
    ("afile/sub", "afile/sub cannot be created: "),
])
def test_output_folder_that_generate_could_not_use_fails(cli, emulator, tmp_path: Path,
                                                         out_dir: str, problem: str) -> None:
    """Whatever generate would refuse as its folder, doctor fails, with the fix (exit 2)."""
    (tmp_path / "afile").write_text("x")
    assert cli("config", "set", "out-dir", out_dir).exit_code == 0
    result = cli("doctor")
    assert result.exit_code == 2, result.stdout
    assert _output_folder_line(result.stdout).startswith("FAIL")
    assert problem in result.stdout
    assert "fix: " in result.stdout and "vibeimg config set out-dir DIR" in result.stdout
    assert "error: doctor found a problem (output folder)" in result.stderr
    generate = cli("generate", "a fox", "--quality", "low")
    assert generate.exit_code == 2 and emulator.api_requests() == []


def test_output_folder_to_be_created_passes_and_is_left_untouched(cli, tmp_path: Path) -> None:
    """A folder that can be made is ok; doctor's write test leaves nothing behind."""
    cli("config", "set", "out-dir", "new/pics")
    before = sorted(tmp_path.iterdir())
    result = cli("doctor")
    assert result.exit_code == 0, result.stdout
    assert _output_folder_line(result.stdout) == \
        f"ok    output folder  {tmp_path / 'new' / 'pics'} (created when first needed)"
    assert sorted(tmp_path.iterdir()) == before
    assert sorted(config_path().parent.iterdir()) == [config_path()]


def test_a_failing_gateway_can_be_rehearsed(make_cli) -> None:
    """mock-server --fault 503 reaches doctor's GET /models: it reports the gateway."""
    cli = make_cli(faults=["503"])
    result = cli("doctor")
    assert result.exit_code != 0
    assert "FAIL  gateway" in result.stdout and "503" in result.stdout


def test_the_settings_table_shows_a_bad_value_as_found(cli) -> None:
    """An invalid timeout in the file: the table shows it from the config file, not the
    default, beside the FAIL line that explains it."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("timeout = 1e12\n", encoding="utf-8")
    result = cli("doctor", "--offline")
    assert result.exit_code == 2
    [row] = [line for line in result.stdout.splitlines() if line.strip().startswith("timeout")]
    assert "1000000000000.0" in row and "(config file)" in row
    assert re.search(r"api-key +\(not needed offline\)", result.stdout)


@pytest.mark.parametrize("value", ['"sk bad key"', "42"])
def test_a_bad_key_in_the_file_is_one_problem_with_a_fix_that_works(cli, value: str) -> None:
    """api_key unusable in the config file: one failing check, whose fix is the form
    'config set api-key' takes (no VALUE on the command line); no 'not set' beside it."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f"api_key = {value}\n", encoding="utf-8")
    config_path().chmod(0o600)
    result = cli("doctor", "--json", key=None)
    assert result.exit_code == 2
    checks = json.loads(result.stdout)["checks"]
    failing = [c for c in checks if c["status"] == "fail"]
    assert [c["name"] for c in failing] == ["config file"]
    assert "has an invalid api_key" in failing[0]["detail"]
    assert "replace it with 'vibeimg config set api-key' (it asks for the key, or reads it " \
        "from a pipe)" in failing[0]["fix"]
    assert "VALUE" not in failing[0]["fix"]
    assert not any(c["name"] == "API key" for c in checks)
    refused = cli("generate", "a fox", key=None)
    assert refused.exit_code == 2 and "VALUE" not in refused.stderr


def test_relative_out_dir_written_by_hand_is_a_warning_with_the_fix(cli, tmp_path: Path) -> None:
    """out_dir = "pics" typed into the file moves with each command's folder: doctor warns
    (exit 0) and names the fix; the same folder from the environment is not warned about."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('out_dir = "pics"\n', encoding="utf-8")
    result = cli("doctor", "--json")
    assert result.exit_code == 0, result.stdout
    [check] = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "out-dir setting"]
    assert check["status"] == "warn"
    assert f"(here {tmp_path / 'pics'})" in check["detail"]
    assert "vibeimg config set out-dir DIR" in check["fix"]
    config_path().write_text(f'out_dir = "{tmp_path / "pics"}"\n', encoding="utf-8")
    assert "out-dir setting" not in cli("doctor").stdout
    config_path().unlink()
    assert "out-dir setting" not in cli("doctor", env={"VIBEIMG_OUT_DIR": "pics"}).stdout
