"""The settings people keep in the config file: names, checks, origins, and writing it.

Every setting has a command-line name (``api-key``), a key in the TOML file
(``api_key``), environment variables, and a default. The order is always
flag > ``VIBEIMG_*`` environment > config file > ``OPENAI_*`` environment (key and base
URL only) > default. Option defaults (model, size, quality,
format, moderation, out-dir, history, ascii-names) reach the commands through Click's
``default_map`` and the options' own environment variables, so the commands need
nothing special to honour them.

The file is flat (``key = value`` with strings, numbers and booleans), so a small
writer suffices. It is written atomically, 0600, in a 0700 folder: it may hold a key.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError
from vibeimg.params import DEFAULT_MODEL, FORMAT_ALIASES, FORMATS, MODERATIONS, QUALITIES
from vibeimg.settings.parsers import (
    bool_parser,
    choice_parser,
    parse_folder,
    parse_key,
    parse_model,
    parse_size_name,
    parse_url,
)
from vibeimg.settings.resolve import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    KEY_ENV,
    OPENAI_BASE_URL_ENV,
    OPENAI_KEY_ENV,
    PRIVATE_FOLDER_MODE,
    check_retries,
    check_timeout,
    config_path,
    make_private_folder,
    mask_key,
    mask_url,
    read_config_file,
)

FILE_MODE = 0o600
@dataclass(frozen=True)
class SettingSpec:
    """One setting: its names, where it can come from, and how a value is checked."""

    name: str  # on the command line: vibeimg config set NAME
    key: str  # in the TOML file
    help: str
    default: Any
    env: tuple[str, ...]
    parse: Callable[[object], Any]  # text from 'config set', any TOML value from the file
    param: str | None = None  # the command parameter whose default it provides
    secret: bool = False
    unset_text: str = "(not set)"
    redact: Callable[[str], str] | None = None  # hides a secret part of a value (a URL's)
    fallback_env: tuple[str, ...] = ()  # below the config file (OPENAI_API_KEY...)

    def public(self, value: Any) -> Any:
        """The value as it may be shown: a secret masked, a URL without its user info."""
        if self.secret:
            return mask_key(value if value is None else str(value))
        if self.redact is not None and isinstance(value, str):
            return self.redact(value)
        return value

    def show(self, value: Any) -> str:
        """A value as text; a secret is masked."""
        value = self.public(value)
        if self.secret:
            return str(value)
        if value is None:
            return self.unset_text
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("api-key", "api_key", "the gateway key (never shown, never echoed)", None,
                KEY_ENV, parse_key, secret=True, fallback_env=OPENAI_KEY_ENV),
    SettingSpec("base-url", "base_url", "the gateway's base URL", DEFAULT_BASE_URL,
                BASE_URL_ENV, parse_url, redact=mask_url, fallback_env=OPENAI_BASE_URL_ENV),
    SettingSpec("timeout", "timeout", "seconds to wait for an answer", DEFAULT_TIMEOUT,
                ("VIBEIMG_TIMEOUT",), check_timeout),
    SettingSpec("retries", "retries", "retries when the gateway cannot have done the work",
                DEFAULT_RETRIES, ("VIBEIMG_RETRIES",), check_retries),
    SettingSpec("model", "model", "the image model", DEFAULT_MODEL, ("VIBEIMG_MODEL",),
                parse_model, param="model"),
    SettingSpec("size", "size", "the default --size", "auto", ("VIBEIMG_SIZE",), parse_size_name,
                param="size"),
    SettingSpec("quality", "quality", "the default --quality", "auto", ("VIBEIMG_QUALITY",),
                choice_parser("quality", QUALITIES), param="quality"),
    SettingSpec("format", "format", "the default --format", "png", ("VIBEIMG_FORMAT",),
                choice_parser("format", FORMATS, FORMAT_ALIASES), param="output_format"),
    SettingSpec("moderation", "moderation", "the default --moderation", "auto",
                ("VIBEIMG_MODERATION",), choice_parser("moderation", MODERATIONS),
                param="moderation"),
    SettingSpec("out-dir", "out_dir", "the folder images are saved in", None,
                ("VIBEIMG_OUT_DIR",), parse_folder, param="out_dir", unset_text="(current folder)"),
    SettingSpec("history", "history", "record each run in the history database", True,
                ("VIBEIMG_HISTORY",), bool_parser("history"), param="history"),
    SettingSpec("ascii-names", "ascii_names", "name files in ASCII only, transliterating "
                "the prompt", False, ("VIBEIMG_ASCII_NAMES",), bool_parser("ascii-names"),
                param="ascii_names"),
)
BY_NAME = {spec.name: spec for spec in SETTINGS}
BY_KEY = {spec.key: spec for spec in SETTINGS}
BY_PARAM = {spec.param: spec for spec in SETTINGS if spec.param is not None}


def find_setting(name: str) -> SettingSpec:
    """A setting by its name (``api-key``; ``api_key`` also works)."""
    wanted = name.strip().lower().replace("_", "-")
    spec = BY_NAME.get(wanted)
    if spec is None:
        from difflib import get_close_matches  # noqa: PLC0415 - only for a typo

        close = get_close_matches(wanted, list(BY_NAME), n=1)
        raise UsageError(f"unknown setting {name!r}",
                         hint=f"did you mean {close[0]!r}?" if close else
                         f"use one of {', '.join(BY_NAME)}", param="name")
    return spec


@dataclass(frozen=True)
class Resolved:
    """A setting's value outside any one command: ``VIBEIMG_*`` environment > config file >
    ``OPENAI_*`` environment > default."""

    spec: SettingSpec
    value: Any
    origin: str  # "env NAME", "config file" or "default"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.spec.name, "value": self.spec.public(self.value),
                "origin": self.origin}


def resolve(
    spec: SettingSpec, environ: Mapping[str, str] | None = None,
    file: Mapping[str, Any] | None = None,
) -> Resolved:
    environ = os.environ if environ is None else environ
    file = read_config_file() if file is None else file
    for env in spec.env:
        if environ.get(env):
            return Resolved(spec, environ[env], f"env {env}")
    if spec.key in file:
        return Resolved(spec, file[spec.key], "config file")
    for env in spec.fallback_env:
        if environ.get(env):
            return Resolved(spec, environ[env], f"env {env}")
    return Resolved(spec, spec.default, "default")


def resolve_all(
    environ: Mapping[str, str] | None = None, file: Mapping[str, Any] | None = None
) -> list[Resolved]:
    file = read_config_file() if file is None else file
    return [resolve(spec, environ, file) for spec in SETTINGS]


def check_file(table: Mapping[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Every known setting of the file's ``table``, checked by its ``config set`` parser.

    A value of the wrong kind or out of range (``out_dir = 5``, ``timeout = inf``) is a
    usage error naming the key, the file and the fix; unknown keys are left out here.
    """
    values: dict[str, Any] = {}
    for key, raw in table.items():
        spec = BY_KEY.get(key)
        if spec is None:
            continue
        try:
            values[key] = spec.parse(raw)
        except UsageError as exc:
            # A key is never given on the command line: config set asks for it.
            fix = (f"replace it with 'vibeimg config set {spec.name}' (it asks for the key, "
                   "or reads it from a pipe)" if spec.secret else
                   f"change it with 'vibeimg config set {spec.name} VALUE'") + (
                f", or remove it with 'vibeimg config unset {spec.name}'")
            # The parsers name the setting as 'config set' does (out-dir); the file's
            # key is out_dir.
            named = f"invalid {spec.name} "
            what = f"invalid {key} {exc.message[len(named):]}" \
                if exc.message.startswith(named) else f"invalid {key}: {exc.message}"
            raise UsageError(f"the config file {path or config_path()} has an {what}",
                             hint=f"{exc.hint}; or {fix}" if exc.hint else fix) from exc
    return values


