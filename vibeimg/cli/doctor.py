"""``vibeimg doctor``: is everything in place? Versions, settings, key, gateway, folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vibeimg.cli import options as opt
from vibeimg.cli.stdout import print_json
from vibeimg.errors import ExitCode, VibeimgError
from vibeimg.ui import Reporter, printable

if TYPE_CHECKING:
    from vibeimg.cli.common import Connection
    from vibeimg.jobs.checkup import Check
    from vibeimg.settings.resolve import Settings

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def doctor(
    offline: opt.Offline = False,
    base_url: opt.BaseUrl = None,
    api_key: opt.ApiKey = None,
    timeout: opt.Timeout = None,
    retries: opt.Retries = None,
    verbose: opt.Verbose = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON document.")] = False,
) -> None:
    """Check settings, key, gateway and folders, with fixes.

    Sends one cheap request (GET /models) to the base URL. Exits non-zero when a check fails: 2 for settings or a missing key, 3 for a refused key, 6 when the gateway does not answer. With --offline, checks against the built-in emulator.

    Examples:

      vibeimg doctor

      vibeimg doctor --offline
    """
    from vibeimg.cli.common import Connection
    from vibeimg.jobs import checkup

    connection = Connection(offline=offline, base_url=base_url, api_key=api_key,
                            timeout=timeout, retries=retries, verbose=verbose)
    reporter = connection.reporter()
    from vibeimg.cli.common import warn_if_ignored_offline

    warn_if_ignored_offline(connection, reporter)
    home = checkup.check_home()  # when it fails, the files in it cannot be checked
    checks: list[checkup.Check] = [home or checkup.check_config_file()]
    file_ok = checks[0].status != "fail"
    settings: Settings | None = None
    shown: Settings | None = None  # None: the table shows the values as found, bad ones too
    bad_in_file: set[str] = set()
    try:
        settings = connection.settings()
        shown = settings if file_ok else None
    except VibeimgError as exc:  # a bad setting is a finding, not a crash
        if file_ok:
            checks.append(checkup.Check("settings", "fail", exc.message, exc.hint,
                                        exc.exit_code))
    if not file_ok or settings is None:
        # Go on checking with what is sound: the file's good values, flags, environment.
        settings, bad_in_file = _settings_past_bad_values(connection)
    resolved = _settings_table(shown, connection_offline=offline)
    checks += _bad_variables()
    if settings is not None:
        if settings.api_key or "api_key" not in bad_in_file:
            # A key the file holds but cannot give is its one problem, reported above.
            checks.append(checkup.check_key(settings, offline=offline))
        if not offline:
            checks.append(checkup.check_encryption(settings))
        checks.append(_gateway(connection, settings, reporter))
    checks += checkup.folder_checks(_out_dir(resolved), home_ok=home is None)
    out_row = next((r for r in resolved if r["name"] == "out-dir"), None)
    if out_row is not None and isinstance(out_row["value"], str):
        relative = checkup.check_relative_out_dir(out_row["value"], out_row["origin"])
        checks += [relative] if relative is not None else []
    if home is None:
        checks.append(checkup.check_history())
    found = checkup.versions()
    if json_output:
        print_json({"ok": all(c.status != "fail" for c in checks), "versions": found,
                    "settings": resolved, "checks": [c.as_json() for c in checks]})
    else:
        _print_report(found, resolved, checks)
    failures = [c for c in checks if c.status == "fail"]
    if failures:
        raise checkup.DoctorFailed(failures)


def _bad_variables() -> list[Check]:
    """An option's setting from a ``VIBEIMG_*`` variable that every command using it would
    refuse (``VIBEIMG_HISTORY=maybe``), said as those commands say it."""
    import os

    from vibeimg.jobs import checkup
    from vibeimg.settings import configfile

    found = []
    for spec in configfile.SETTINGS:
        variable = next((name for name in spec.env if os.environ.get(name)), None)
        if spec.param is None or variable is None:
            continue  # the connection settings are checked by load_settings
        try:
            spec.parse(os.environ[variable])
        except VibeimgError as exc:
            named = f"invalid {spec.name} {os.environ[variable]!r}"
            message = exc.message.replace(named, f"{named} (from env {variable})", 1) \
                if exc.message.startswith(named) else f"{exc.message} (from env {variable})"
            fix = f"fix or unset {variable}" + (f": {exc.hint}" if exc.hint else "")
            found.append(checkup.Check("settings", "fail", message, fix, ExitCode.USAGE))
    return found


def _out_dir(resolved: list[dict[str, Any]]) -> Path | None:
    """The output folder in force; None when its setting is invalid (reported already)."""
    from vibeimg.settings import configfile

    row = next((r for r in resolved if r["name"] == "out-dir"), None)
    if row is None or row["value"] is None:
        return Path.cwd()
    try:
        return Path(configfile.BY_NAME["out-dir"].parse(row["value"]))
    except VibeimgError:
        return None


def _settings_past_bad_values(connection: Connection) -> tuple[Settings | None, set[str]]:
    """Settings from flags, environment and the config file's sound values, to go on
    checking past a broken file; and the file's keys whose values are not sound."""
    from vibeimg.api.connect import OFFLINE_KEY
    from vibeimg.settings import configfile
    from vibeimg.settings.resolve import load_settings, read_config_file

    try:
        table = read_config_file()
    except VibeimgError:  # not TOML: none of it can be used
        table = {}
    sound, bad = {}, set()
    for key, raw in table.items():
        spec = configfile.BY_KEY.get(key)
        try:
            sound[key] = spec.parse(raw) if spec is not None else raw
        except VibeimgError:
            bad.add(key)
    try:
        return load_settings(
            api_key=connection.api_key or (OFFLINE_KEY if connection.offline else None),
            base_url=connection.base_url, timeout=connection.timeout,
            retries=connection.retries, file=sound,
        ), bad
    except VibeimgError:
        return None, bad


