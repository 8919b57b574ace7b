"""Settings: flag > ``VIBEIMG_*`` environment > config file > ``OPENAI_*`` environment >
default.

``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` are only fallbacks, below vibeimg's own config
file: they are often set for another service, and a key must never go to a host the
user did not configure for vibeimg. The config file is TOML in the platformdirs config
folder; ``VIBEIMG_HOME`` moves every user file (config, data) under one folder, which
is how tests and CI isolate themselves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vibeimg.errors import MissingKeyError, UsageError
from vibeimg.settings.fixes import base_url_fix, key_fix
from vibeimg.settings.folders import (
    APP_NAME,
    HOME_ENV,
    PRIVATE_FOLDER_MODE,
    config_dir,
    config_path,
    data_dir,
    make_private_folder,
    read_config_file,
    xdg_folder,
)

__all__ = [  # the folders and the config file live in vibeimg.settings.folders
    "APP_NAME", "BASE_URL_ENV", "CONNECT_TIMEOUT", "DEFAULT_BASE_URL", "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT", "HOME_ENV", "KEY_ENV", "LOOPBACK_NAMES", "MAX_RETRIES", "MAX_TIMEOUT",
    "OPENAI_BASE_URL_ENV", "OPENAI_KEY_ENV", "PRIVATE_FOLDER_MODE", "Settings", "base_url_fix",
    "check_api_key", "check_base_url", "check_retries", "check_timeout", "config_dir",
    "config_path", "data_dir", "key_fix", "load_settings", "make_private_folder", "mask_key",
    "mask_url", "read_config_file", "sends_in_clear", "xdg_folder",
]

DEFAULT_BASE_URL = "https://www.vibeapi.cn/v1"
DEFAULT_TIMEOUT = 300.0  # seconds to wait for an answer; the gateway may take 2 minutes
CONNECT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
MAX_TIMEOUT = 3600.0  # an hour: far beyond the slowest generation; more is surely a slip
MAX_RETRIES = 10  # the backoff is capped, so more retries would only delay the error

KEY_ENV = ("VIBEIMG_API_KEY",)
BASE_URL_ENV = ("VIBEIMG_BASE_URL",)
# Fallbacks, ranked below the config file (see the module's docstring).
OPENAI_KEY_ENV = ("OPENAI_API_KEY",)
OPENAI_BASE_URL_ENV = ("OPENAI_BASE_URL",)


def _key_problem(key: str) -> str | None:
    """What makes ``key`` unusable in an ``Authorization`` header, in words; None if nothing.

    A key is a token of printable ASCII: a line break would split the header (httpx
    then fails after connecting, so the request looks as if it may have been billed),
    and a non-ASCII character cannot be encoded in a header at all. The key itself is
    never quoted, only the kind of character and its position.
    """
    for position, char in enumerate(key, start=1):
        code = ord(char)
        if 0x21 <= code <= 0x7E:
            continue
        if char in "\r\n":
            kind = "a line break"
        elif char.isspace():
            kind = "a space" if char == " " else "white space"
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return f"{kind} (character {position} of {len(key)})"
    return None


def check_api_key(key: str, origin: str | None = None) -> str:
    """``key``, refused when it cannot go into a header as it is (see :func:`_key_problem`).

    ``origin`` says where it came from, as in ``Settings.origins``, so the error points
    at the place to fix: the flag, a variable, or the config file.
    """
    problem = _key_problem(key)
    if problem is None:
        return key
    if origin == "flag":
        where, fix = " (from --api-key)", "pass the key again, as printed by the gateway"
    elif origin is not None and origin.startswith("env "):
        where = f" (from {origin[4:]})"
        fix = f"set {origin[4:]} again to the key alone, with no quotes or line break"
    elif origin == "config file":
        where = f" (from the config file {config_path()})"
        fix = "store it again with 'vibeimg config set api-key'"
    else:
        where, fix = "", "paste the key alone, with no quotes or line break"
    sent = "; nothing was sent" if origin is not None else ""  # not from 'config set'
    raise UsageError(f"the API key{where} holds {problem}{sent}", hint=fix)


def mask_key(key: str | None) -> str:
    """A key shown safely: its kind and its last four characters (none of a bad key)."""
    if not key:
        return "(not set)"
    if len(key) <= 8 or _key_problem(key) is not None:
        return "****"
    prefix = key[:3] if key.startswith("sk-") else ""
    return f"{prefix}****{key[-4:]}"


def mask_url(url: str) -> str:
    """A URL shown safely: user info, query values and fragment (a key, perhaps) masked.

    Every base URL that is printed, traced or stored goes through here, so that
    ``http://user:sk-...@host/v1`` is only ever seen as ``http://***@host/v1``, and
    ``https://host/v1?api_key=sk-...#t=x`` as ``https://host/v1?api_key=***#***``.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    rest, hashed, fragment = rest.partition("#")
    rest, asked, query = rest.partition("?")
    end = rest.find("/")
    end = len(rest) if end == -1 else end
    authority = rest[:end]
    if "@" in authority:
        rest = f"***@{authority.rpartition('@')[2]}{rest[end:]}"
    if asked:
        rest += "?" + "&".join(_masked_parameter(p) for p in query.split("&"))
    if hashed:
        rest += "#***" if fragment else "#"
    return f"{scheme}{separator}{rest}"


