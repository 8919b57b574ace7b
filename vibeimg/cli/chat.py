"""``vibeimg chat``: refine images in a conversation, one line per turn.

On a terminal: a read-eval loop with line editing and history (the standard library's
``readline``), chat-stream's live progress for each turn and a thumbnail of each image.
Ctrl-C cancels the turn in progress (its temporary files are removed, the session is
as it was) or clears the line being typed; Ctrl-D or ``/quit`` leaves. Piped: one
prompt (or slash command) per line, run in order, the saved paths on stdout; the first
failure stops it with its exit code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vibeimg.cli import options as opt
from vibeimg.cli.chat_shell import COMMANDS, ChatShell, Quit
from vibeimg.cli.chat_stream import (
    SESSION,
    ContinueLast,
    Instructions,
    ProgressMode,
    SessionName,
    TextModel,
)
from vibeimg.cli.common import Connection
from vibeimg.errors import Interrupted, UsageError, VibeimgError
from vibeimg.jobs.chat import DEFAULT_INSTRUCTIONS, DEFAULT_TEXT_MODEL
from vibeimg.ui import Reporter, is_terminal

HISTORY_LINES = 1000
ChatContext = Annotated[Optional[str], typer.Option(
    "--context", metavar="last|all|N", show_default=False,
    autocompletion=opt._choices(("last", "all", "0", "1", "2")),
    help="Earlier images sent with each turn: the last turn's, all, or the N most recent "
    "(0: words alone) [default: last; none after /use]. Earlier images cost input tokens.",
    rich_help_panel=SESSION)]
Action = Annotated[str, typer.Option(
    "--action", metavar="auto|generate|edit",
    autocompletion=opt._choices(("auto", "generate", "edit")),
    help="Let the model choose, force a new image, or force an edit of the image refined.",
    rich_help_panel=SESSION)]
Thumbnails = Annotated[bool, typer.Option(
    "--preview/--no-preview",
    help="Show a thumbnail of each image after its turn, where stderr is a terminal.",
    rich_help_panel=opt.OUTPUT)]


def chat(
    ctx: typer.Context,
    session_name: SessionName = None,
    continue_last: ContinueLast = False,
    context: ChatContext = None,
    model: TextModel = DEFAULT_TEXT_MODEL,
    instructions: Instructions = None,
    action: Action = "auto",
    size: opt.SizeOpt = "auto",
    quality: opt.Quality = "auto",
    output_format: opt.Format = "png",
    compression: opt.Compression = None,
    moderation: opt.Moderation = "auto",
    out_dir: opt.OutDir = None,
    no_sidecar: opt.NoSidecar = False,
    ascii_names: opt.AsciiNames = False,
    progress: ProgressMode = "auto",
    preview: Thumbnails = True,
    history: opt.History = True,
    offline: opt.Offline = False,
    base_url: opt.BaseUrl = None,
    api_key: opt.ApiKey = None,
    timeout: opt.Timeout = None,
    retries: opt.Retries = None,
    retry_unknown: opt.RetryUnknown = False,
    verbose: opt.Verbose = False,
    quiet: opt.Quiet = False,
) -> None:
    """Refine images in a conversation, turn by turn.

    Each line you type is a turn: the earlier turns' words and the last turn's images are sent with it (POST /responses, streamed), and the new images are named SESSION-TURN-N. Slash commands: /new, /undo, /images, /use PATH, /context, /size, /quality, /format, /cost, /save NAME, /help, /quit. Ctrl-C cancels a turn in progress, Ctrl-D leaves. The conversation is the one 'chat-stream --session NAME' continues. Piped, each line of stdin is a turn and the saved paths are printed.

    Examples:

    \b
      vibeimg chat --offline
      vibeimg chat --session coast --quality low
      printf 'a lighthouse at dawn\\nnow make it night\\n' | vibeimg chat --session coast
    """
    from vibeimg.cli.chat_turns import chosen_session, given_options
    from vibeimg.jobs.chat.session import TurnSettings, parse_context
    from vibeimg.params import check_choice
    from vibeimg.records import sessions

    connection = Connection(
        offline=offline, base_url=base_url, api_key=api_key, timeout=timeout,
        retries=retries, retry_unknown=retry_unknown, verbose=verbose, quiet=quiet)
    reporter = connection.reporter()
    name = chosen_session(session_name, continue_last)
    settings = TurnSettings(
        size=size, quality=quality, output_format=output_format, compression=compression,
        moderation=moderation, action=action, model=model,
        instructions=DEFAULT_INSTRUCTIONS if instructions is None else instructions)
    if name is not None and sessions.exists(name):
        settings = settings.inherit(sessions.load(name), given_options(ctx))
    mode = check_choice("progress", progress.lower(), ("auto", "live", "plain", "jsonl", "off"))
    reporter.json_lines = mode == "jsonl"
    shell = ChatShell(
        reporter=reporter, connection=connection, name=name, settings=settings.checked(),
        context=parse_context(context) if context is not None else None, out_dir=out_dir,
        sidecar=not no_sidecar, progress=mode, preview=preview, history=history,
        ascii_names=ascii_names)
    from vibeimg.cli.common import session

    interactive = is_terminal(sys.stdin)
    with session(connection, reporter, shell.show_retry) as client, _terminating(shell):
        shell.client = client
        if interactive:
            _interactive(shell, reporter)
        else:
            _piped(shell)


@contextlib.contextmanager
def _terminating(shell: ChatShell) -> Iterator[None]:
    """SIGTERM and SIGHUP cancel the turn as Ctrl-C does, then end the chat (exit 130)."""
    from vibeimg.cli.interrupts import INTERRUPTING

    def stop(signum: int, frame: Any) -> None:
        del signum, frame
        shell.terminated = True
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave them
        for signum in INTERRUPTING:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _piped(shell: ChatShell) -> None:
    """One prompt or slash command per line of stdin; the first failure ends the run."""
    from vibeimg.cli.common import MAX_PROMPT_BYTES
    from vibeimg.params import decode_prompt

    stream = getattr(sys.stdin, "buffer", None)
    # A line is read no further than a prompt can be: an endless one is refused.
    lines = iter(lambda: stream.readline(MAX_PROMPT_BYTES + 1), b"") if stream is not None \
        else (line.encode("utf-8", "surrogateescape") for line in sys.stdin)
    for number, raw in enumerate(lines, start=1):
        if len(raw) > MAX_PROMPT_BYTES:
            raise UsageError(f"line {number} of stdin is more than {MAX_PROMPT_BYTES:,} "
                             "bytes, longer than any prompt can be", hint="shorten it")
        text = decode_prompt(raw, f"line {number} of stdin")
        try:
            error = shell.handle(text)
        except Quit:
            return
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None
        if error is not None:
            raise error


def _interactive(shell: ChatShell, reporter: Reporter) -> None:
    """The read-eval loop: a bad line or a failed turn is said, and the loop goes on."""
    from vibeimg.cli.stdout import StdoutError

    read = _line_reader(shell)
    if not reporter.quiet:
        where = f"session {shell.name}" if shell.name else "a new conversation"
        reporter.info(f"{where}: type a prompt, /help for commands, Ctrl-D to leave")
    while True:
        try:
            line = read(shell.prompt)
        except EOFError:  # Ctrl-D
            sys.stderr.write("\n")
            return
        except KeyboardInterrupt:  # Ctrl-C while typing: a fresh line, as shells do
            if shell.terminated:
                raise Interrupted("interrupted") from None
            sys.stderr.write("\n")
            continue
        try:
            error = shell.handle(line)
        except Quit:
            return
        except StdoutError:
            raise
        except KeyboardInterrupt:
            error = Interrupted("cancelled", hint="the conversation is as it was")
        except VibeimgError as exc:
            error = exc
        if shell.terminated:
            raise Interrupted("interrupted")
        if isinstance(error, Interrupted):  # asked for: no error
            reporter.info(error.one_line())
        elif error is not None and not error.reported:
            reporter.error(error.one_line())


def _line_reader(shell: ChatShell) -> Callable[[str], str]:
    """``input`` with line editing and a private history file, where readline exists.

    The prompt goes where the typing is seen: stdout when it is the terminal, else
    stderr (stdout then carries the saved paths alone).
    """
    history_file = _history_file() if shell.history else None
    readline: Any = None
    with contextlib.suppress(ImportError):  # Windows has none: plain input still works
        import readline as gnu_readline

        readline = gnu_readline
    if readline is not None:
        readline.set_completer(_complete)
        readline.set_completer_delims(" ")
        readline.parse_and_bind("tab: complete")
        readline.set_history_length(HISTORY_LINES)
        if history_file is not None:
            with contextlib.suppress(OSError):
                readline.read_history_file(history_file)

    to_stdout = is_terminal(sys.stdout)

    def read(prompt: str) -> str:
        if to_stdout:
            line = input(prompt)
        else:
            sys.stderr.write(prompt)
            sys.stderr.flush()
            line = input()
        if readline is not None and history_file is not None:
            _save_history(readline, history_file)
        return line

    return read


def _history_file() -> Path:
    from vibeimg.settings.resolve import data_dir

    return data_dir() / "chat_history"


def _save_history(readline: Any, path: Path) -> None:
    """The typed lines, kept private (mode 0600) as the history database is."""
    from vibeimg.settings.resolve import make_private_folder

    with contextlib.suppress(OSError):
        make_private_folder(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        readline.write_history_file(str(path))


def _complete(text: str, state: int) -> str | None:
    """Tab completes slash commands."""
    matches = [c for c in COMMANDS if c.startswith(text)] if text.startswith("/") else []
    return matches[state] if state < len(matches) else None
