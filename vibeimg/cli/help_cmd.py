"""``vibeimg help [COMMAND...]``: the help of vibeimg or of one of its commands, as in git
and gh (``vibeimg help history search`` is ``vibeimg history search --help``)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from typer import _click  # Typer vendors Click; use its classes, never Click's own
from typer.core import TyperGroup


def help_command(
    ctx: typer.Context,
    names: Annotated[Optional[list[str]], typer.Argument(
        metavar="[COMMAND]...", show_default=False,
        help="A command, and a subcommand of it (history search).")] = None,
) -> None:
    """Show the help of vibeimg or of one of its commands.

    Examples:

      vibeimg help

      vibeimg help generate

      vibeimg help history search
    """
    root = ctx.find_root()
    command: Any = root.command
    current: Any = root
    for name in names or []:
        if not isinstance(command, TyperGroup):
            raise _click.exceptions.UsageError(
                f"'{current.command_path}' has no subcommands, so no {name!r}", ctx=current)
        found = command.get_command(current, name)
        if found is None:  # the fix is the group's help, which lists its commands
            raise _click.exceptions.UsageError(_no_such_command(command, current, name),
                                               ctx=current)
        command = found
        current = command.make_context(name, [], parent=current, resilient_parsing=True)
    _click.echo(current.get_help(), color=current.color)


def _no_such_command(group: Any, ctx: Any, name: str) -> str:
    """Click's words for a mistyped command, with the closest names."""
    from difflib import get_close_matches

    commands = group.list_commands(ctx)
    matches = get_close_matches(name, commands)
    guess = (f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else
             f" The commands are: {', '.join(commands)}.")
    return f"No such command {name!r}.{guess}"
