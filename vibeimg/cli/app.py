"""The ``vibeimg`` command: the Typer app and the one place errors become exit codes.

``main()`` runs the app; every command just does its work and raises. Here, and
only here, a :class:`~vibeimg.errors.VibeimgError` becomes one line on stderr and its
exit code (even when stderr is closed and the line cannot be written), a Click usage
error becomes one line and exit 2 (worded in ``vibeimg.cli.usage_words``), Ctrl-C
(and SIGTERM, SIGHUP: see ``vibeimg.cli.interrupts``) exits 130, a closed stdout pipe (``| head``) exits 141 without a word, a stdout that cannot be
written (``> /dev/full``, ``>&-``) is one line and exit 8, and anything unexpected
becomes one line (a traceback only with ``VIBEIMG_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import Annotated, Any

import typer
from typer import _click  # Typer vendors Click; use its classes, never Click's own
from typer.core import TyperGroup

from vibeimg.cli.commands import COMMANDS, completion_option, load_command, take_shell_names
from vibeimg.errors import ExitCode, VibeimgError
from vibeimg.ui import Reporter
from vibeimg.version import __version__


def exit_code_for(error: BaseException, argv: Sequence[str] = ()) -> int:
    """Report ``error`` as one line on stderr (unless already reported) and return the
    process exit code: the error's own, even when that line cannot be written (``2>&-``).

    ``argv`` is the command line, to find the word an unknown option was read from.
    """
    code = _code_of(error)
    if sys.stderr is not None:  # None: there is no stderr at all (2>&-)
        with suppress(OSError, ValueError):  # stderr closed, full or gone: the code stands
            _report(error, argv)
    return code


def _code_of(error: BaseException) -> int:
    if isinstance(error, (VibeimgError, _click.exceptions.ClickException)):
        return int(error.exit_code)
    if isinstance(error, (KeyboardInterrupt, typer.Abort)):
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.FAILURE)


def _report(error: BaseException, argv: Sequence[str]) -> None:
    reporter = Reporter()
    if isinstance(error, VibeimgError):
        if not error.reported:  # a JSON-lines display already wrote it as a record
            reporter.error(error.one_line())
        return
    if isinstance(error, _click.exceptions.ClickException):
        hint = ""
        ctx = getattr(error, "ctx", None)
        message = error.format_message()
        if ctx is not None:
            hint = f" (see '{ctx.command_path} --help')"
            if _is_missing_input(error):
                # What is missing reads best beside the usage line that shows its place.
                sys.stderr.write(ctx.get_usage() + "\n")
                message = _missing_command_message(error, ctx) or message
            better = _better_words(error, ctx, argv)
            if better is not None:
                message, fix = better
                hint = f" ({fix})" if fix else hint
        reporter.error(f"{message}{hint}")
        return
    if isinstance(error, (KeyboardInterrupt, typer.Abort)):
        reporter.error("interrupted")
        return
    if os.environ.get("VIBEIMG_DEBUG"):
        import traceback

        traceback.print_exception(error)
    reporter.error(
        f"internal error: {type(error).__name__}: {error} "
        "(set VIBEIMG_DEBUG=1 for a traceback, and please report it)"
    )


def _is_missing_input(error: Exception) -> bool:
    """An argument or a subcommand is missing: the usage line shows where it goes."""
    if isinstance(error, _click.exceptions.MissingParameter):
        return True
    return isinstance(error, _click.exceptions.UsageError) and error.message == "Missing command."


def _missing_command_message(error: Exception, ctx: Any) -> str | None:
    """'Missing command.' with the group's commands named (``vibeimg config``)."""
    if not isinstance(error, _click.exceptions.UsageError) or error.message != "Missing command.":
        return None
    names = ctx.command.list_commands(ctx) if hasattr(ctx.command, "list_commands") else []
    return f"Missing command: one of {', '.join(names)}." if names else None


