"""The config file: the small TOML writer, private modes, settings and their origins."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vibeimg.errors import UsageError
from vibeimg.settings import configfile
from vibeimg.settings.resolve import config_path, read_config_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

scalars = st.one_of(
    st.text(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(st.dictionaries(st.text(min_size=1), scalars, max_size=6))
def test_written_toml_reads_back_identically(table: dict[str, object]) -> None:
    """Any flat table of strings, numbers and booleans survives a write and a read."""
    assert tomllib.loads(configfile.dumps(table)) == table


def test_nested_values_are_refused() -> None:
    """A table or list (hand-written) cannot be rewritten by the small writer: a clear error."""
    with pytest.raises(UsageError) as caught:
        configfile.dumps({"x": {"y": 1}})
    assert "edit the file by hand" in caught.value.one_line()


def test_file_is_0600_in_a_0700_folder(isolated_user_dirs: Path) -> None:
    """Writing settings makes the folder private and the file readable by its owner only."""
    isolated_user_dirs.chmod(0o755)
    configfile.set_value("size", "landscape")
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(config_path().parent.stat().st_mode) == 0o700


def test_rewrite_keeps_other_settings_and_leaves_no_temp_files() -> None:
    """Setting one value keeps the others; unset removes only its own key."""
    configfile.set_value("quality", "low")
    configfile.set_value("timeout", "42")
    configfile.set_value("history", "off")
    assert read_config_file() == {"quality": "low", "timeout": 42.0, "history": False}
    assert configfile.unset_value("timeout")[1] is True
    assert configfile.unset_value("timeout")[1] is False
    assert read_config_file() == {"quality": "low", "history": False}
    assert [p.name for p in config_path().parent.iterdir() if p.is_file()] == ["config.toml"]


@pytest.mark.parametrize(("name", "value", "fix"), [
    ("size", "1000x1000", "try"),
    ("quality", "ultra", "choose one of"),
    ("format", "gif", "choose one of"),
    ("base-url", "ftp://x", "http(s) URL"),
    ("timeout", "-1", "seconds"),
    ("retries", "many", "whole number"),
    ("history", "maybe", "true or false"),
    ("colour", "red", "use one of"),
])
def test_bad_values_are_refused_with_the_fix(name: str, value: str, fix: str) -> None:
    """Each setting is checked before it is stored; the error says how to fix it."""
    with pytest.raises(UsageError) as caught:
        configfile.set_value(name, value)
    assert fix in caught.value.one_line()
    assert not config_path().exists()


def test_origin_order_is_environment_then_file_then_default() -> None:
    """Outside a command, a setting comes from the environment, else the file, else default."""
    spec = configfile.find_setting("size")
    assert configfile.resolve(spec, {}, {}).origin == "default"
    assert configfile.resolve(spec, {}, {"size": "2k"}).value == "2k"
    found = configfile.resolve(spec, {"VIBEIMG_SIZE": "4k"}, {"size": "2k"})
    assert (found.value, found.origin) == ("4k", "env VIBEIMG_SIZE")


def test_fallback_key_variable_is_an_origin() -> None:
    """OPENAI_API_KEY counts when VIBEIMG_API_KEY is unset, and is shown masked."""
    found = configfile.resolve(configfile.find_setting("api_key"),
                               {"OPENAI_API_KEY": "sk-abcdefghijkl1234"}, {})
    assert found.origin == "env OPENAI_API_KEY"
    assert found.as_json()["value"] == "sk-****1234"


def test_the_config_file_beats_the_openai_variables() -> None:
    """OPENAI_API_KEY and OPENAI_BASE_URL come after vibeimg's own config file."""
    environ = {"OPENAI_API_KEY": "sk-abcdefghijkl1234", "OPENAI_BASE_URL": "http://o.test/v1"}
    file = {"api_key": "sk-file-000000005678", "base_url": "http://file.test/v1"}
    key = configfile.resolve(configfile.find_setting("api-key"), environ, file)
    url = configfile.resolve(configfile.find_setting("base-url"), environ, file)
    assert (key.value, key.origin) == ("sk-file-000000005678", "config file")
    assert (url.value, url.origin) == ("http://file.test/v1", "config file")
    with_vibeimg = {**environ, "VIBEIMG_BASE_URL": "http://v.test/v1"}
    url = configfile.resolve(configfile.find_setting("base-url"), with_vibeimg, file)
    assert (url.value, url.origin) == ("http://v.test/v1", "env VIBEIMG_BASE_URL")


def test_option_defaults_map_file_keys_to_parameters() -> None:
    """The file's option settings become defaults of the commands' parameters."""
    defaults = configfile.option_defaults({"format": "jpeg", "out_dir": "/srv/shots",
                                           "history": False, "base_url": "http://x"})
    assert defaults == {"output_format": "jpeg", "out_dir": "/srv/shots", "history": False}


def test_invalid_file_value_names_the_setting_and_the_fix() -> None:
    """A hand-edited bad value is reported with the command that repairs it."""
    with pytest.raises(UsageError) as caught:
        configfile.option_defaults({"quality": "best"})
    assert "vibeimg config set quality" in caught.value.one_line()


def test_only_the_shared_options_take_file_defaults() -> None:
    """A parameter named like a setting but without its variable (a text --model) is left alone."""
    shared = SimpleNamespace(name="model", envvar="VIBEIMG_MODEL")
    text_model = SimpleNamespace(name="model", envvar=None)
    size = SimpleNamespace(name="size", envvar=["VIBEIMG_SIZE"])
    file = {"model": "gpt-image-2-mini", "size": "2k"}
    assert configfile.defaults_for([shared, size], file) == {"model": "gpt-image-2-mini",
                                                             "size": "2k"}
    assert configfile.defaults_for([text_model], file) == {}
