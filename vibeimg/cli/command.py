"""The class of every vibeimg command: what Click does, told the way vibeimg tells it.

- Run with no arguments at all, a command that needs a prompt says so with its usage
  (exit 2) instead of running into a later, vaguer error.
- A value that comes from a setting (``--size``, ``VIBEIMG_SIZE``, the config file) and
  is refused names where it came from, and ``--verbose`` says where each came from.
- ``--help`` shows the defaults in force: a value from the environment or the config
  file replaces the built-in default, with its origin (``default: high (from env
  VIBEIMG_QUALITY)``). Only the standard library and vibeimg's settings are imported
  for that, never httpx or Pillow.
- Usage lines read ``FILE`` and ``IMAGE...``, not Typer's ``{FILE}``.
- The config file's warning, if any, is shown once the command's ``--quiet`` is known.
"""

from __future__ import annotations

import atexit
import gc
import os
import re
from typing import Any

from typer import _click  # Typer vendors Click; use its classes, never Click's own
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from vibeimg.cli.notices import show_config_warning
from vibeimg.errors import UsageError

#: The connection options of every networked command, by parameter name: the setting
#: each one overrides (their values are resolved in ``vibeimg.settings.resolve``).
CONNECTION_SETTINGS = {"api_key": "api-key", "base_url": "base-url", "timeout": "timeout",
                       "retries": "retries"}
_DEFAULT_TEXT = re.compile(r"default: ([^;\]]*)")


def settings_in_force(command: _click.Command) -> dict[str, tuple[str, str]]:
    """For each parameter whose value comes from a setting not at its default: the value
    as help shows it and where it comes from (``env VIBEIMG_QUALITY``, ``config file``).

    Empty when the settings cannot be read (a broken config file is reported when the
    command runs; help must still work).
    """
    from vibeimg.errors import VibeimgError
    from vibeimg.settings.folders import read_config_file

    try:
        table = read_config_file()
        if not table and not _settings_in_environment():
            return {}  # every setting at its default: the settings code need not be loaded
        from vibeimg.settings import configfile

        found: dict[str, tuple[str, str]] = {}
        for param in command.params:
            spec = _setting_of(param)
            if spec is None:
                continue
            resolved = configfile.resolve(spec, file=table)
            if resolved.origin == "default":
                continue
            found[str(param.name)] = (_shown(spec, resolved.value), resolved.origin)
    except VibeimgError:  # a bad value, or a home that cannot be: said when the command runs
        return {}
    return found


#: Environment variables that name no setting (every other VIBEIMG_ one may).
_NOT_SETTINGS = frozenset({"VIBEIMG_HOME", "VIBEIMG_DEBUG"})
#: The fallbacks of the key and the base URL.
_FALLBACKS = frozenset({"OPENAI_API_KEY", "OPENAI_BASE_URL"})


def _settings_in_environment() -> bool:
    """Whether any variable that can set a setting is in the environment (a quick look,
    by name; only when none is, and no config file, is every default in force)."""
    return any((name.startswith("VIBEIMG_") and name not in _NOT_SETTINGS)
               or name in _FALLBACKS for name in os.environ)


def _setting_of(param: _click.Parameter) -> Any:
    """The config setting (a ``SettingSpec``) a parameter stands for, or None."""
    from vibeimg.settings import configfile

    name = str(param.name or "")
    if name in CONNECTION_SETTINGS and isinstance(param, TyperOption):
        return configfile.BY_NAME[CONNECTION_SETTINGS[name]]
    spec = configfile.BY_PARAM.get(name)
    envvar = getattr(param, "envvar", None)
    names = [envvar] if isinstance(envvar, str) else list(envvar or [])
    # Only the shared options (chat-stream's --model is the text model: no VIBEIMG_MODEL).
    return spec if spec is not None and spec.env[0] in names else None


def _shown(spec: Any, value: Any) -> str:
    """A setting's value as help shows it: a key masked, a URL without its user info."""
    if spec.secret:
        return str(spec.public(value))
    if isinstance(value, str):
        value = spec.public(value)
        return value if value.strip() else repr(value)
    return str(spec.show(value))


def origin_words(origin: str) -> str:
    """``env VIBEIMG_SIZE`` -> ``env VIBEIMG_SIZE``; ``config file`` -> ``the config file``."""
    return "the config file" if origin == "config file" else origin


def with_default(help_text: str, value: str, origin: str) -> str:
    """``help_text`` with its ``default: X`` replaced by the value in force and its origin
    (or, when it names no default, with one added)."""
    shown = f"default: {value} (from {origin_words(origin)})"
    matches = list(_DEFAULT_TEXT.finditer(help_text))
    if not matches:
        return f"{help_text}  [{shown}]"
    last = matches[-1]
    return help_text[:last.start()] + shown + help_text[last.end():]


