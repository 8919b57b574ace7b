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


def command_with(command: str, option: tuple[str, ...], value: str,
                 *, drop: tuple[str, ...] = ()) -> str | None:
    """``vibeimg COMMAND ...`` as it was run, with the option ``option`` (its spellings,
    such as ``("-n", "--count")``) set to ``value`` and the flags ``drop`` left out;
    None when that line is unknown."""
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
        elif arg in drop:
            continue
        elif not any(arg.startswith(f"{o}=") or (not o.startswith("--") and arg.startswith(o)
                                                   and arg[len(o):].isdigit())
                     for o in option):
            kept.append(arg)
    return shlex.join(["vibeimg", command, *kept, option[0], value])


def missing_hint(command: str, missing: int, maybe_billed: int = 0) -> str:
    """How to ask for the ``missing`` images of a run of takes (``-n``) alone: its own
    command line with ``-n`` set to that number, when it can be told; without
    ``--force``, which would make the new images replace the saved ones of the same
    numbers (``-o 'fox-{n}.png'``)."""
    line = command_with(command, ("-n", "--count"), str(missing), drop=("--force",))
    hint = f"for the {missing} not saved alone: " + (
        line or f"the same command with -n {missing}")
    if maybe_billed and maybe_billed == missing:
        hint += f"; the gateway may have billed {'it' if missing == 1 else 'them'} already"
    elif maybe_billed:
        hint += f"; the gateway may have billed {maybe_billed} of them already"
    return hint