def unknown_keys_note(table: Mapping[str, Any], path: Path | None = None) -> str | None:
    """What to say of keys vibeimg does not know (a typo such as ``qualty``), or None.

    They are ignored, not refused, so that a file written for another version still
    works; the closest known key is suggested for each.
    """
    from difflib import get_close_matches  # noqa: PLC0415 - only with unknown keys

    unknown = sorted(key for key in table if key not in BY_KEY)
    if not unknown:
        return None
    named = []
    for key in unknown:
        close = get_close_matches(key.replace("-", "_"), list(BY_KEY), n=1)
        named.append(f"'{key}' (did you mean '{close[0]}'?)" if close else f"'{key}'")
    noun = "an unknown setting" if len(unknown) == 1 else "unknown settings"
    return f"the config file {path or config_path()} has {noun} {', '.join(named)}; ignored"


def option_defaults(file: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Command parameter defaults from the config file (Click's ``default_map``).

    The options read their environment variables themselves, and Click ranks them:
    flag > environment > this map > the declared default. The whole file is checked
    first: a broken setting stops every command that reads the file, even one that a
    flag would override, so that it is found and repaired.
    """
    values = check_file(read_config_file() if file is None else file)
    return {spec.param: values[spec.key] for spec in SETTINGS
            if spec.param is not None and spec.key in values}


def defaults_for(params: list[Any], file: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The file's defaults for these Click parameters.

    Only the shared options get them: a parameter qualifies when it reads the setting's
    environment variable too (``--model`` of chat-stream names the text model, not the
    image model, and has no VIBEIMG_MODEL).
    """
    defaults = option_defaults(file)
    wanted: dict[str, Any] = {}
    for param in params:
        spec = BY_PARAM.get(getattr(param, "name", None) or "")
        envvar = getattr(param, "envvar", None)
        names = [envvar] if isinstance(envvar, str) else list(envvar or [])
        if spec is not None and spec.param in defaults and spec.env[0] in names:
            wanted[spec.param] = defaults[spec.param]
    return wanted


# Writing the file


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key) and key.isascii():
        return key
    return _toml_string(key)


def _toml_string(text: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n",
               "\f": "\\f", "\r": "\\r"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A flat TOML value: string, integer, float or boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    raise UsageError(f"the config file holds a value vibeimg cannot rewrite: {value!r}",
                     hint="edit the file by hand (see 'vibeimg config path')")


def dumps(table: Mapping[str, Any]) -> str:
    lines = ["# vibeimg settings. Change them with: vibeimg config set NAME VALUE"]
    lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def secure_folder(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) 0700, and make the folder itself private.

    Unlike other folders that already exist, the config file's own folder is tightened
    to 0700 even when it was there before: the file about to be written may hold a key.
    """
    try:
        make_private_folder(folder)
        folder.chmod(PRIVATE_FOLDER_MODE)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {folder}: {exc.strerror}",
                         hint="check its permissions, or set VIBEIMG_HOME") from exc
    return folder


def write_config_file(table: Mapping[str, Any], path: Path | None = None) -> Path:
    """Replace the config file atomically with ``table``, mode 0600 in a 0700 folder."""
    path = path or config_path()
    if path.is_symlink():
        # Writing through it would change a file elsewhere (a dotfiles repository, say),
        # and replacing it would quietly cut that link: neither, and say so.
        target = path.readlink()
        raise UsageError(
            f"the config file {path} is a symbolic link (to {target}): vibeimg neither "
            "writes through a link nor replaces it",
            hint=f"edit {target} by hand, or replace the link by a copy of it to let "
                 "'vibeimg config' write the file")
    text = dumps(table)
    secure_folder(path.parent)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".part")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp_name, path)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise UsageError(f"cannot write the config file {path}: {exc.strerror}",
                         hint="check the folder's permissions, or set VIBEIMG_HOME") from exc
    return path


def set_value(name: str, raw: str, path: Path | None = None) -> tuple[SettingSpec, Any]:
    """Check ``raw`` for setting ``name`` and store it in the config file."""
    spec = find_setting(name)
    try:
        value = spec.parse(raw)
    except UsageError as exc:  # the value typed is named, with what was (not) done
        exc.message = f"{exc.message}; 'vibeimg config set {spec.name}' saved nothing"
        raise
    if spec.secret and not value:
        raise UsageError("the key is empty", hint="paste the key when asked")
    table = dict(read_config_file(path))
    table[spec.key] = value
    write_config_file(table, path)
    return spec, value


def unset_value(name: str, path: Path | None = None) -> tuple[SettingSpec, bool]:
    """Remove a setting from the config file; False when it was not there."""
    spec = find_setting(name)
    table = dict(read_config_file(path))
    if spec.key not in table:
        return spec, False
    del table[spec.key]
    write_config_file(table, path)
    return spec, True
