"""Settings resolution: flag > VIBEIMG_* > config file > OPENAI_* > default."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from vibeimg.errors import MissingKeyError, UsageError
from vibeimg.settings.resolve import (
    DEFAULT_BASE_URL,
    config_dir,
    config_path,
    data_dir,
    load_settings,
    mask_key,
    read_config_file,
)

FILE = {"api_key": "from-file", "base_url": "http://file.test/v1", "timeout": 42, "retries": 1}


def test_flag_beats_everything() -> None:
    """A flag wins over the environment and the file."""
    env = {"VIBEIMG_API_KEY": "from-env", "VIBEIMG_BASE_URL": "http://env.test/v1"}
    s = load_settings(api_key="from-flag", base_url="http://flag.test/v1", timeout=5,
                      retries=0, environ=env, file=FILE)
    assert (s.api_key, s.base_url, s.timeout, s.retries) == (
        "from-flag", "http://flag.test/v1", 5.0, 0)
    assert s.origins["api_key"] == "flag"


def test_vibeimg_env_beats_the_file_which_beats_openai_env() -> None:
    """VIBEIMG_* wins over the file, which wins over OPENAI_*: a key set for another
    service never goes to a host configured for vibeimg."""
    env = {"VIBEIMG_API_KEY": "v", "OPENAI_API_KEY": "o", "OPENAI_BASE_URL": "http://o.test/v1"}
    s = load_settings(environ=env, file=FILE)
    assert s.api_key == "v" and s.origins["api_key"] == "env VIBEIMG_API_KEY"
    assert s.base_url == "http://file.test/v1" and s.origins["base_url"] == "config file"
    only_openai = {"OPENAI_API_KEY": "o"}
    s = load_settings(environ=only_openai, file=FILE)
    assert s.api_key == "from-file" and s.origins["api_key"] == "config file"


def test_openai_env_is_the_fallback_before_the_defaults() -> None:
    """OPENAI_API_KEY and OPENAI_BASE_URL count when neither VIBEIMG_* nor the file has one."""
    env = {"OPENAI_API_KEY": "o", "OPENAI_BASE_URL": "http://o.test/v1"}
    s = load_settings(environ=env, file={})
    assert s.api_key == "o" and s.origins["api_key"] == "env OPENAI_API_KEY"
    assert s.base_url == "http://o.test/v1" and s.origins["base_url"] == "env OPENAI_BASE_URL"


def test_file_then_default() -> None:
    """The config file fills what flags and environment leave; then the defaults."""
    s = load_settings(environ={}, file=FILE)
    assert (s.api_key, s.base_url, s.timeout, s.retries) == (
        "from-file", "http://file.test/v1", 42.0, 1)
    d = load_settings(environ={}, file={})
    assert d.api_key is None and d.base_url == DEFAULT_BASE_URL
    assert d.origins["base_url"] == "default"


def test_vibeimg_home_moves_the_config_file(isolated_user_dirs: Path) -> None:
    """VIBEIMG_HOME holds the config file, which is read as TOML."""
    assert config_path() == isolated_user_dirs / "config.toml"
    config_path().write_text('base_url = "http://home.test/v1"\n')
    assert load_settings(environ={}).base_url == "http://home.test/v1"


def test_broken_config_file_is_a_clear_usage_error(isolated_user_dirs: Path) -> None:
    """A config file that is not TOML names itself in the error."""
    config_path().write_text("base_url = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        read_config_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"base_url": "ftp://x"}, "invalid base URL"), ({"timeout": -1}, "above 0"),
     ({"timeout": float("inf")}, "at most 3600"), ({"timeout": float("nan")}, "above 0"),
     ({"retries": -2}, "from 0 to 10"), ({"retries": 11}, "from 0 to 10")],
)
def test_invalid_values(kwargs, message) -> None:
    """Nonsense settings are refused with the fix."""
    with pytest.raises(UsageError, match=message):
        load_settings(environ={}, file={}, **kwargs)


def test_missing_key_and_masking() -> None:
    """No key: MissingKeyError naming the variable; keys are shown masked; repr hides them."""
    s = load_settings(environ={}, file={})
    with pytest.raises(MissingKeyError) as caught:
        s.require_key()
    assert "VIBEIMG_API_KEY" in caught.value.one_line()
    keyed = load_settings(api_key="sk-secret-abcdef123456", environ={}, file={})
    assert "secret" not in repr(keyed)
    assert mask_key("sk-secret-abcdef123456") == "sk-****3456"


def test_a_bad_environment_value_names_itself() -> None:
    """VIBEIMG_TIMEOUT=abc says which setting, which value and where it came from."""
    with pytest.raises(UsageError) as caught:
        load_settings(environ={"VIBEIMG_TIMEOUT": "abc"}, file={})
    assert "invalid timeout 'abc' (from env VIBEIMG_TIMEOUT)" in caught.value.one_line()


@pytest.mark.parametrize("table", [{"timeout": 10**400}, {"timeout": True}, {"retries": 3.0},
                                   {"retries": False}, {"timeout": "1e12"}])
def test_file_values_of_the_wrong_kind_are_refused(table) -> None:
    """A huge integer, a boolean or a float count from TOML is a usage error, not a crash."""
    with pytest.raises(UsageError, match="from the config file"):
        load_settings(environ={}, file=table)


@pytest.mark.parametrize("xdg", [None, "/elsewhere/xdg", "relative/xdg", ""])
@pytest.mark.parametrize("home", ["/home/someone", "/home/someone/"])
def test_folders_are_where_platformdirs_puts_them(monkeypatch, xdg, home) -> None:
    """Without VIBEIMG_HOME the config and data folders are platformdirs' (found without it)."""
    monkeypatch.delenv("VIBEIMG_HOME", raising=False)
    monkeypatch.setenv("HOME", home)
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        if xdg is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, xdg)
    assert config_dir() == platformdirs.user_config_path("vibeimg")
    assert data_dir() == platformdirs.user_data_path("vibeimg")
