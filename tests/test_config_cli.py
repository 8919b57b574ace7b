"""``vibeimg config`` and the settings order flag > environment > config file > default."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import TEST_KEY, Cli
from ptyrun import run_in_pty, vibeimg_argv

from vibeimg.records.history import History
from vibeimg.settings.resolve import config_path, read_config_file


def _dry_run(cli, *args: str, env: dict[str, str] | None = None) -> dict:
    result = cli("generate", "a fox", "--dry-run", *args, env=env, key=None, connect=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# (setting, flag, environment variable, file value, env value, flag value,
#  what the request shows at each layer: default, file, env, flag)
OPTION_LAYERS = [
    ("model", "--model", "VIBEIMG_MODEL", "file-model", "env-model", "flag-model",
     ("gpt-image-2", "file-model", "env-model", "flag-model")),
    ("size", "--size", "VIBEIMG_SIZE", "square", "landscape", "portrait",
     ("auto", "1024x1024", "1536x1024", "1024x1536")),
    ("quality", "--quality", "VIBEIMG_QUALITY", "low", "medium", "high",
     ("auto", "low", "medium", "high")),
    ("format", "--format", "VIBEIMG_FORMAT", "jpeg", "webp", "png",
     ("png", "jpeg", "webp", "png")),
    ("moderation", "--moderation", "VIBEIMG_MODERATION", "low", "auto", "low",
     ("auto", "low", "auto", "low")),
]
BODY_FIELD = {"model": "model", "size": "size", "quality": "quality",
              "format": "output_format", "moderation": "moderation"}


@pytest.mark.parametrize(("name", "flag", "env", "in_file", "in_env", "in_flag", "seen"),
                         OPTION_LAYERS, ids=[row[0] for row in OPTION_LAYERS])
def test_option_default_precedence(cli, name, flag, env, in_file, in_env, in_flag, seen) -> None:
    """An image option comes from the flag, else its variable, else the file, else default."""
    field = BODY_FIELD[name]
    assert _dry_run(cli)["request"]["body"][field] == seen[0]
    assert cli("config", "set", name, in_file).exit_code == 0
    assert _dry_run(cli)["request"]["body"][field] == seen[1]
    assert _dry_run(cli, env={env: in_env})["request"]["body"][field] == seen[2]
    body = _dry_run(cli, flag, in_flag, env={env: in_env})["request"]["body"]
    assert body[field] == seen[3]


def test_base_url_precedence(cli) -> None:
    """The base URL: --base-url, else VIBEIMG_BASE_URL, the file, OPENAI_BASE_URL, default."""
    def url(*args: str, env: dict[str, str] | None = None) -> str:
        return _dry_run(cli, *args, env=env)["request"]["url"]

    assert url().startswith("https://www.vibeapi.cn/v1/")
    assert url(env={"OPENAI_BASE_URL": "http://openai.example/v1"}).startswith(
        "http://openai.example/v1/")
    cli("config", "set", "base-url", "http://file.example/v1/")
    assert url().startswith("http://file.example/v1/images")
    assert url(env={"OPENAI_BASE_URL": "http://openai.example/v1"}).startswith(
        "http://file.example/v1/images")
    both = {"OPENAI_BASE_URL": "http://openai.example/v1", "VIBEIMG_BASE_URL": "http://e/v1"}
    assert url(env=both).startswith("http://e/v1/")
    assert url("--base-url", "http://flag.example/v1", env=both).startswith("http://flag.example")


def test_api_key_precedence(cli) -> None:
    """The key: --api-key, else VIBEIMG_API_KEY, the file, OPENAI_API_KEY; always masked."""
    def shown(*args: str, env: dict[str, str] | None = None) -> str:
        return _dry_run(cli, *args, env=env)["request"]["headers"]["Authorization"]

    assert shown() == "Bearer (not set)"
    env = {"OPENAI_API_KEY": "sk-openai-key-2222"}
    assert shown(env=env) == "Bearer sk-****2222"
    cli("config", "set", "api-key", input="sk-file-key-000011\n")
    assert shown() == "Bearer sk-****0011"
    assert shown(env=env) == "Bearer sk-****0011"  # the file beats OPENAI_API_KEY
    env["VIBEIMG_API_KEY"] = "sk-vibeimg-key-3333"
    assert shown(env=env) == "Bearer sk-****3333"
    assert shown("--api-key", "sk-flag-key-4444", env=env) == "Bearer sk-****4444"


def test_key_from_the_file_is_sent_to_the_gateway(cli, emulator) -> None:
    """A key stored with 'config set api-key' authenticates real requests."""
    cli("config", "set", "api-key", input=f"{TEST_KEY}\n")
    result = cli("generate", "a fox", "--size", "1024x1024", "--quality", "low", key=None)
    assert result.exit_code == 0, result.stderr
    assert emulator.api_requests()[0].headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize("piped", ["sk-abcdef012345\nghijkl\n", "sk-abcdef012345\r\nghij\r\n",
                                   "\nsk-abcdef012345\n\nghijkl"])
def test_a_piped_key_cut_by_a_line_break_is_refused(cli, piped: str) -> None:
    """Two non-empty lines on stdin: exit 2, nothing stored, no part of the key echoed."""
    result = cli("config", "set", "api-key", input=piped, key=None, connect=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: stdin holds 2 lines, but a key is one line")
    assert "abcdef" not in result.stderr + result.stdout and "ghij" not in result.stderr
    assert not config_path().exists()


def test_a_piped_key_may_have_blank_lines_around_it(cli) -> None:
    """One line of key with blank lines around it is stored whole."""
    assert cli("config", "set", "api-key", input=f"\n{TEST_KEY}\n\n").exit_code == 0
    assert read_config_file()["api_key"] == TEST_KEY


@pytest.mark.parametrize(("name", "flag", "env", "values"), [
    ("timeout", "--timeout", "VIBEIMG_TIMEOUT", ("300.0", "100", "200", "50")),
    ("retries", "--retries", "VIBEIMG_RETRIES", ("3", "1", "2", "0")),
])
def test_connection_setting_precedence(cli, name, flag, env, values) -> None:
    """Timeout and retries: flag, else environment, else file, else default (doctor shows it)."""
    def seen(*args: str, env_vars: dict[str, str] | None = None) -> tuple[str, str]:
        result = cli("doctor", "--json", *args, env=env_vars)
        row = next(r for r in json.loads(result.stdout)["settings"] if r["name"] == name)
        return str(row["value"]), row["origin"]

    default, in_file, in_env, in_flag = values
    assert seen() == (default, "default")
    cli("config", "set", name, in_file)
    assert float(seen()[0]) == float(in_file) and seen()[1] == "config file"
    assert float(seen(env_vars={env: in_env})[0]) == float(in_env)
    assert seen(flag, in_flag, env_vars={env: in_env})[1] == "flag"
    assert float(seen(flag, in_flag, env_vars={env: in_env})[0]) == float(in_flag)


def test_out_dir_precedence(cli, tmp_path: Path) -> None:
    """Images land in --out-dir, else VIBEIMG_OUT_DIR, else the file's out-dir, else here."""
    args = ("generate", "a fox", "--size", "1024x1024", "--quality", "low", "--no-sidecar")
    assert cli(*args).stdout == "a-fox.png\n"
    cli("config", "set", "out-dir", str(tmp_path / "from-file"))
    assert cli(*args).stdout == f"{tmp_path / 'from-file' / 'a-fox.png'}\n"
    env = {"VIBEIMG_OUT_DIR": "from-env"}
    assert cli(*args, env=env).stdout == "from-env/a-fox.png\n"
    assert cli(*args, "--out-dir", "from-flag", env=env).stdout == "from-flag/a-fox.png\n"
    assert (tmp_path / "from-flag" / "a-fox.png").exists()


