"""Where each setting came from: the order, errors, the 401 hint, -v, --help and doctor."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vibeimg.settings.resolve import config_path

WRONG_KEY = "sk-wrong-key-0000111122"


@pytest.mark.parametrize(("how", "hint"), [
    ("flag", "check the key given with --api-key"),
    ("VIBEIMG_API_KEY", "check the key in VIBEIMG_API_KEY"),
    ("config file", "'vibeimg config set api-key' replaces it"),
    ("OPENAI_API_KEY", "the key came from OPENAI_API_KEY, which may belong to another service"),
])
def test_a_refused_key_names_where_it_came_from(make_cli, how: str, hint: str) -> None:
    """A 401 says where the refused key was found, not always VIBEIMG_API_KEY."""
    cli = make_cli(api_key="sk-the-right-key-123456")
    args: list[str] = []
    env: dict[str, str] = {}
    if how == "flag":
        args = ["--api-key", WRONG_KEY]
    elif how == "config file":
        assert cli("config", "set", "api-key", input=f"{WRONG_KEY}\n", key=None).exit_code == 0
    else:
        env[how] = WRONG_KEY
    result = cli("generate", "a fox", "--quality", "low", *args, key=None, env=env)
    assert result.exit_code == 3
    assert hint in result.stderr
    if how == "config file":
        assert str(config_path()) in result.stderr
    assert WRONG_KEY not in result.stderr + result.stdout


def test_doctor_names_the_refused_keys_origin(make_cli) -> None:
    """doctor's fix for a refused key points at where the key came from."""
    cli = make_cli(api_key="sk-the-right-key-123456")
    result = cli("doctor", key=None, env={"OPENAI_API_KEY": WRONG_KEY})
    assert result.exit_code == 3
    assert "fix: the key came from OPENAI_API_KEY" in result.stdout


def test_the_config_file_key_beats_openai_api_key(cli, emulator) -> None:
    """With OPENAI_API_KEY set for another service, the key configured for vibeimg is sent."""
    cli("config", "set", "api-key", input="sk-vibeimg-file-key-42\n", key=None)
    result = cli("generate", "a fox", "--quality", "low", key=None,
                 env={"OPENAI_API_KEY": "sk-openai-elsewhere-99"})
    assert result.exit_code == 0, result.stderr
    assert emulator.api_requests()[0].headers["authorization"] == "Bearer sk-vibeimg-file-key-42"


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("VIBEIMG_SIZE", "huge", "invalid size 'huge' (from env VIBEIMG_SIZE)"),
    ("VIBEIMG_SIZE", "100x100", "invalid size '100x100' (from env VIBEIMG_SIZE): both edges"),
    ("VIBEIMG_QUALITY", "ultra", "invalid quality 'ultra' (from env VIBEIMG_QUALITY)"),
    ("VIBEIMG_FORMAT", "gif", "invalid format 'gif' (from env VIBEIMG_FORMAT)"),
    ("VIBEIMG_MODERATION", "strict", "invalid moderation 'strict' (from env VIBEIMG_MODERATION)"),
    ("VIBEIMG_MODEL", " ", "the model name is empty (from env VIBEIMG_MODEL)"),
])
def test_a_bad_value_from_the_environment_names_its_variable(
        cli, emulator, variable: str, value: str, said: str) -> None:
    """VIBEIMG_SIZE=huge: one line naming the variable and the fix, exit 2, nothing sent."""
    result = cli("generate", "a fox", env={variable: value})
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith(f"error: {said}"), line
    assert f"(fix or unset {variable}" in line
    assert len(result.stderr.splitlines()) == 1
    assert emulator.requests == []


@pytest.mark.parametrize(("command", "extra"), [("edit", ["-i", "in.png"]),
                                                ("chat-stream", []), ("batch", [])])
