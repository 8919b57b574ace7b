"""This very command line, changed a little, as the user could paste it to send again.

A run that saved some of its images and not the others tells how to ask for the rest
alone: the command it ran, with ``-n`` set to the number missing. Nothing here guesses:
when the command line cannot be told (vibeimg run from Python, the prompt read from
stdin), there is no command to give.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def command_with(command: str, option: tuple[str, ...], value: str) -> str | None:
    """``vibeimg COMMAND ...`` as it was run, with the option ``option`` (its spellings,
    such as ``("-n", "--count")``) set to ``value``; None when that line is unknown."""
    args = sys.argv[1:]
    program = Path(sys.argv[0]).name if sys.argv else ""
    if command not in args or program not in ("vibeimg", "__main__.py"):
        return None
    args = args[args.index(command) + 1:]
    if "-" in args:  # the prompt came from stdin: pasting the line would not send it
        return None
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in option:
            skip = True  # the option's value follows
        elif not any(arg.startswith(f"{o}=") or (not o.startswith("--") and arg.startswith(o)
                                                   and arg[len(o):].isdigit())
                     for o in option):
            kept.append(arg)
    return shlex.join(["vibeimg", command, *kept, option[0], value])
