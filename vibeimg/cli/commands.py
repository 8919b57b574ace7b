"""The table of commands, each loaded lazily, and the completion options that take a
shell's name: what ``vibeimg --help`` lists without importing any command's code."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer


class LazyCommand(NamedTuple):
    """A command whose module is imported only when it runs or shows its own help.

    Run with nothing at all, a command that needs input says what is missing under its
    usage line (exit 2), as for any missing argument; only 'vibeimg' alone shows the
    whole help (exit 0), since that is how people ask what the tool does.
    """

    module: str
    function: str
    summary: str  # the first line of the function's docstring, shown by 'vibeimg --help'


#: Every command, in the order 'vibeimg --help' lists them.
COMMANDS: dict[str, LazyCommand] = {
    "generate": LazyCommand("vibeimg.cli.generate", "generate",
                            "Generate images from a text prompt."),
    "edit": LazyCommand("vibeimg.cli.edit", "edit",
                        "Edit images, combine references, or repaint a masked area."),
    "chat-stream": LazyCommand("vibeimg.cli.chat_stream", "chat_stream",
                               "Ask for images in plain words and watch them stream in."),
    "chat": LazyCommand("vibeimg.cli.chat", "chat",
                        "Refine images in a conversation, turn by turn."),
    "mask-convert": LazyCommand("vibeimg.cli.mask_convert", "mask_convert",
                                "Turn a black-and-white mask into an alpha mask."),
    "batch": LazyCommand("vibeimg.cli.batch", "batch",
                         "Make many images from a file of prompts, resumably."),
    "batch-merge": LazyCommand("vibeimg.cli.batch_merge", "batch_merge",
                               "Join the manifests of a batch's shards into one."),
    "mock-server": LazyCommand("vibeimg.cli.mock_server", "mock_server",
                               "Run the local gateway emulator until Ctrl-C."),
    "preview": LazyCommand("vibeimg.cli.preview_cmd", "preview",
                           "Show images as thumbnails in the terminal."),
    "history": LazyCommand("vibeimg.cli.history_cmd", "history_app",
                           "Find past runs: prompts, files, request ids, costs."),
    "config": LazyCommand("vibeimg.cli.config_cmd", "config_app",
                          "Read and change settings kept in the config file."),
    "doctor": LazyCommand("vibeimg.cli.doctor", "doctor",
                          "Check settings, key, gateway and folders, with fixes."),
    "help": LazyCommand("vibeimg.cli.help_cmd", "help_command",
                        "Show the help of vibeimg or of one of its commands."),
}


def load_command(name: str, lazy: LazyCommand) -> Any:
    """Import a command's module and build its Click command through Typer."""
    function = getattr(importlib.import_module(lazy.module), lazy.function)
    if isinstance(function, typer.Typer):  # a group of subcommands (config, history)
        return typer.main.get_command(function)
    from vibeimg.cli.command import VibeimgCommand

    single = typer.Typer(rich_markup_mode=None, add_completion=False)
    single.command(name, cls=VibeimgCommand)(function)
    return typer.main.get_command(single)


COMPLETION_OPTIONS = ("--install-completion", "--show-completion")


def completion_option(name: str, help_text: str) -> Any:
    """``--show-completion [SHELL]`` or ``--install-completion [SHELL]``: the shell named,
    else the one detected. (Typer's own ignored the word: ``--show-completion fish``
    printed the detected shell's script.) The vendored Click has no option with an
    optional value, so ``VibeimgGroup.parse_args`` takes the shell's name out first."""
    from typer.core import TyperOption

    return TyperOption(
        param_decls=[name], is_flag=True, default=False, expose_value=False, is_eager=True,
        help=help_text, callback=lambda ctx, _param, value: completion(ctx, name, value))


def completion(ctx: Any, name: str, wanted: bool) -> None:
    if not wanted or ctx.resilient_parsing:
        return
    from vibeimg.cli.completions import install_script, show_script

    shell = ctx.meta.pop(f"vibeimg{name}", "")
    (show_script if name == "--show-completion" else install_script)(ctx, shell)
    ctx.exit(0)


def take_shell_names(ctx: Any, args: list[str]) -> list[str]:
    """``--show-completion fish`` (or ``=fish``) before any command: the word is the
    option's value, kept in ``ctx.meta`` for its callback."""
    taken: list[str] = []
    words = iter(args)
    for word in words:
        name, equals, value = word.partition("=")
        if name in COMPLETION_OPTIONS:
            if not equals:
                following = next(words, None)
                if following is not None and following.startswith("-"):
                    taken += [name, following]
                    continue
                value = following or ""
            ctx.meta[f"vibeimg{name}"] = value
            taken.append(name)
            continue
        if not word.startswith("-"):  # a command: the rest is its own
            return [*taken, word, *words]
        taken.append(word)
    return taken
