"""What ``vibeimg doctor`` checks: versions, settings, key, gateway, folders, history.

Each check says what it found and, when something is wrong, the fix. The first failed
check decides the exit code (no key: usage; a refused key: auth; no answer: network).
"""

from __future__ import annotations

import os
import platform
import stat
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.errors import (
    AuthError,
    ExitCode,
    GatewayError,
    NetworkError,
    UsageError,
    VibeimgError,
)
from vibeimg.files.writable import READ_ONLY, write_problem
from vibeimg.settings.resolve import (
    Settings,
    base_url_fix,
    config_dir,
    config_path,
    data_dir,
    key_fix,
    mask_key,
    mask_url,
    read_config_file,
    sends_in_clear,
)
from vibeimg.version import __version__

if TYPE_CHECKING:
    from vibeimg.wire.response import Trace

PACKAGES = ("typer", "rich", "httpx", "httpx-sse", "pillow", "platformdirs")
GATEWAY_TIMEOUT = 20.0  # seconds: GET /models is cheap; no need to wait minutes


@dataclass
class Check:
    """One finding: ``ok``, ``warn`` or ``fail``, with the fix for a failure."""

    name: str
    status: str
    detail: str
    fix: str | None = None
    exit_code: ExitCode = ExitCode.OK

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix}


class DoctorFailed(VibeimgError):
    """At least one check failed; the exit code is the first failure's."""

    def __init__(self, failures: list[Check]) -> None:
        first = failures[0]
        count = "a problem" if len(failures) == 1 else f"{len(failures)} problems"
        names = ", ".join(f.name for f in failures)
        fix = first.fix
        if len(failures) > 1 and fix:
            fix = f"first {first.name}: {fix}"
        super().__init__(f"doctor found {count} ({names}); see the report above", hint=fix)
        self.exit_code = first.exit_code if first.exit_code else ExitCode.FAILURE


