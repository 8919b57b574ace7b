"""``vibeimg config``: set, get, unset, list and locate the settings file."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from vibeimg.cli.command import VibeimgCommand, VibeimgSubgroup
from vibeimg.cli.stdout import print_json
from vibeimg.errors import UsageError
from vibeimg.settings.folders import config_path
from vibeimg.ui import Reporter, is_terminal, printable

# The names of vibeimg.settings.configfile.SETTINGS, in its order, spelled out here so that
# --help and completion load no settings code; tests/test_completions.py keeps them equal.
SETTING_NAMES = ("api-key", "base-url", "timeout", "retries", "model", "size", "quality",
                 "format", "moderation", "out-dir", "history", "ascii-names")


def _complete_name(incomplete: str) -> list[str]:
    return [name for name in SETTING_NAMES if name.startswith(incomplete)]


def _complete_value(ctx: typer.Context, incomplete: str) -> list[str]:
    from vibeimg.params import FORMATS, MODERATIONS, QUALITIES, SIZE_CHOICES

    choices = {"size": SIZE_CHOICES, "quality": QUALITIES, "format": FORMATS,
               "moderation": MODERATIONS, "history": ("true", "false"),
               "ascii-names": ("true", "false")}
    name = str(ctx.params.get("name") or "")
    return [v for v in choices.get(name, ()) if v.startswith(incomplete)]


Name = Annotated[str, typer.Argument(
    metavar="NAME", autocompletion=_complete_name, show_default=False,
    help=f"One of: {', '.join(SETTING_NAMES)}.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]

config_app = typer.Typer(
    cls=VibeimgSubgroup,
    name="config",
    help="Read and change settings kept in the config file.\n\n"
    "Settings apply in this order: command-line flag, VIBEIMG_* environment variable, "
    "config file, OPENAI_API_KEY / OPENAI_BASE_URL, default. The file is TOML, private to "
    "you (0600).",
    no_args_is_help=False,  # 'vibeimg config' alone: its usage and the missing command
    add_completion=False,  # the root command has the completion options
    rich_markup_mode=None,  # plain help, as every command (start-up time)
    context_settings={"help_option_names": ["-h", "--help"]},
)


MAX_PIPED_KEY_BYTES = 65536  # far above any key: stdin is not read without end


def _read_key() -> str:
    """The key, typed without echo on a terminal, or read from a pipe: one line (blank
    lines around it are fine); a key cut by a line break is refused, never echoed."""
    if is_terminal(sys.stdin):
        value: str = typer.prompt("API key", hide_input=True, err=True)
        return value.strip()
    from vibeimg.cli.common import read_stdin_bytes

    data = read_stdin_bytes(MAX_PIPED_KEY_BYTES)
    if data is None:
        raise UsageError(f"stdin holds more than {MAX_PIPED_KEY_BYTES:,} bytes, far more "
                         "than a key", hint="pipe in the key alone: printf '%s' \"$KEY\" | "
                         "vibeimg config set api-key")
    lines = [line for line in data.decode("utf-8", "surrogateescape").splitlines()
             if line.strip()]
    if len(lines) > 1:
        raise UsageError(f"stdin holds {len(lines)} lines, but a key is one line: it may "
                         "have been cut by a line break", hint="pipe in the key alone, on "
                         "one line: printf '%s' \"$KEY\" | vibeimg config set api-key")
    return lines[0].strip() if lines else ""


# A value such as -5 must reach the setting's own check, which says what range is
# allowed, instead of Click refusing it as an unknown option.
@config_app.command("set", cls=VibeimgCommand,
                    context_settings={"ignore_unknown_options": True})
def config_set(
    name: Name,
    value: Annotated[Optional[str], typer.Argument(
        metavar="VALUE", autocompletion=_complete_value, show_default=False,
        help="The new value (for api-key: typed at a hidden prompt, or piped in).")] = None,
) -> None:
    """Store a setting in the config file.

    For api-key, give no value: it is asked for without echo (or read from stdin when piped), so it never lands in your shell history.

    Examples:

      vibeimg config set size landscape

      vibeimg config set api-key
    """
    from vibeimg.settings import configfile

    spec = configfile.find_setting(name)
    if spec.secret:
        if value is not None:
            raise UsageError(
                "refusing a key on the command line: it would stay in your shell history",
                hint="run 'vibeimg config set api-key' and paste it at the prompt, or pipe it in",
            )
        value = _read_key()
    elif value is None:
        raise UsageError(f"no value for {spec.name}",
                         hint=f"vibeimg config set {spec.name} VALUE")
    spec, stored = configfile.set_value(spec.name, value)
    done = f"{spec.name} = {spec.show(stored)} (in {config_path()})"
    if isinstance(stored, str) and stored != value.strip():  # such as a folder made absolute
        Reporter().info(done)
    else:
        Reporter().note(done)


@config_app.command("get", cls=VibeimgCommand)
def config_get(name: Name) -> None:
    """Print a setting's value as it applies now.

    The environment comes first, then the file, then the default. The API key is printed masked.
    """
    from vibeimg.settings import configfile

    resolved = configfile.resolve(configfile.find_setting(name))
    if resolved.value is None:
        raise UsageError(f"{resolved.spec.name} is not set",
                         hint=f"vibeimg config set {resolved.spec.name}")
    value = resolved.spec.show(resolved.value)  # exact for a script, escaped on a terminal
    sys.stdout.write((printable(value) if is_terminal(sys.stdout) else value) + "\n")


@config_app.command("unset", cls=VibeimgCommand)
def config_unset(name: Name) -> None:
    """Remove a setting from the config file (its default applies again)."""
    from vibeimg.settings import configfile

    spec, removed = configfile.unset_value(name)
    if not removed:
        Reporter().warn(f"{spec.name} was not set in {config_path()}")


@config_app.command("list", cls=VibeimgCommand)
def config_list(
    origin: Annotated[bool, typer.Option(
        "--origin", help="Also say where each value comes from.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """List every setting and its value now; the API key is masked."""
    from vibeimg.settings import configfile

    settings = configfile.resolve_all()
    if json_output:
        print_json({"config_file": str(config_path()),
                    "settings": [s.as_json() for s in settings]})
        return
    width = max(len(s.spec.name) for s in settings)
    for item in settings:
        line = f"{item.spec.name:<{width}} = {item.spec.show(item.value)}"
        if origin:
            line += f"  ({item.origin})"
        sys.stdout.write(printable(line) + "\n")  # a hand-edited value may hold controls


@config_app.command("path", cls=VibeimgCommand)
def config_show_path() -> None:
    """Print the config file's path (it may not exist yet)."""
    sys.stdout.write(f"{config_path()}\n")

