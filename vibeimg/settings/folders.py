"""Where vibeimg keeps its files, and reading the config file: all that ``--help`` needs
of the settings (it shows defaults from the config file), without the rest of them.

``VIBEIMG_HOME`` moves every user file (config, data) under one folder, which is how
tests and CI isolate themselves; otherwise the folders are platformdirs'.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError

APP_NAME = "vibeimg"
HOME_ENV = "VIBEIMG_HOME"
PRIVATE_FOLDER_MODE = 0o700  # the config and data folders: a key, prompts, file paths


def xdg_folder(variable: str, fallback: str) -> Path | None:
    """On Linux, the XDG base folder for vibeimg as platformdirs finds it, or None elsewhere.

    ``$VARIABLE`` when it is an absolute path, else ``$HOME/FALLBACK``. platformdirs
    costs more start-up time than the rest of ``--help``; other systems (and a Linux
    without an absolute ``$HOME``, or Android) still ask it.
    """
    if not sys.platform.startswith("linux") or "ANDROID_DATA" in os.environ:
        return None
    value = os.environ.get(variable, "")
    if os.path.isabs(value):  # noqa: PTH117 - a string test, as the XDG spec words it
        return Path(value) / APP_NAME
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):  # noqa: PTH117
        return Path(home) / fallback / APP_NAME
    return None


def config_dir() -> Path:
    """Where the config file lives."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    found = xdg_folder("XDG_CONFIG_HOME", ".config")
    if found is not None:
        return found
    from platformdirs import user_config_path  # noqa: PLC0415 - only when needed

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    """Where vibeimg keeps data such as its history."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "data"
    found = xdg_folder("XDG_DATA_HOME", ".local/share")
    if found is not None:
        return found
    from platformdirs import user_data_path  # noqa: PLC0415 - only when needed

    return user_data_path(APP_NAME)


def make_private_folder(folder: Path) -> Path:
    """Create ``folder`` and each missing parent with mode 0700; leave existing ones alone.

    The config and data folders hold a key and the history, so whatever vibeimg creates
    on the way to them is private (as the XDG base directory spec asks of missing
    folders). ``Path.mkdir(parents=True)`` would make the parents 0755, such as the
    ``VIBEIMG_HOME`` folder around ``data/``. A folder that already exists keeps its
    mode: it is the user's choice, and ``vibeimg doctor`` warns when it is open.
    """
    missing: list[Path] = []
    probe = folder
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another run, or not a folder
            if not path.is_dir():
                raise
    return folder


def config_path() -> Path:
    return config_dir() / "config.toml"


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """The config file's table, or an empty one when there is no file."""
    path = path or config_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(
            f"cannot read the config file {path}: {exc.strerror}", hint="fix its permissions"
        ) from exc
    # The parser only when there is a file: most runs have none, and --help pays for it.
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    try:
        table: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:  # TOML is UTF-8: this is no TOML file either
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        raise _not_toml(path, f"it is not UTF-8 text ({where})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _not_toml(path, str(exc)) from exc
    except RecursionError:  # a = [[[[... nested beyond any sense
        raise _not_toml(path, "it is nested too deeply") from None
    return table


def _not_toml(path: Path, reason: str) -> UsageError:
    return UsageError(
        f"the config file {path} is not valid TOML: {reason}",
        hint=f"fix that line in an editor, or delete {path} to start again from the "
        "defaults (the key too, if it holds one)",
    )