class VibeimgCommand(TyperCommand):
    """A Typer command with vibeimg's rules for missing input, settings and help."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            prompt = next((p for p in self.params
                           if p.name == "prompt" and isinstance(p, TyperArgument)), None)
            if prompt is not None:  # optional only because --prompt-file may stand in
                raise _click.exceptions.MissingParameter(
                    "Give it as an argument, '-' to read it from stdin, or --prompt-file "
                    "FILE.", ctx=ctx, param=prompt)
        try:
            return super().parse_args(ctx, args)
        except _click.exceptions.MissingParameter as error:
            metavar = getattr(error.param, "metavar", None) or ""
            if " " in metavar:  # 'INPUT... [OUTPUT]': the first word is what is missing
                error.param_hint = repr(metavar.split()[0])
            raise
        except _click.exceptions.UsageError as error:
            with_context(error, ctx)
            raise

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        """``FILE`` and ``IMAGE...`` as every manual writes them: Typer braces required
        arguments (``{FILE}``), which reads like shell brace expansion."""
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def format_options(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """Typer's sections, with the defaults in force from the environment and file."""
        in_force = settings_in_force(self)
        args: list[tuple[str, str]] = []
        opts: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.name in in_force:
                record = (record[0], with_default(record[1], *in_force[str(param.name)]))
            (args if isinstance(param, TyperArgument) else opts).append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)

    def invoke(self, ctx: _click.Context) -> Any:
        _quick_exit()
        show_config_warning(ctx)
        if ctx.params.get("verbose") and not ctx.params.get("quiet"):
            trace_option_origins(ctx)
        try:
            return super().invoke(ctx)
        except UsageError as error:
            name_the_origin(ctx, error)
            raise


def with_context(error: _click.exceptions.UsageError, ctx: _click.Context) -> None:
    """``error`` with the context it was raised in: Click's parser raises some errors
    ('Option '--size' requires an argument.') without one, and then the line could not
    name the command's help, as every other usage error does."""
    if error.ctx is None:
        error.ctx = ctx


class VibeimgSubgroup(TyperGroup):
    """A group of commands (history, config) whose own options' errors name its help."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _click.exceptions.UsageError as error:
            with_context(error, ctx)
            raise


_exit_registered = False


def _quick_exit() -> None:
    """Freeze every object at exit, before the interpreter's last collection: that pass
    over every object loaded (Typer, httpx, Pillow...) costs a run 30-40 ms and frees
    nothing a process about to end needs freed. Files and streams are closed where they
    are used, and the standard streams are flushed before it."""
    global _exit_registered  # noqa: PLW0603 - once per process
    if not _exit_registered:
        atexit.register(gc.freeze)
        _exit_registered = True


def _origin_of(ctx: _click.Context, param: _click.Parameter) -> str | None:
    """Where Click took a parameter's value from, in the words of ``Settings.origins``."""
    source = ctx.get_parameter_source(str(param.name))
    sources = _click.core.ParameterSource
    if source == sources.COMMANDLINE:
        return "flag"
    if source == sources.ENVIRONMENT:
        envvar = getattr(param, "envvar", None)
        names = [envvar] if isinstance(envvar, str) else list(envvar or [])
        named = next((n for n in names if os.environ.get(n)), names[0] if names else "")
        return f"env {named}"
    if source == sources.DEFAULT_MAP:
        return "config file"
    if source == sources.DEFAULT:
        return "default"
    return None


def _flag_of(param: _click.Parameter) -> str:
    opts: list[str] = list(getattr(param, "opts", None) or [f"--{param.name}"])
    return max(opts, key=len)


#: The ``param`` of a UsageError from ``vibeimg.params`` -> the command's parameter.
_ERROR_PARAMS = {"size": "size", "quality": "quality", "output_format": "output_format",
                 "moderation": "moderation", "model": "model",
                 "response_format": "response_format", "output_compression": "compression"}


def name_the_origin(ctx: _click.Context, error: UsageError) -> None:
    """Add to a refused setting's message where its value came from, and the fix there.

    Only when the message quotes the value the command received: a batch line's own
    ``size`` is another value, reported with its line.
    """
    name = _ERROR_PARAMS.get(error.param or "")
    param = next((p for p in ctx.command.params if p.name == name), None)
    if param is None or "(from " in error.message:
        return
    value = ctx.params.get(str(param.name))
    if value is None:
        return
    origin = _origin_of(ctx, param)
    if origin is None or origin == "default":
        return
    quoted = repr(str(value).strip().lower())
    at = error.message.lower().find(quoted) if str(value).strip() else -1
    flag = _flag_of(param)
    if origin == "flag":
        where = f"from {flag}"
    elif origin == "config file":
        from vibeimg.settings.folders import config_path

        where = f"from the config file {config_path()}"
    else:
        where = f"from {origin}"
    if at >= 0:
        end = at + len(quoted)
        error.message = f"{error.message[:end]} ({where}){error.message[end:]}"
    elif str(value).strip():
        return  # not this value: a batch line's, say
    else:
        error.message = f"{error.message} ({where})"
    if origin.startswith("env "):
        fix = f"fix or unset {origin[4:]}"
        error.hint = f"{fix}: {error.hint}" if error.hint and flag not in error.hint else fix
    elif origin == "config file":
        setting = {"output_format": "format"}.get(str(param.name), str(param.name))
        fix = (f"change it with 'vibeimg config set {setting} VALUE' or remove it with "
               f"'vibeimg config unset {setting}'")
        error.hint = f"{error.hint}; {fix}" if error.hint else fix


def trace_option_origins(ctx: _click.Context) -> None:
    """``--verbose``: one line with each option setting's value and where it came from
    (the connection settings are traced when the connection is made)."""
    from vibeimg.ui import Reporter

    parts = []
    for param in ctx.command.params:
        spec = _setting_of(param)
        if spec is None or param.name in CONNECTION_SETTINGS:
            continue
        shown = spec.show(ctx.params.get(str(param.name)))
        parts.append(f"{spec.name} {shown} ({_origin_of(ctx, param)})")
    if parts:
        Reporter(verbose=True).trace("options: " + ", ".join(parts))