def test_other_commands_name_the_variable_too(cli, tmp_path, command: str,
                                              extra: list[str]) -> None:
    """edit, chat-stream and batch say where a bad size came from, as generate does."""
    Image.new("RGB", (1024, 1024)).save(tmp_path / "in.png")
    (tmp_path / "prompts.txt").write_text("a fox\n")
    first = "prompts.txt" if command == "batch" else "a fox"
    result = cli(command, first, *extra, env={"VIBEIMG_SIZE": "huge"})
    assert result.exit_code == 2
    assert "invalid size 'huge' (from env VIBEIMG_SIZE)" in result.stderr


def test_a_bad_flag_names_the_flag(cli) -> None:
    """--size huge says it came from --size, as --timeout already did."""
    result = cli("generate", "a fox", "--size", "huge")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid size 'huge' (from --size)")


def test_a_batch_lines_own_value_is_not_blamed_on_the_environment(cli, tmp_path) -> None:
    """A line's bad size is the line's, even with VIBEIMG_SIZE set."""
    (tmp_path / "p.jsonl").write_text('{"prompt": "a fox", "size": "huge"}\n')
    result = cli("batch", "p.jsonl", env={"VIBEIMG_SIZE": "landscape"})
    assert result.exit_code == 2
    assert "p.jsonl:1: invalid size 'huge'" in result.stderr
    assert "VIBEIMG_SIZE" not in result.stderr


def test_verbose_says_where_each_setting_came_from(cli, emulator) -> None:
    """-v traces every setting's value and origin: flag, environment, file or default."""
    cli("config", "set", "format", "jpeg")
    result = cli("generate", "a fox", "--size", "1024x1024", "-v",
                 env={"VIBEIMG_QUALITY": "low", "VIBEIMG_TIMEOUT": "60"})
    assert result.exit_code == 0, result.stderr
    options = next(line for line in result.stderr.splitlines() if line.startswith("options: "))
    assert "size 1024x1024 (flag)" in options
    assert "quality low (env VIBEIMG_QUALITY)" in options
    assert "format jpeg (config file)" in options
    assert "model gpt-image-2 (default)" in options
    settings = next(line for line in result.stderr.splitlines()
                    if line.startswith("settings: "))
    assert f"base-url {emulator.base_url} (env VIBEIMG_BASE_URL)" in settings
    assert "api-key sk-****cdef (env VIBEIMG_API_KEY)" in settings
    assert "timeout 60 s (env VIBEIMG_TIMEOUT)" in settings
    assert "retries 3 (default)" in settings


def _help(cli, *args: str, env: dict[str, str] | None = None, connect: bool = True) -> str:
    result = cli(*args, "--help", env=env, connect=connect)
    assert result.exit_code == 0, result.stderr
    return " ".join(result.stdout.split())


def test_help_shows_the_defaults_in_force_from_the_environment(cli) -> None:
    """VIBEIMG_QUALITY=high makes 'generate --help' say high, and where it came from."""
    shown = _help(cli, "generate", env={"VIBEIMG_QUALITY": "high", "VIBEIMG_TIMEOUT": "60",
                                        "VIBEIMG_OUT_DIR": "shots"})
    assert "default: high (from env VIBEIMG_QUALITY)" in shown
    assert "default: 60 (from env VIBEIMG_TIMEOUT)" in shown
    assert "default: shots (from env VIBEIMG_OUT_DIR)" in shown
    assert "default: auto]" in shown  # the size, untouched
    assert "default: medium" not in shown


def test_help_shows_the_environment_above_the_file(cli) -> None:
    """A variable beats the config file in --help as it does in a run."""
    cli("config", "set", "quality", "medium")
    assert "default: medium (from the config file)" in _help(cli, "generate")
    shown = _help(cli, "generate", env={"VIBEIMG_QUALITY": "high"})
    assert "default: high (from env VIBEIMG_QUALITY)" in shown


def test_help_names_the_base_url_and_key_in_force(cli) -> None:
    """The base URL and key in force show in --help, the key masked."""
    cli("config", "set", "base-url", "http://file.example/v1")
    shown = _help(cli, "edit", env={"OPENAI_BASE_URL": "http://openai.example/v1",
                                    "VIBEIMG_API_KEY": "sk-help-key-00001234"}, connect=False)
    assert "default: http://file.example/v1 (from the config file)" in shown
    assert "default: sk-****1234 (from env VIBEIMG_API_KEY)" in shown
    assert "sk-help-key" not in shown


