"""The per-setting parsers: text from 'config set', any TOML value from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibeimg.errors import UsageError
from vibeimg.settings import parsers


@pytest.mark.parametrize("value", [5, 2.5, True, ["a"], {"a": 1}])
def test_text_settings_refuse_other_kinds_of_value(value: object) -> None:
    """A folder, model, size or key must be text; the error says what it was instead."""
    for parse in (parsers.parse_folder, parsers.parse_model, parsers.parse_size_name,
                  parsers.parse_key, parsers.parse_url):
        with pytest.raises(UsageError, match="not text"):
            parse(value)


def test_folder_is_made_absolute_from_the_current_folder(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative folder is taken from where it is given; '~' is the home folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parsers.parse_folder(" pics/../shots ") == str(tmp_path / "shots")
    assert parsers.parse_folder("~/p") == str(tmp_path / "home" / "p")
    assert parsers.parse_folder("/srv/x") == "/srv/x"


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (1, True), (0, False), ("off", False), (" Yes ", True),
])
def test_yes_no_values(value: object, expected: bool) -> None:
    """A TOML boolean, 0/1, or one of the words."""
    assert parsers.bool_parser("history")(value) is expected


@pytest.mark.parametrize("value", [2, "maybe", 1.0])
def test_other_yes_no_values_are_refused(value: object) -> None:
    """Anything else is an error with the fix."""
    with pytest.raises(UsageError):
        parsers.bool_parser("history")(value)