def _gateway(connection: Connection, settings: Settings, reporter: Reporter) -> Check:
    from vibeimg.jobs import checkup
    from vibeimg.settings.resolve import mask_url

    if not connection.offline:
        return checkup.check_gateway(settings, label=mask_url(settings.base_url),
                                     trace=reporter.trace)
    from dataclasses import replace

    from vibeimg.emulator import Emulator

    with Emulator() as emulator:
        return checkup.check_gateway(replace(settings, base_url=emulator.base_url),
                                     label="the offline emulator", trace=reporter.trace)


def _settings_table(settings: Settings | None, *,
                    connection_offline: bool) -> list[dict[str, Any]]:
    """Every setting's value and origin; the connection ones as this run resolved them."""
    from vibeimg.settings import configfile
    from vibeimg.settings.resolve import mask_key, mask_url

    try:
        rows: list[dict[str, Any]] = [r.as_json() for r in configfile.resolve_all()]
    except VibeimgError:  # an unreadable file is already reported
        return []
    if settings is not None:
        resolved = {"base-url": mask_url(settings.base_url), "timeout": settings.timeout,
                    "retries": settings.retries, "api-key": mask_key(settings.api_key)}
        keys = {"base-url": "base_url", "timeout": "timeout", "retries": "retries",
                "api-key": "api_key"}
        if connection_offline:
            resolved["api-key"] = "(not needed offline)"
        for row in rows:
            if row["name"] in resolved:
                row["value"] = resolved[row["name"]]
            if row["name"] in keys:
                row["origin"] = settings.origins.get(keys[row["name"]], row["origin"])
    for row in rows:
        if connection_offline and row["name"] == "api-key":
            row["value"], row["origin"] = "(not needed offline)", "offline"
        spec = configfile.BY_NAME[row["name"]]
        row["shown"] = row["value"] if spec.secret else spec.show(row["value"])
    return rows


def _print_report(found: dict[str, str], resolved: list[dict[str, Any]],
                  checks: list[Check]) -> None:
    out = sys.stdout
    out.write("  ".join(f"{name} {version}" for name, version in found.items()) + "\n\n")
    if resolved:
        out.write("settings (flag > VIBEIMG_* environment > config file > OPENAI_* "
                  "environment > default):\n")
        width = max(len(r["name"]) for r in resolved)
        for row in resolved:
            out.write(printable(f"  {row['name']:<{width}}  {row['shown']}  ({row['origin']})")
                      + "\n")
        out.write("\n")
    width = max(len(c.name) for c in checks)
    for check in checks:
        line = f"{MARKS[check.status]}  {check.name:<{width}}  {check.detail}"
        if check.fix and check.status != "ok":
            line += f"\n      {' ' * width}  fix: {check.fix}"
        out.write(printable(line, newlines=True) + "\n")  # details quote the gateway
    out.flush()