def versions() -> dict[str, str]:
    found = {"vibeimg": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_config_file() -> Check:
    from vibeimg.settings import configfile  # noqa: PLC0415 - only when doctor runs

    path = config_path()
    if not path.exists() and not path.is_symlink():  # a link to nothing is a problem
        return Check("config file", "ok", f"{path} (none yet; defaults apply)")
    try:
        table = read_config_file(path)
        configfile.check_file(table, path)
    except UsageError as exc:
        return Check("config file", "fail", exc.message, exc.hint, ExitCode.USAGE)
    mode = _mode(path)
    unknown = configfile.unknown_keys_note(table, path)
    if mode & 0o077 and "api_key" in table:
        return Check("config file", "fail", f"{path} holds a key and is readable by others "
                     f"({mode:04o})", f"chmod 600 {path}", ExitCode.USAGE)
    if unknown:
        return Check("config file", "warn", unknown,
                     f"rename or remove them in {path}; the known keys are "
                     f"{', '.join(configfile.BY_KEY)}")
    return Check("config file", "ok", f"{path} ({mode:04o}, {len(table)} settings)")


def check_key(settings: Settings, *, offline: bool) -> Check:
    origin = settings.origins.get("api_key", "default")
    if offline:
        return Check("API key", "ok", "not needed offline (the emulator accepts any key)")
    if not settings.api_key:
        return Check("API key", "fail", "not set",
                     "run 'vibeimg config set api-key', or set VIBEIMG_API_KEY",
                     ExitCode.USAGE)
    return Check("API key", "ok", f"{mask_key(settings.api_key)} ({origin})")


def check_encryption(settings: Settings) -> Check:
    """Whether the key goes out encrypted: https, or plain http that stays on this machine."""
    url = mask_url(settings.base_url)
    if sends_in_clear(settings.base_url):
        return Check("encryption", "warn",
                     f"{url} is plain http to another machine: the key and the prompts "
                     "cross the network unencrypted",
                     "use an https:// base URL ('vibeimg config set base-url https://...')")
    if settings.base_url.lower().startswith("http://"):
        return Check("encryption", "ok", "plain http, but only to this machine (loopback)")
    return Check("encryption", "ok", "https")


def check_gateway(settings: Settings, *, label: str, trace: Trace | None = None) -> Check:
    """``GET /models``: does the base URL answer, and does it accept the key?"""
    from vibeimg.wire.client import GatewayClient  # noqa: PLC0415 - httpx only here

    quick = replace(settings, retries=0, timeout=min(settings.timeout, GATEWAY_TIMEOUT))
    name = "gateway"
    try:
        with GatewayClient(quick, trace=trace) as client, client.open("GET", "models") as answer:
            payload = answer.read_json()
            elapsed = answer.elapsed
            request_id = answer.request_id
    except AuthError as exc:
        if not settings.api_key:
            return Check(name, "warn", f"{label} answers, and wants a key (HTTP {exc.status})")
        request = f" [request id {exc.request_id}]" if exc.request_id else ""
        return Check(name, "fail",
                     f"{label} refused the key: HTTP {exc.status}: {exc.message}{request}",
                     key_fix(settings.origins.get("api_key")), ExitCode.AUTH)
    except GatewayError as exc:
        return Check(name, "fail", f"{label}: {exc.one_line()}",
                     gateway_fix(exc.status, settings), exc.exit_code)
    except NetworkError as exc:
        return Check(name, "fail", f"{label} does not answer: {exc.message}",
                     base_url_fix(settings.origins.get("base_url")), ExitCode.NETWORK)
    except VibeimgError as exc:
        return Check(name, "fail", f"{label}: {exc.one_line()}",
                     "check the base URL: it should be an OpenAI-compatible API", exc.exit_code)
    models = [m.get("id") for m in payload.get("data", []) if isinstance(m, dict)] \
        if isinstance(payload, dict) else []
    detail = (f"{label} answers GET /models in {elapsed:.2f} s "
              f"({', '.join(str(m) for m in models) or 'no models listed'})")
    if request_id:
        detail += f" [request id {request_id}]"
    return Check(name, "ok", detail)


def gateway_fix(status: int, settings: Settings) -> str:
    """The fix for an error status from ``GET /models``, fitting the URL and the status."""
    from vibeimg.settings.resolve import DEFAULT_BASE_URL  # noqa: PLC0415 - a constant

    origin = settings.origins.get("base_url", "default")
    where = {"flag": "--base-url", "config file": "the config file (base-url)",
             "default": "vibeimg's default"}.get(origin, origin.removeprefix("env "))
    path = settings.base_url.split("://", 1)[-1].partition("/")[2].rstrip("/")
    if status == 404 and not path.endswith("v1"):
        return (f"the base URL (from {where}) has no /models; OpenAI-compatible APIs usually "
                f"end in /v1, such as {DEFAULT_BASE_URL}")
    if status == 404:
        return (f"the base URL (from {where}) answers, but has no /models: check that it is "
                f"the gateway's OpenAI-compatible API, such as {DEFAULT_BASE_URL}")
    if status >= 500:
        return "the gateway failed; try again later, or use --offline meanwhile"
    return f"check the base URL (from {where}) and the gateway's status"


def check_folder(name: str, path: Path, *, private: bool = False,
                 elsewhere: str = "set VIBEIMG_HOME to another folder") -> Check:
    """A folder vibeimg writes to: it exists (or can be made) and is writable.

    ``elsewhere`` is the fix that points vibeimg at another folder.
    """
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        detail = f"{path} is a file, not a folder" if probe == path else \
            f"{path} cannot be created: {probe} is a file"
        return Check(name, "fail", detail, elsewhere[0].upper() + elsewhere[1:],
                     ExitCode.USAGE)
    if not os.access(probe, os.W_OK | os.X_OK) and write_problem(probe) != READ_ONLY:
        return Check(name, "fail", f"{path} is not writable",
                     f"fix its permissions (chmod u+w {probe}), or {elsewhere}", ExitCode.USAGE)
    problem = write_problem(probe, make_folder=probe != path)
    if problem == READ_ONLY:
        where = "is" if probe == path else f"cannot be created: {probe} is"
        return Check(name, "fail", f"{path} {where} on a read-only file system (EROFS)",
                     elsewhere, ExitCode.USAGE)
    if problem is not None:
        detail = f"{path} is not writable ({problem})" if probe == path else \
            f"{path} cannot be created: nothing can be made in {probe} ({problem})"
        return Check(name, "fail", detail, elsewhere, ExitCode.USAGE)
    if probe != path:
        return Check(name, "ok", f"{path} (created when first needed)")
    if private and _mode(path) & 0o077:
        return Check(name, "warn", f"{path} is readable by others ({_mode(path):04o})",
                     f"chmod 700 {path}")
    return Check(name, "ok", str(path))


def check_history() -> Check:
    from vibeimg.records.history import History, HistoryError  # noqa: PLC0415 - sqlite only here

    try:
        with History(create=False) as history:
            if not history.exists:
                return Check("history", "ok", f"{history.path} (none yet)")
            runs = history.count()
            runs_text = "1 run" if runs == 1 else f"{runs} runs"
            search = "full-text search" if history.fts else "simple search (no FTS5)"
    except HistoryError as exc:
        return Check("history", "fail", exc.message, exc.hint, exc.exit_code)
    return Check("history", "ok", f"{history.path} ({runs_text}, {search})")


def check_home() -> Check | None:
    """``VIBEIMG_HOME``, when it is set and cannot be vibeimg's folder (relative, a file,
    under a file, not usable): one failed check that stands for the folders in it."""
    from vibeimg.settings.folders import check_home as check  # noqa: PLC0415 - doctor only

    try:
        check()
    except UsageError as exc:
        return Check("VIBEIMG_HOME", "fail", exc.message, exc.hint, ExitCode.USAGE)
    return None


def folder_checks(out_dir: Path | None, *, home_ok: bool = True) -> list[Check]:
    """The config, data and output folders; no output folder when its setting is invalid,
    and no config or data folder when ``VIBEIMG_HOME``, which holds them, failed."""
    checks = [
        check_folder("config folder", config_dir(), private=True),
        check_folder("data folder", data_dir(), private=True),
    ] if home_ok else []
    if out_dir is not None:
        checks.append(check_folder(
            "output folder", out_dir,
            elsewhere="choose another with 'vibeimg config set out-dir DIR' (or "
            "VIBEIMG_OUT_DIR, --out-dir)"))
    return checks


def check_relative_out_dir(value: str, origin: str) -> Check | None:
    """A relative ``out_dir`` written into the config file by hand: it is taken from the
    folder each command runs in, so images land in a different folder from each one.
    (``config set out-dir`` stores folders absolute; a flag or VIBEIMG_OUT_DIR that is
    relative is meant that way.)"""
    if origin != "config file" or Path(value).expanduser().is_absolute():
        return None
    return Check(
        "out-dir setting", "warn",
        f"out_dir = {value!r} in the config file is relative: each command saves under "
        f"the folder it runs in (here {Path.cwd() / value})",
        "store the folder you mean, absolute: vibeimg config set out-dir DIR (a relative "
        "DIR is taken from where you type it)",
    )
