"""Where vibeimg keeps its files, and reading the config file: all that ``--help`` needs
of the settings (it shows defaults from the config file), without the rest of them.

``VIBEIMG_HOME`` moves every user file (config, data) under one folder, which is how
tests and CI isolate themselves; otherwise the folders are platformdirs'. It must be an
absolute path (as the XDG variables must): a relative one would move the config and
the history with the current folder, so it is refused, never quietly resolved.
"""

from __future__ import annotations

import errno
import os
import stat
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


def home_folder() -> Path | None:
    """``VIBEIMG_HOME`` as a path, or None when it is not set; a relative one is refused."""
    value = os.environ.get(HOME_ENV)
    if not value:
        return None
    try:
        home = Path(value).expanduser()
    except RuntimeError:  # ~someone who does not exist: no home to expand to
        home = Path(value)
    if not home.is_absolute():
        raise home_error(
            "is a relative path: vibeimg's config and history would move with the current "
            "folder",
            hint=f'give an absolute path, such as {HOME_ENV}="$PWD/{value}", or unset it')
    return home


def home_error(what: str, hint: str | None = None) -> UsageError:
    """``VIBEIMG_HOME=VALUE WHAT``, with the fix there: the variable is the thing to fix."""
    return UsageError(f"{HOME_ENV}={os.environ.get(HOME_ENV, '')} {what}",
                      hint=hint or f"set {HOME_ENV} to a folder you can write, or unset it")


def not_a_folder(path: Path) -> Path | None:
    """``path``, or the nearest of its parents that exists, when that is not a folder
    (a file, a device): nothing can be made under it. None when there is none."""
    probe = path
    while True:
        try:
            mode = probe.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            if probe.parent == probe:
                return None
            probe = probe.parent
            continue
        except OSError:  # unreadable: whoever reads it says so, with its own fix
            return None
        return None if stat.S_ISDIR(mode) else probe


def check_home(*, create: bool = False) -> Path | None:
    """``VIBEIMG_HOME`` (None when not set), refused with the variable named when it
    cannot be vibeimg's folder: relative, a file, under a file, or (``create``: it is
    then made, 0700) a folder that cannot be created or that it cannot use."""
    home = home_folder()
    if home is None:
        return None
    blocker = not_a_folder(home)
    if blocker is not None:
        raise home_error("is not a folder" if blocker == home else
                         f"cannot be a folder: {blocker} is not a folder")
    if create:
        try:
            make_private_folder(home)
        except OSError as exc:
            raise home_error(f"cannot be created: {exc.strerror or exc}") from exc
    if home.is_dir() and not os.access(home, os.R_OK | os.W_OK | os.X_OK):
        raise home_error("is a folder vibeimg cannot use (it needs to read and write it)",
                         hint=f"fix its permissions with 'chmod 700 {home}', or set "
                              f"{HOME_ENV} to another folder")
    return home


def config_dir() -> Path:
    """Where the config file lives."""
    home = home_folder()
    if home is not None:
        return home
    found = xdg_folder("XDG_CONFIG_HOME", ".config")
    if found is not None:
        return found
    from platformdirs import user_config_path  # noqa: PLC0415 - only when needed

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    """Where vibeimg keeps data such as its history."""
    home = home_folder()
    if home is not None:
        return home / "data"
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
        data = _read_regular(path)
    except FileNotFoundError as exc:
        if path.is_symlink():  # a link to nothing: its settings are somewhere else
            raise _dangling(path) from exc
        return {}
    except OSError as exc:
        raise _unreadable(path, exc) from exc
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


CONFIG_MAX_BYTES = 1 << 20  # a config file is a few lines; far more is some other file


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path``, a regular file of at most :data:`CONFIG_MAX_BYTES`.

    Opened without blocking and checked by its descriptor: a FIFO there would block the
    open forever, and a device (a link to ``/dev/zero``) would never end.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a socket"
                    if stat.S_ISSOCK(info.st_mode) else "a device")
            raise UsageError(f"the config file {path} is {kind}, not a regular file",
                             hint=f"remove it with 'rm {path}' to run on the defaults, or "
                                  "put a config file there")
        data = file.read(CONFIG_MAX_BYTES + 1)
    if len(data) > CONFIG_MAX_BYTES:
        raise UsageError(f"the config file {path} is over {CONFIG_MAX_BYTES:,} bytes: no "
                         "config file of vibeimg's is that big",
                         hint="check what it is, and move it aside to run on the defaults")
    return data


def _dangling(path: Path) -> UsageError:
    """A config file that is a symbolic link to nothing: refused rather than ignored, as
    running on the defaults would drop the settings (a base URL, a key) it stands for."""
    target = path.readlink()
    return UsageError(
        f"the config file {path} is a symbolic link to {target}, which does not exist",
        hint=f"restore {target}, or remove the link with 'rm {path}' to run on the defaults")


def _unreadable(path: Path, exc: OSError) -> UsageError:
    """Why the config file cannot be read, with the fix in the right place: the file,
    the folder on its way, or ``VIBEIMG_HOME`` when that is what is wrong."""
    home = home_folder()
    if home is not None and (home == path.parent or home in path.parents):
        check_home()  # VIBEIMG_HOME=/dev/null: the variable is the thing to fix
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EISDIR:
        return UsageError(f"the config file {path} is a folder, not a file",
                          hint="remove or rename that folder: vibeimg keeps its settings in a "
                               "file of that name")
    blocker = not_a_folder(path.parent) if exc.errno == errno.ENOTDIR else None
    if blocker is not None:
        return UsageError(f"cannot read the config file {path}: {blocker} is not a folder",
                          hint=f"move {blocker} aside, or set {HOME_ENV} to another folder")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UsageError(f"cannot read the config file {path}: {reason}",
                          hint=f"fix its permissions: chmod 600 {path}, and chmod 700 its "
                               "folder")
    return UsageError(f"cannot read the config file {path}: {reason}",
                      hint="check it, or move it aside to start again from the defaults")


def _not_toml(path: Path, reason: str) -> UsageError:
    return UsageError(
        f"the config file {path} is not valid TOML: {reason}",
        hint=f"fix that line in an editor, or delete {path} to start again from the "
        "defaults (the key too, if it holds one)",
    )