def test_history_setting_precedence(cli) -> None:
    """Recording: --history/--no-history, else VIBEIMG_HISTORY, else the file, else on."""
    args = ("generate", "a fox", "--size", "1024x1024", "--quality", "low", "--no-sidecar")

    def runs() -> int:
        with History() as history:
            return history.count()

    cli(*args)
    assert runs() == 1
    cli("config", "set", "history", "false")
    cli(*args)
    assert runs() == 1
    cli(*args, env={"VIBEIMG_HISTORY": "1"})
    assert runs() == 2
    cli(*args, "--no-history", env={"VIBEIMG_HISTORY": "1"})
    cli(*args, "--history")
    assert runs() == 3


def test_list_masks_the_key_and_says_where_values_come_from(cli) -> None:
    """'config list --origin' shows every setting, the key masked, with its origin."""
    cli("config", "set", "api-key", input=f"{TEST_KEY}\n")
    cli("config", "set", "quality", "low")
    result = cli("config", "list", "--origin", env={"VIBEIMG_SIZE": "2k"}, key=None)
    assert result.exit_code == 0
    pairs = [line.split(" = ", 1) for line in result.stdout.splitlines()]
    lines = {name.rstrip(): value for name, value in pairs}
    assert len({len(name) for name, _ in pairs}) == 1  # the names padded to one width
    assert lines["api-key"] == "sk-****cdef  (config file)"
    assert lines["quality"] == "low  (config file)"
    assert lines["size"] == "2k  (env VIBEIMG_SIZE)"
    assert lines["format"] == "png  (default)"
    data = json.loads(cli("config", "list", "--json", key=None).stdout)
    assert {"name": "api-key", "value": "sk-****cdef", "origin": "config file"} in data["settings"]