def test_help_via_the_help_command_shows_them_too(cli) -> None:
    """'vibeimg help generate' shows the same defaults in force as 'generate --help'."""
    env = {"VIBEIMG_QUALITY": "high"}
    assert cli("help", "generate", env=env).stdout == cli("generate", "--help", env=env).stdout


def test_help_with_a_bad_variable_still_works(cli) -> None:
    """--help shows a bad value as it is, without failing."""
    shown = _help(cli, "generate", env={"VIBEIMG_TIMEOUT": "soon", "VIBEIMG_SIZE": "huge"})
    assert "default: soon (from env VIBEIMG_TIMEOUT)" in shown
    assert "default: huge (from env VIBEIMG_SIZE)" in shown


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_works_with_a_broken_config_file_and_the_run_says_why(cli, flag: str) -> None:
    """A config file with a bad value stops a run with its one-line error, never --help."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('timeout = "abc"\n', encoding="utf-8")
    shown = cli("generate", flag, connect=False)
    assert shown.exit_code == 0 and "Usage: vibeimg generate" in shown.stdout
    assert shown.stderr == ""
    run = cli("generate", "a fox", connect=False)
    assert run.exit_code == 2 and "invalid timeout 'abc'" in run.stderr
    # After --, "--help" is a prompt: the run, and its error, go ahead.
    prompt = cli("generate", "--", "--help", connect=False)
    assert prompt.exit_code == 2 and "invalid timeout 'abc'" in prompt.stderr


def test_help_works_with_a_relative_home(cli, tmp_path) -> None:
    """VIBEIMG_HOME=relative is refused when a command runs, not when --help is asked."""
    env = {"VIBEIMG_HOME": "relative/home"}
    shown = cli("edit", "--help", env=env, connect=False)
    assert shown.exit_code == 0 and "Usage: vibeimg edit" in shown.stdout
    run = cli("generate", "a fox", "--offline", env=env, connect=False)
    assert run.exit_code == 2 and "VIBEIMG_HOME=relative/home is a relative path" in run.stderr


def test_doctor_says_the_file_beats_openai_base_url(cli) -> None:
    """doctor's settings table gives each value's origin in the documented order."""
    cli("config", "set", "base-url", "http://file.example/v1")
    result = cli("doctor", "--json", connect=False,
                 env={"OPENAI_BASE_URL": "http://openai.example/v1",
                      "OPENAI_API_KEY": "sk-openai-key-00005678"})
    rows = {row["name"]: row for row in json.loads(result.stdout)["settings"]}
    assert (rows["base-url"]["value"], rows["base-url"]["origin"]) == (
        "http://file.example/v1", "config file")
    assert rows["api-key"]["origin"] == "env VIBEIMG_API_KEY"
    text = cli("doctor", connect=False, key=None,
               env={"OPENAI_API_KEY": "sk-openai-key-00005678"}).stdout
    assert "flag > VIBEIMG_* environment > config file > OPENAI_* environment > default" in text
    assert "sk-****5678  (env OPENAI_API_KEY)" in text


@pytest.mark.parametrize(("suffix", "fix"), [
    ("/v2", "OpenAI-compatible APIs usually end in /v1"),
    ("/v1", "answers, but has no /models"),
])
def test_doctors_404_hint_fits_the_url(cli, emulator, suffix: str, fix: str) -> None:
    """A 404 from GET /models suggests /v1 only when the URL does not end in it."""
    url = emulator.base_url + suffix
    result = cli("doctor", "--base-url", url)
    assert result.exit_code == 4
    line = next(line for line in result.stdout.splitlines() if "fix:" in line
                and "base URL" in line)
    assert fix in line and "(from --base-url)" in line
    if suffix == "/v1":
        assert "should end in /v1" not in result.stdout
