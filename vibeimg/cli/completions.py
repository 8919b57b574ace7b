"""Shell completion: the shells' protocols, ``--show-completion``/``--install-completion``,
and ``python -m vibeimg.cli.completions [DIR]``, which regenerates ``completions/``.

Each script is exactly what ``_VIBEIMG_COMPLETE=source_SHELL vibeimg`` prints; a test
fails when the files in the repository drift from it. Imported only when a shell
completes or a completion option is used, never by ``--help``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer import _click  # Typer vendors Click; use its classes, never Click's own
from typer._click.shell_completion import add_completion_class
from typer._completion_classes import ZshComplete, completion_init

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_VIBEIMG_COMPLETE"
#: What Typer can write a script for (PowerShell too, untested here).
SCRIPT_SHELLS = (*SHELLS, "powershell", "pwsh")


class QuotedZshComplete(ZshComplete):
    """Typer's zsh protocol with apostrophes that survive.

    The answer is evaluated inside single quotes, where zsh (without RC_QUOTES) reads
    Typer's ``''`` as the end and start of a quote: "a batch's shards" became "a batchs
    shards". ``'\''`` closes the quote, adds a quoted apostrophe and reopens it.
    """

    def format_completion(self, item: Any) -> str:
        return super().format_completion(item).replace("''", "'\\''")


def register_completion_classes() -> None:
    """Typer's completion protocols (``source_bash``...), with zsh's quoting fixed."""
    completion_init()
    add_completion_class(QuotedZshComplete, "zsh")


def _shell(ctx: Any, shell: str) -> str:
    """The shell named (any case), else the one running vibeimg; a usage error for others."""
    from typer._completion_shared import _get_shell_name

    name = shell.strip().lower() or (_get_shell_name() or "")
    if name not in SCRIPT_SHELLS:
        detected = "" if shell.strip() else " (the current shell)"
        raise _click.exceptions.BadParameter(
            f"no completion for {name or 'an unknown shell'!r}{detected}: name one of "
            f"{', '.join(SHELLS)}", ctx=ctx)
    return name


def show_script(ctx: Any, shell: str) -> None:
    """``--show-completion [SHELL]``: print the completion script for the shell."""
    from typer._completion_shared import get_completion_script

    name = _shell(ctx, shell)
    register_completion_classes()
    prog_name = ctx.find_root().info_name or "vibeimg"
    complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())
    _click.echo(get_completion_script(prog_name=prog_name, complete_var=complete_var,
                                      shell=name))


def install_script(ctx: Any, shell: str) -> None:
    """``--install-completion [SHELL]``: install it where the shell looks for it."""
    from typer._completion_shared import install

    name = _shell(ctx, shell)
    register_completion_classes()
    prog_name = ctx.find_root().info_name or "vibeimg"
    installed, path = install(shell=name, prog_name=prog_name)
    _click.echo(f"{installed} completion installed in {path}", err=True)
    _click.echo("Completion will take effect once you restart the terminal", err=True)


def script_name(shell: str) -> str:
    return f"vibeimg.{shell}"


def generate_script(shell: str) -> str:
    """The completion script the CLI prints for ``shell``."""
    env = {**os.environ, COMPLETE_VAR: f"source_{shell}"}
    done = subprocess.run(
        [sys.executable, "-c", "from vibeimg.cli.app import main; main()"],
        env=env, capture_output=True, text=True, check=True,
    )
    return done.stdout


def write_scripts(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in SHELLS:
        path = folder / script_name(shell)
        path.write_text(generate_script(shell), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    import argparse

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(
        prog="python -m vibeimg.cli.completions",
        description="Write vibeimg's bash, zsh and fish completion scripts.")
    parser.add_argument("folder", nargs="?", type=Path, default=root / "completions",
                        help="where to write them (default: the repository's completions/)")
    folder: Path = parser.parse_args(argv).folder
    for path in write_scripts(folder):
        sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