def test_get_prints_the_value_in_force(cli) -> None:
    """'config get' prints the value that applies now; an unset key is an error with the fix."""
    assert cli("config", "get", "format").stdout == "png\n"
    cli("config", "set", "format", "webp")
    assert cli("config", "get", "format").stdout == "webp\n"
    missing = cli("config", "get", "api-key", key=None)
    assert missing.exit_code == 2 and "vibeimg config set api-key" in missing.stderr


def test_key_on_the_command_line_is_refused(cli) -> None:
    """A key given as an argument is refused (shell history) and not stored."""
    result = cli("config", "set", "api-key", TEST_KEY)
    assert result.exit_code == 2
    assert "shell history" in result.stderr
    assert "api_key" not in read_config_file()


def test_key_typed_at_a_terminal_is_not_echoed(tmp_path: Path) -> None:
    """At a terminal, 'config set api-key' asks without echo; the key shows nowhere."""
    env = {**os.environ, "TERM": "xterm"}
    code, shown = run_in_pty(vibeimg_argv("config", "set", "api-key"), env=env, cwd=tmp_path,
                             replies=((b"API key: ", TEST_KEY.encode() + b"\n"),))
    assert code == 0, shown
    assert b"API key" in shown
    assert TEST_KEY.encode() not in shown
    assert read_config_file()["api_key"] == TEST_KEY
    code, shown = run_in_pty(vibeimg_argv("config", "list"), env=env, cwd=tmp_path)
    assert b"sk-****cdef" in shown and TEST_KEY.encode() not in shown


def test_unset_path_and_unknown_names(cli) -> None:
    """'unset' restores the default; 'path' prints the file; unknown names list the known."""
    cli("config", "set", "size", "2k")
    assert cli("config", "unset", "size").exit_code == 0
    assert cli("config", "get", "size").stdout == "auto\n"
    assert "was not set" in cli("config", "unset", "size").stderr
    assert cli("config", "path").stdout == f"{config_path()}\n"
    unknown = cli("config", "set", "colour", "red")
    assert unknown.exit_code == 2 and "api-key, base-url" in unknown.stderr


def test_modes_after_config_set(cli) -> None:
    """The file written by 'config set' is 0600 in a 0700 folder."""
    cli("config", "set", "api-key", input=f"{TEST_KEY}\n")
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(config_path().parent.stat().st_mode) == 0o700


def test_broken_file_stops_commands_but_config_still_repairs_it(cli) -> None:
    """A bad value in the file fails generate with the fix; 'config unset' still works."""
    config_path().write_text('quality = "best"\n', encoding="utf-8")
    result = cli("generate", "a fox")
    assert result.exit_code == 2
    assert "vibeimg config set quality" in result.stderr
    assert cli("config", "unset", "quality").exit_code == 0
    assert cli("generate", "a fox", "--dry-run").exit_code == 0


def test_help_shows_the_default_from_the_file(cli) -> None:
    """The file's defaults appear in --help, so people see what applies."""
    cli("config", "set", "quality", "medium")
    shown = " ".join(cli("generate", "--help").stdout.split())
    assert "VIBEIMG_QUALITY; default: medium (from the config file)]" in shown


def test_out_dir_is_stored_absolute_and_used_from_anywhere(cli, tmp_path: Path) -> None:
    """'config set out-dir rel/pics' stores the folder it meant where it was typed."""
    result = cli("config", "set", "out-dir", "rel/pics")
    assert result.exit_code == 0
    wanted = tmp_path / "rel" / "pics"
    assert read_config_file()["out_dir"] == str(wanted)
    assert result.stderr == f"out-dir = {wanted} (in {config_path()})\n"  # said, as it changed
    assert cli("config", "get", "out-dir").stdout == f"{wanted}\n"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = Cli(cli.emulator, elsewhere)("generate", "a fox", "--size", "1024x1024",
                                         "--quality", "low", "--no-sidecar")
    assert made.exit_code == 0, made.stderr
    assert made.stdout == f"{wanted / 'a-fox.png'}\n"
    assert list(elsewhere.iterdir()) == []


def test_out_dir_expands_the_home_folder(cli, tmp_path: Path) -> None:
    """'~/pics' is stored as the home folder's pics, and '..' is folded away."""
    home = tmp_path / "home"
    assert cli("config", "set", "out-dir", "~/pics", env={"HOME": str(home)}).exit_code == 0
    assert read_config_file()["out_dir"] == str(home / "pics")
    assert cli("config", "set", "out-dir", "a/../b").exit_code == 0
    assert read_config_file()["out_dir"] == str(tmp_path / "b")