def _masked_parameter(parameter: str) -> str:
    """``name=value`` as ``name=***``; a bare value (``?sk-...``) as ``***``."""
    name, equals, value = parameter.partition("=")
    if equals:
        return f"{name}=***" if value else f"{name}="
    return "***" if name else ""


def check_base_url(url: str, origin: str | None = None) -> str:
    """The base URL without its trailing slash; refuses anything but a plain http(s) URL.

    A user name or password in it is refused: httpx would send it as Basic auth in
    place of the key, and it would be one more place a secret could leak from. So is a
    query string or a fragment: each request's path is added to the URL, so
    ``.../v1?api_key=...`` would become ``.../v1?api_key=.../images/generations``.
    ``origin`` says where the URL came from, for the error message.
    """
    url = url.strip()
    where = _from("base-url", origin)
    # A variable is fixed, or unset to let the next place speak.
    unset = f"fix or unset {origin[4:]}: " if origin and origin.startswith("env ") else ""
    shown = mask_url(url)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"invalid base URL {shown!r}{where}",
                         hint=f"{unset}use an http(s) URL such as {DEFAULT_BASE_URL}")
    base = url.partition("?")[0].partition("#")[0]
    if mask_url(base) != base:
        raise UsageError(
            f"the base URL {shown!r}{where} holds a user name or password",
            hint=f"{unset}remove it from the URL; give the key with --api-key or "
            "VIBEIMG_API_KEY")
    from vibeimg.settings.urls import host_problem  # noqa: PLC0415 - ipaddress, urllib: only here

    problem = host_problem(base)
    if problem:
        raise UsageError(f"invalid base URL {shown!r}{where}: {problem}",
                         hint=f"{unset}use an http(s) URL such as {DEFAULT_BASE_URL}")
    if "?" in url or "#" in url:
        part = "a query string ('?...')" if "?" in url else "a fragment ('#...')"
        raise UsageError(
            f"the base URL {shown!r}{where} has {part}: each request's path is added to "
            "the base URL, so it would be sent to the wrong address",
            hint=f"{unset}remove it, such as {DEFAULT_BASE_URL}; give the key with --api-key "
            "or VIBEIMG_API_KEY")
    return url.rstrip("/")


LOOPBACK_NAMES = ("localhost", "localhost.")


def sends_in_clear(url: str) -> bool:
    """Whether requests to ``url`` cross a network unencrypted: plain ``http://`` to a
    host that is not this machine (127.0.0.0/8, ``::1``, ``localhost``)."""
    import ipaddress  # noqa: PLC0415 - only for plain-http URLs
    from urllib.parse import urlsplit  # noqa: PLC0415 - only for plain-http URLs

    if not url.lower().startswith("http://"):
        return False
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed port or bracket: not ours to judge here
        return True
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _shown(value: object) -> str:
    """A value as an error message quotes it: text in quotes, a float short but a float."""
    if isinstance(value, float):
        text = f"{value:g}"  # 1e+12, inf, nan, 0.5
        return f"{text}.0" if text.lstrip("-").isdigit() else text  # 3.0 is no whole number
    return repr(value)


def _from(name: str, origin: str | None) -> str:
    """Where a value came from, for an error message ("" when the user just typed it)."""
    if origin is None:
        return ""
    if origin == "flag":
        return f" (from --{name})"
    if origin == "config file":
        return f" (from the config file {config_path()})"
    return f" (from {origin})"


def _fix(name: str, example: str, origin: str | None) -> str:
    """How to fix a bad value, in the place it came from."""
    if origin == "flag":
        return f"for example --{name} {example}"
    if origin is not None and origin.startswith("env "):
        return f"set {origin[4:]} to a value such as {example}, or unset it"
    if origin == "config file":
        return (f"change it with 'vibeimg config set {name} {example}', or remove it with "
                f"'vibeimg config unset {name}'")
    return f"for example {example}"


