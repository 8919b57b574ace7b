"""The ``vibeimg`` command: the Typer app and the one place errors become exit codes.

``main()`` runs the app; every command just does its work and raises. Here, and
only here, a :class:`~vibeimg.errors.VibeimgError` becomes one line on stderr and its
exit code, a Click usage error becomes one line and exit 2, Ctrl-C exits 130, and
anything unexpected becomes one line (a traceback only with ``VIBEIMG_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer import _click  # Typer vendors Click; use its classes, never Click's own
from typer.core import TyperGroup

from vibeimg import __version__
from vibeimg.cli import batch, generate, mock_server
from vibeimg.errors import ExitCode, VibeimgError
from vibeimg.ui import Reporter


def exit_code_for(error: BaseException) -> int:
    """Report ``error`` as one line on stderr and return the process exit code."""
    reporter = Reporter()
    if isinstance(error, VibeimgError):
        reporter.error(error.one_line())
        return int(error.exit_code)
    if isinstance(error, _click.exceptions.NoArgsIsHelpError):
        return int(ExitCode.USAGE)  # the help was printed; it says it all
    if isinstance(error, _click.exceptions.ClickException):
        hint = ""
        ctx = getattr(error, "ctx", None)
        if ctx is not None:
            hint = f" (see '{ctx.command_path} --help')"
        reporter.error(f"{error.format_message()}{hint}")
        return int(error.exit_code)
    if isinstance(error, (KeyboardInterrupt, typer.Abort)):
        reporter.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    if os.environ.get("VIBEIMG_DEBUG"):
        import traceback  # noqa: PLC0415 - only when debugging

        traceback.print_exception(error)
    reporter.error(
        f"internal error: {type(error).__name__}: {error} "
        "(set VIBEIMG_DEBUG=1 for a traceback, and please report it)"
    )
    return int(ExitCode.FAILURE)


class VibeimgGroup(TyperGroup):
    """A Typer group whose ``main`` maps every error to one line and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except BrokenPipeError:
            # The reader went away (| head): stop quietly, like other Unix tools.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115, PTH123 - silence the final flush
            sys.exit(int(ExitCode.FAILURE))
        except Exception as error:
            sys.exit(exit_code_for(error))
        except KeyboardInterrupt as error:
            sys.exit(exit_code_for(error))
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    name="vibeimg",
    cls=VibeimgGroup,
    help="Generate and edit images with gpt-image-2 from the shell.\n\n"
    "Results go to stdout (saved paths, or JSON with --json); progress and warnings to "
    "stderr. Add --offline to any command to run it against the built-in emulator: no "
    "key, no network, no cost.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,  # keys live in locals
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vibeimg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Generate and edit images with gpt-image-2 from the shell."""


app.command("generate", no_args_is_help=True)(generate.generate)
app.command("batch", no_args_is_help=True)(batch.batch)
app.command("batch-merge", no_args_is_help=True)(batch.batch_merge)
app.command("mock-server")(mock_server.mock_server)


def main() -> None:
    """The console script."""
    app(prog_name="vibeimg")
