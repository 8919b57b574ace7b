"""Unknown keys in the config file (a typo such as ``qualty``): ignored, but never silently."""

from __future__ import annotations

import json

from vibeimg.settings import configfile
from vibeimg.settings.resolve import config_path

SMALL = ("--size", "1024x1024", "--no-sidecar")
WARNING = "has an unknown setting 'qualty' (did you mean 'quality'?); ignored"


def write_config(text: str) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(text + "\n", encoding="utf-8")


def test_a_command_warns_once_on_stderr_and_still_runs(cli, emulator) -> None:
    """generate: one warning line naming the file and the likely key; the run succeeds."""
    write_config('qualty = "low"')
    result = cli("generate", "a fox", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-fox.png\n"
    assert result.stderr == f"warning: the config file {config_path()} {WARNING}\n"
    [request] = emulator.api_requests()
    assert request.json()["quality"] == "auto"  # the misspelt key is ignored


def test_quiet_and_help_show_no_warning(cli) -> None:
    """--quiet silences the warning; --help runs nothing and warns of nothing."""
    write_config('qualty = "low"')
    quiet = cli("generate", "a fox", *SMALL, "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    helped = cli("generate", "--help")
    assert helped.exit_code == 0 and helped.stderr == ""
    assert cli("config", "set", "--help").stderr == ""


def test_config_commands_warn_and_still_work(cli) -> None:
    """'config list' and 'config set' warn too, and 'config set quality' does its job."""
    write_config('qualty = "low"')
    listed = cli("config", "list")
    assert listed.exit_code == 0 and listed.stderr.count("warning:") == 1
    assert WARNING in listed.stderr
    stored = cli("config", "set", "quality", "low")
    assert stored.exit_code == 0 and WARNING in stored.stderr
    assert cli("config", "unset", "qualty").exit_code == 2  # not a setting: no such name


def test_doctor_flags_unknown_keys_with_a_suggestion(cli) -> None:
    """doctor: a WARN on the config file with 'did you mean', exit 0, nothing on stderr."""
    write_config('qualty = "low"\nout-dir = "shots"\ncolour = "red"')
    result = cli("doctor")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    [line] = [x for x in result.stdout.splitlines() if x.startswith("WARN  config file")]
    assert "'colour', 'out-dir' (did you mean 'out_dir'?), 'qualty' (did you mean " \
        "'quality'?)" in line
    assert "the known keys are api_key, base_url, timeout" in result.stdout
    check = next(c for c in json.loads(cli("doctor", "--json").stdout)["checks"]
                 if c["name"] == "config file")
    assert check["status"] == "warn" and "did you mean 'quality'?" in check["detail"]


def test_no_note_for_a_file_of_known_keys() -> None:
    """Only keys vibeimg does not know are mentioned."""
    assert configfile.unknown_keys_note({"quality": "low", "timeout": 30}) is None
    note = configfile.unknown_keys_note({"qualty": "low"})
    assert note is not None and note.endswith(WARNING)