def test_invalid_toml_hint_says_what_actually_repairs_it(cli) -> None:
    """Not TOML: the one-line error names the file and says to fix or delete it; doing so works."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("quality = \n", encoding="utf-8")
    args = ("generate", "a fox", "--size", "1024x1024", "--quality", "low", "--no-sidecar")
    for result in (cli(*args), cli("config", "set", "size", "2k")):
        assert result.exit_code == 2
        [line] = result.stderr.splitlines()
        assert f"the config file {config_path()} is not valid TOML" in line
        assert f"fix that line in an editor, or delete {config_path()} to start again" in line
        assert "config path" not in line  # it only prints the path; it repairs nothing
    doctor = cli("doctor")
    assert f"fix: fix that line in an editor, or delete {config_path()}" in doctor.stdout
    config_path().unlink()
    assert cli(*args).exit_code == 0


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("timeout", "-5", "a number of seconds above 0 and at most 3600"),
    ("timeout", "-inf", "a number of seconds above 0 and at most 3600"),
    ("retries", "-1", "a whole number from 0 to 10"),
    ("size", "-5", "invalid size '-5'"),
])
def test_a_negative_value_reaches_the_settings_own_check(cli, name, value, reason) -> None:
    """'config set timeout -5' gets the range error, not Click's 'No such option: -5'."""
    result = cli("config", "set", name, value)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert reason in line and "No such option" not in line
    assert not config_path().exists()


def test_config_set_help_still_works(cli) -> None:
    """Unknown options pass through to the value, but --help and -h are still help."""
    for flag in ("--help", "-h"):
        result = cli("config", "set", flag)
        assert result.exit_code == 0 and "Store a setting" in result.stdout
    assert cli("config", "set", "timeout", "--", "-5").exit_code == 2  # '--' also works


def test_config_file_that_is_not_utf8_is_a_usage_error(cli) -> None:
    """printf '\\xff\\xfe' > config.toml: exit 2, the file named and the fix, as bad TOML;
    doctor says the same, and deleting the file repairs it."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_bytes(b"\xff\xfe")
    for result in (cli("generate", "a fox"), cli("config", "set", "size", "2k")):
        assert result.exit_code == 2
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: the config file {config_path()} is not valid TOML: "
                               "it is not UTF-8 text (byte 0xff at offset 0)")
        assert f"delete {config_path()} to start again" in line
    assert cli.emulator.api_requests() == []
    doctor = cli("doctor")
    assert "FAIL  config file" in doctor.stdout and "not UTF-8 text" in doctor.stdout
    config_path().unlink()
    assert cli("generate", "a fox").exit_code == 0


def test_format_jpg_is_stored_as_jpeg(cli) -> None:
    """config set format jpg, as the file extension goes: stored as jpeg, as the flag does."""
    result = cli("config", "set", "format", "jpg", connect=False)
    assert result.exit_code == 0, result.stderr
    assert read_config_file()["format"] == "jpeg"
    config_path().write_text('format = "jpg"\n', encoding="utf-8")
    dry = cli("generate", "a fox", "--dry-run", connect=False)
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["request"]["body"]["output_format"] == "jpeg"


def test_an_output_folder_that_is_a_file_is_refused_without_risky_advice(
        cli, tmp_path: Path) -> None:
    """out-dir naming a file: config set refuses it; doctor never says to remove it."""
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    refused = cli("config", "set", "out-dir", str(precious), connect=False)
    assert refused.exit_code == 2 and "is a file, not a folder" in refused.stderr
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'out_dir = "{precious}"\n', encoding="utf-8")
    doctor = cli("doctor", connect=False)
    assert "is a file, not a folder" in doctor.stdout
    assert "remove the file" not in doctor.stdout + doctor.stderr
    assert precious.read_text() == "keep me"


def test_a_mistyped_setting_gets_the_closest_name(cli) -> None:
    """config set qualty low: exit 2, 'did you mean quality?', nothing written."""
    result = cli("config", "set", "qualty", "low", connect=False)
    assert result.exit_code == 2
    assert "unknown setting 'qualty' (did you mean 'quality'?)" in result.stderr
    assert not config_path().exists()


@pytest.mark.parametrize("args", [("set", "size", "landscape"), ("unset", "size")])
def test_config_set_refuses_a_linked_config_file(cli, tmp_path: Path, args) -> None:
    """config.toml a symbolic link (dotfiles): set and unset refuse with exit 2 naming the
    link and the fix; the link and its target stay as they were."""
    target = tmp_path / "dotfiles.toml"
    target.write_text('size = "square"\n', encoding="utf-8")
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().symlink_to(target)
    result = cli("config", *args, connect=False)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: the config file {config_path()} is a symbolic "
                                    f"link (to {target}): vibeimg neither writes through a "
                                    "link nor replaces it (edit ")
    assert config_path().is_symlink()
    assert target.read_text(encoding="utf-8") == 'size = "square"\n'
    # Reading through it still works: it is the user's own file.
    assert cli("config", "get", "size", connect=False).stdout == "square\n"