def _as_float(value: object) -> float:
    """A number from a flag, a variable or TOML; NaN for anything else (a bool included)."""
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            return math.inf
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return math.nan
    return math.nan


def check_timeout(value: object, origin: str | None = None) -> float:
    """The read timeout in seconds: a finite number above 0, at most ``MAX_TIMEOUT``.

    The one check for every place a timeout comes from (flag, environment, config file,
    ``config set``): an infinite or huge one overflows the socket layer, and NaN is not a
    number of seconds at all. ``origin`` is as in ``Settings.origins``; None when the
    user is typing it into ``vibeimg config set``.
    """
    number = _as_float(value)
    if not 0 < number <= MAX_TIMEOUT:  # NaN fails every comparison
        raise UsageError(
            f"invalid timeout {_shown(value)}{_from('timeout', origin)}: it must be a number "
            f"of seconds above 0 and at most {MAX_TIMEOUT:g}",
            hint=_fix("timeout", "300", origin))
    return number


def check_retries(value: object, origin: str | None = None) -> int:
    """The retry count: a whole number from 0 to ``MAX_RETRIES``, wherever it comes from."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None or not 0 <= number <= MAX_RETRIES:
        raise UsageError(
            f"invalid retries {_shown(value)}{_from('retries', origin)}: it must be a whole "
            f"number from 0 to {MAX_RETRIES}", hint=_fix("retries", "3", origin))
    return number


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings, with where each value came from."""

    api_key: str | None
    base_url: str
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = CONNECT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_unknown: bool = False
    verbose: bool = False
    origins: Mapping[str, str] = field(default_factory=dict)

    def require_key(self) -> str:
        if not self.api_key:
            raise MissingKeyError(
                "no API key is set",
                hint="set VIBEIMG_API_KEY, pass --api-key, run 'vibeimg config set api-key', "
                "or use --offline to run against the local emulator",
            )
        return self.api_key

    def __repr__(self) -> str:  # never leak the key through a repr in a traceback
        return (
            f"Settings(api_key={mask_key(self.api_key)!r}, base_url={mask_url(self.base_url)!r}, "
            f"timeout={self.timeout}, retries={self.retries})"
        )


def _first_env(names: tuple[str, ...], environ: Mapping[str, str]) -> tuple[str, str] | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value, f"env {name}"
    return None


def _pick(
    flag: Any, env: tuple[str, str] | None, file: Mapping[str, Any], key: str, default: Any,
    fallback: tuple[str, str] | None = None,
) -> tuple[Any, str]:
    """The value and its origin: flag > env > config file > fallback env > default."""
    if flag is not None:
        return flag, "flag"
    if env is not None:
        return env
    if key in file:
        return file[key], "config file"
    if fallback is not None:
        return fallback
    return default, "default"


def load_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    retry_unknown: bool = False,
    verbose: bool = False,
    environ: Mapping[str, str] | None = None,
    file: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings from flags (the arguments), ``VIBEIMG_*`` environment, config file,
    ``OPENAI_*`` environment, defaults."""
    environ = os.environ if environ is None else environ
    file = read_config_file() if file is None else file
    origins: dict[str, str] = {}
    key, origins["api_key"] = _pick(api_key, _first_env(KEY_ENV, environ), file, "api_key", None,
                                    _first_env(OPENAI_KEY_ENV, environ))
    url, origins["base_url"] = _pick(
        base_url, _first_env(BASE_URL_ENV, environ), file, "base_url", DEFAULT_BASE_URL,
        _first_env(OPENAI_BASE_URL_ENV, environ),
    )
    env_timeout = _first_env(("VIBEIMG_TIMEOUT",), environ)
    read_timeout, origins["timeout"] = _pick(
        timeout, env_timeout, file, "timeout", DEFAULT_TIMEOUT
    )
    env_retries = _first_env(("VIBEIMG_RETRIES",), environ)
    n_retries, origins["retries"] = _pick(retries, env_retries, file, "retries", DEFAULT_RETRIES)
    read_timeout = check_timeout(read_timeout, origins["timeout"])
    n_retries = check_retries(n_retries, origins["retries"])
    return Settings(
        api_key=check_api_key(str(key), origins["api_key"]) if key else None,
        base_url=check_base_url(str(url), origins["base_url"]),
        timeout=read_timeout,
        retries=n_retries,
        retry_unknown=retry_unknown,
        verbose=verbose,
        origins=origins,
    )