def _better_words(error: Exception, ctx: Any, argv: Sequence[str]) -> tuple[str, str] | None:
    """An unknown option or a refused setting in vibeimg's words (see usage_words)."""
    if not isinstance(error, (_click.exceptions.NoSuchOption, _click.exceptions.BadParameter)):
        return None  # and the module is not even imported
    from vibeimg.cli.usage_words import invalid_setting, unknown_option

    return unknown_option(error, ctx, argv) or invalid_setting(error, ctx)


class ReaderGone(Exception):
    """stdout is a pipe whose reader has closed it (``vibeimg history | head -1``)."""


def detach_stdout() -> None:
    """Point stdout at the null device, as the Python docs advise after an EPIPE.

    What is left in stdout's buffer is flushed at interpreter exit; into the closed
    pipe that would fail again and print "Exception ignored ... BrokenPipeError".
    """
    if sys.stdout is None:  # there was no stdout to begin with (>&-)
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError):  # not a real file (a test runner's): replace the object
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115, PTH123 - lives until exit


class VibeimgGroup(TyperGroup):
    """A Typer group that loads commands lazily and maps every error to an exit code.

    Start-up matters in shell loops: 'vibeimg --help' lists commands from ``COMMANDS``
    without importing them, and a command imports only its own module.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params += [
            completion_option("--install-completion",
                              "Install Tab completion for the current shell, or the one "
                              "named after it (bash, zsh, fish)."),
            completion_option("--show-completion",
                              "Print the completion script of the current shell, or of the "
                              "one named after it (--show-completion fish)."),
        ]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """'vibeimg' alone prints the help on stdout and exits 0: the first thing a
        newcomer types is a question."""
        if not args and ctx.parent is None and not ctx.resilient_parsing:
            _click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(0)
        try:
            return super().parse_args(ctx, take_shell_names(ctx, args))
        except _click.exceptions.UsageError as error:
            if error.ctx is None:  # 'vibeimg --help=x': the line names the help to read
                error.ctx = ctx
            raise

    def _main_shell_completion(self, ctx_args: Any, prog_name: str,
                               complete_var: str | None = None) -> None:
        """Typer's completion classes (with a fixed zsh quoting), registered only when a
        shell asks to complete: Typer would import them on every run."""
        variable = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if os.environ.get(variable):
            from vibeimg.cli.completions import register_completion_classes

            register_completion_classes()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Click's lookup, with the commands closest to a mistyped name suggested.

        Typer's own suggestions only know commands already built, none of which are here:
        the names come from ``COMMANDS``, so nothing is imported to suggest one.
        """
        try:
            return super().resolve_command(ctx, args)
        except _click.exceptions.UsageError as error:
            typo = args[0] if args else ""
            if typo and not typo.startswith("-") and "Did you mean" not in error.message:
                from difflib import get_close_matches

                matches = get_close_matches(typo, self.list_commands(ctx))
                if matches:
                    names = ", ".join(repr(name) for name in matches)  # as Typer's
                    error.message = f"{error.message.rstrip('.')}. Did you mean {names}?"
            raise

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        lazy = COMMANDS.get(cmd_name)
        if lazy is not None:
            loaded = self.__dict__.setdefault("_loaded", {})  # built once per run
            if cmd_name not in loaded:
                loaded[cmd_name] = load_command(cmd_name, lazy)
            return loaded[cmd_name]
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        del ctx  # the summaries are static: listing commands must not import them
        rows = [(name, lazy.summary) for name, lazy in COMMANDS.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    # Typer turns every EPIPE into a bare exit 1 (an "unexpected error" here) before
    # ``main`` could see it, so a closed stdout pipe is carried past Typer in an
    # exception of its own, from parsing (--help, --version) and from the command.
    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError as error:
            raise ReaderGone from error

    def invoke(self, ctx: Any) -> Any:
        # The subcommand's words, which Click clears before the group's callback runs.
        ctx.meta["vibeimg.rest"] = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except BrokenPipeError as error:
            raise ReaderGone from error

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
        from vibeimg.cli.interrupts import signals_as_interrupt
        from vibeimg.cli.stdout import StdoutError, guarded_stdout

        argv = list(args) if args is not None else sys.argv[1:]
        if sys.stderr is None:  # 2>&-: warnings go nowhere, and fd 2 holds no file of ours
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115, PTH123 - lives until exit
        try:
            with signals_as_interrupt(then_ignore=_process.exits_after), guarded_stdout():
                result = super().main(args, prog_name, complete_var, False, **extra)
                sys.stdout.flush()  # a reader gone away is found here, not at exit
        except (ReaderGone, BrokenPipeError):
            # The reader went away (| head): stop quietly, as a tool killed by SIGPIPE.
            detach_stdout()
            sys.exit(int(ExitCode.BROKEN_PIPE))
        except StdoutError as error:  # > /dev/full, >&-: say so, once
            code = exit_code_for(error)
            detach_stdout()  # what is left in its buffer would fail again at exit
            sys.exit(code)
        except Exception as error:
            sys.exit(exit_code_for(error, argv))
        except KeyboardInterrupt as error:
            sys.exit(exit_code_for(error))
        if result == ExitCode.INTERRUPTED:  # Typer turned a Ctrl-C into this code
            Reporter().error("interrupted")
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    name="vibeimg",
    cls=VibeimgGroup,
    help="Generate and edit images with gpt-image-2 from the shell.\n\n"
    "Results go to stdout (saved paths, or JSON with --json); progress and warnings to "
    "stderr. Add --offline to any command to run it against the built-in emulator: no "
    "key, no network, no cost.",
    no_args_is_help=False,  # 'vibeimg' alone: VibeimgGroup.parse_args prints the help
    add_completion=False,  # VibeimgGroup has its own options, which take a shell name
    pretty_exceptions_show_locals=False,  # keys live in locals
    # Plain help: Rich's help renderer alone costs more start-up time than Typer itself.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vibeimg {__version__}")
        raise typer.Exit()


# Commands that take no option defaults from the config file (and must work when the
# file is broken, to help repair it).
NO_OPTION_DEFAULTS = frozenset({"config", "doctor", "help", "history", "mock-server",
                                "preview"})


# Commands that say nothing of unknown keys in the config file: doctor reports them as
# one of its checks, and the others never read the file.
NO_FILE_WARNING = frozenset({"doctor", "help", "history", "mock-server", "preview"})


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Generate and edit images with gpt-image-2 from the shell."""
    del version  # handled by its eager callback
    name = ctx.invoked_subcommand
    if not name or ctx.resilient_parsing or name in NO_FILE_WARNING:
        return
    from vibeimg.settings.folders import read_config_file

    try:
        # Option defaults (model, size, out-dir...) from the config file, ranked by Click
        # below the flag and the option's environment variable.
        table = read_config_file()
        if not table:  # no file (or an empty one): no defaults, no unknown keys
            return  # and none of the code that checks settings is imported
        from vibeimg.cli.notices import leave_config_warning
        from vibeimg.settings import configfile

        if name not in NO_OPTION_DEFAULTS:
            command = ctx.command.get_command(ctx, name)  # type: ignore[attr-defined]
            ctx.default_map = {name: configfile.defaults_for(getattr(command, "params", []),
                                                             table)}
    except VibeimgError:
        # 'config' works with a broken file, to repair it; help always shows (the
        # problem is said when the command runs).
        if name in NO_OPTION_DEFAULTS or _asks_for_help(ctx):
            return
        raise
    leave_config_warning(ctx, configfile.unknown_keys_note(table))


def _asks_for_help(ctx: typer.Context) -> bool:
    """Whether the command line asks for the subcommand's help (before any ``--``)."""
    rest = list(ctx.meta.get("vibeimg.rest", []))
    if "--" in rest:
        rest = rest[: rest.index("--")]
    return "--help" in rest or "-h" in rest


class _Process:
    """What the running process is: the console script exits right after its command."""

    exits_after = False


_process = _Process()


def main() -> None:
    """The console script."""
    _process.exits_after = True
    app(prog_name="vibeimg")
