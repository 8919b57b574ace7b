"""How each setting's value is checked: one parser per setting, for every source.

``vibeimg config set`` hands these parsers the text typed; the config file hands them
whatever TOML value was written by hand, so each also refuses a value of the wrong kind
(``out_dir = 5``). The timeout and retries checks live in :mod:`vibeimg.settings.resolve`, since
flags and the environment need them too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vibeimg.errors import UsageError
from vibeimg.params import check_choice, parse_size
from vibeimg.settings.resolve import check_api_key, check_base_url

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _kind(value: object) -> str:
    """What a TOML value is, in words, for an error about a value of the wrong kind."""
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time" if value is not None else "nothing"


def _literal(value: object) -> str:
    """A TOML value as the file spells it (near enough), for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float, list, dict)):
        return repr(value)
    return str(value)  # a date or time


def _text(value: object, name: str, fix: str = 'write it in double quotes, such as "..."'
          ) -> str:
    """``value`` when it is text: a hand-edited file may hold ``out_dir = 5``."""
    if not isinstance(value, str):
        raise UsageError(f"invalid {name} {_literal(value)}: it is {_kind(value)}, not text",
                         hint=fix)
    return value


def parse_key(value: object) -> str:
    return check_api_key(_text(value, "api-key").strip())


def parse_url(value: object) -> str:
    return check_base_url(_text(value, "base-url"))


def parse_size_name(value: object) -> str:
    text = _text(value, "size")
    parse_size(text)
    return text.strip().lower()


def choice_parser(name: str, choices: tuple[str, ...],
                  aliases: dict[str, str] | None = None) -> Callable[[object], str]:
    def parse(value: object) -> str:
        word = _text(value, name).strip().lower()
        return check_choice(name, (aliases or {}).get(word, word), choices)

    return parse


def parse_model(value: object) -> str:
    text = _text(value, "model").strip()
    if not text:
        raise UsageError("invalid model '': the model name is empty", hint="e.g. gpt-image-2")
    return text


def parse_folder(value: object) -> str:
    """An absolute folder: ``~`` expanded, a relative one taken from the current folder.

    'config set out-dir pics' stores the folder meant when it was typed, not one that
    moves with wherever a later command runs. (A relative path written into the file by
    hand is still taken from the current folder, as it always was.)
    """
    text = _text(value, "out-dir")
    if not text.strip():
        raise UsageError(f"invalid out-dir {text!r}: the folder is empty",
                         hint="e.g. ~/Pictures/vibeimg")
    folder = os.path.abspath(Path(text.strip()).expanduser())  # noqa: PTH100 - no symlinks resolved
    if Path(folder).exists() and not Path(folder).is_dir():
        raise UsageError(f"invalid out-dir {text!r}: {folder} is a file, not a folder",
                         hint="name a folder, or a new one to be made")
    return folder


def bool_parser(name: str) -> Callable[[object], bool]:
    """A yes/no setting: a TOML boolean, or one of the words (``config set history off``)."""

    def parse(value: object) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # as the words "0" and "1"
            return bool(value)
        word = _text(value, name, "use true or false").strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise UsageError(f"invalid {name} {value!r}", hint="use true or false")

    return parse
