"""``vibeimg history``: recent runs, one run in full, full-text search, estimated spend."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from vibeimg.cli.command import VibeimgCommand, VibeimgSubgroup
from vibeimg.cli.stdout import print_json
from vibeimg.errors import UsageError
from vibeimg.ui import is_terminal, printable

if TYPE_CHECKING:
    from vibeimg.records.history import History
    from vibeimg.records.runs import Entry

COMMANDS = ("generate", "edit", "chat-stream", "batch")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
Limit = Annotated[int, typer.Option(
    "--limit", "-n", min=1, metavar="N", help="How many runs to show, newest first.")]

history_app = typer.Typer(
    cls=VibeimgSubgroup,
    name="history",
    help="Find past runs: prompts, files, request ids, costs.\n\n"
    "Without a subcommand, lists recent runs, newest first: id, time, command, outcome, "
    "images, estimated cost, prompt. A turn of a conversation shows its session and "
    "turn before the prompt; 'vibeimg history sessions' lists the conversations and "
    "'vibeimg history show NAME' shows one's turns.\n\n"
    "Every generate, edit, chat-stream and batch item is recorded in a private SQLite "
    "database (never the key). Turn it off with --no-history or "
    "'vibeimg config set history false'.",
    invoke_without_command=True,
    add_completion=False,  # the root command has the completion options
    rich_markup_mode=None,  # plain help, as every command (start-up time)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _local_time(created: str, seconds: bool = False) -> str:
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return created
    return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _cost(entry: Entry) -> str:
    """The listing's cost column: ``offline`` (nothing billed), ``~$0.844`` when extrapolated,
    ``<=$0.633`` for a run killed (or going on) with requests of unknown outcome."""
    if entry.offline:
        return "offline"
    if entry.outcome in ("killed", "running") and entry.possible_cost_usd:
        return f"<=${entry.possible_cost_usd + entry.estimated_cost_usd:.3f}"
    return ("~" if entry.cost_extrapolated else "") + f"${entry.estimated_cost_usd:.3f}"


def _cost_in_full(entry: Entry) -> str:
    """What 'history show' says of the cost: the figure, and what kind of figure it is."""
    figure = f"${entry.estimated_cost_usd:.4f}"
    if entry.cost_extrapolated:
        figure += (" (extrapolated: a size outside the published price table, priced from "
                   "the nearest shape by pixels)")
    if entry.offline:
        return f"none: offline emulator, nothing billed (would be {figure})"
    return figure


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _columns(text: str) -> int:
    """Terminal columns: Chinese, Japanese and Korean characters and emoji take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut_to_columns(text: str, columns: int) -> str:
    import unicodedata

    used = 0
    for index, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used > columns:
            return text[:index]
    return text


def _print_entries(entries: list[Entry], json_output: bool) -> None:
    if json_output:
        print_json({"runs": [e.as_json() for e in entries]})
        return
    width = shutil.get_terminal_size().columns if is_terminal(sys.stdout) else 0
    if width and entries:  # a person reads the columns; a script reads the rows alone
        sys.stdout.write(f"{'ID':>5}  {'TIME':<16}  {'COMMAND':<11} {'OUTCOME':<11} "
                         f"{'IMAGES':>6}  {'COST':>8}  PROMPT\n")
    for entry in entries:
        head = (f"{entry.id:>5}  {_local_time(entry.created)}  {entry.command:<11} "
                f"{entry.outcome:<11} {entry.images:>2} img  {_cost(entry):>8}  ")
        head = printable(head)  # a command or outcome from a database edited by hand
        prompt = _one_line(entry.prompt)
        if isinstance(entry.parameters.get("session"), str):  # a turn of a conversation
            prompt = f"[{entry.parameters['session']} {entry.parameters.get('turn', '?')}] {prompt}"
        prompt = printable(prompt)
        if width and len(head) + _columns(prompt) > width:
            prompt = _cut_to_columns(prompt, max(10, width - len(head) - 1)) + "…"
        sys.stdout.write(head + prompt + "\n")
    sys.stdout.flush()


def _open(create: bool = False) -> History:
    from vibeimg.records.history import History

    return History(create=create)


@history_app.callback()
def history_list(
    ctx: typer.Context,
    limit: Limit = 20,
    command: Annotated[Optional[str], typer.Option(
        "--command", metavar="|".join(COMMANDS), show_default=False,
        autocompletion=lambda incomplete: [c for c in COMMANDS if c.startswith(incomplete)],
        help="Only runs of this command.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """List recent runs, newest first: id, time, command, outcome, images, cost, prompt.

    Examples:

      vibeimg history -n 5

      vibeimg history search otter

      vibeimg history show 12

      vibeimg history sessions

      vibeimg history show coast

      vibeimg history cost --since 7d
    """
    if ctx.invoked_subcommand is not None:
        return
    if command is not None and command not in COMMANDS:
        raise UsageError(f"unknown command {command!r}", hint=f"use one of {', '.join(COMMANDS)}")
    with _open() as history:
        entries = history.recent(limit, command)
    _print_entries(entries, json_output)
    if not entries:  # said on stderr, as search says no match: stdout stays rows only
        sys.stderr.write(f"no {command} run in the history yet\n" if command else
                         "the history is empty: runs are recorded as they are made "
                         "(try: vibeimg generate \"a watercolor otter\" --offline)\n")


def _session_names(incomplete: str) -> list[str]:
    from vibeimg.cli.chat_stream import complete_session_name

    return complete_session_name(incomplete)


@history_app.command("show", cls=VibeimgCommand)
def history_show(
    which: Annotated[str, typer.Argument(
        metavar="ID|SESSION", help="A run's id, or a conversation's name.",
        autocompletion=_session_names)],
    json_output: JsonFlag = False,
) -> None:
    """Show one run, or one conversation's turns, in full.

    A run: prompt, revised prompt, parameters, saved files, request ids, usage, estimated cost. A conversation (chat-stream --session, vibeimg chat): each turn's prompt, what was sent with it, its images, revised prompts and cost.
    """
    if not which.strip().isdigit():
        _show_session(which, json_output)
        return
    entry_id = int(which)
    from json import dumps as json_dumps

    with _open() as history:
        entry = history.get(entry_id)
    if entry is None:
        raise UsageError(f"no run with id {entry_id} in the history",
                         hint="list the ids with 'vibeimg history'")
    if json_output:
        print_json(entry.as_json())
        return
    rows: list[tuple[str, Any]] = [
        ("id", entry.id),
        ("time", _local_time(entry.created, seconds=True)),
        ("command", entry.command),
        ("outcome", entry.outcome),
        ("error", entry.error),
        ("prompt", entry.prompt),
        ("revised prompt", entry.revised_prompt),
        ("model", entry.model),
        ("parameters", " ".join(f"{k}={v}" for k, v in entry.parameters.items())),
        ("images", entry.images),
        *[("output", path) for path in entry.outputs],
        *[("request id", rid) for rid in entry.request_ids],
        ("usage", json_dumps(entry.usage) if entry.usage else None),
        ("estimated cost", _cost_in_full(entry)),
        ("requests sent", entry.requests_sent),
        ("possible cost", f"${entry.possible_cost_usd:.4f} (may have been billed, no image "
         "received)" if entry.possible_cost_usd and not entry.offline else None),
        ("elapsed", None if entry.elapsed_seconds is None else f"{entry.elapsed_seconds:.1f} s"),
    ]
    for label, value in rows:
        if value is None or value == "":
            continue
        # Several revised prompts are several lines; any other control is shown escaped.
        text = printable(str(value), newlines=True).replace("\n", "\n" + " " * 16)
        sys.stdout.write(f"{label:<15} {text}\n")


def _show_session(name: str, json_output: bool) -> None:
    from vibeimg.cli.session_view import session_lines
    from vibeimg.records import sessions

    transcript = sessions.load(name)
    if json_output:
        print_json({"session": transcript.name, "created": transcript.created,
                    "path": str(sessions.transcript_path(name)),
                    "turns": [turn.as_json() for turn in transcript.turns]})
        return
    lines = session_lines(transcript, sessions.transcript_path(name))
    sys.stdout.write("".join(printable(line, newlines=True) + "\n" for line in lines))


@history_app.command("sessions", cls=VibeimgCommand)
def history_sessions(
    limit: Limit = 20,
    json_output: JsonFlag = False,
) -> None:
    """List conversations, most recent first: name, time, turns, images, cost, last prompt.

    Conversations are kept by 'chat-stream --session NAME' and 'vibeimg chat'; 'vibeimg history show NAME' shows one's turns.
    """
    from vibeimg.cli.session_view import summary_json, summary_line
    from vibeimg.records import sessions
    from vibeimg.ui import Reporter

    shown: list[Any] = []
    for info in sessions.list_sessions()[:limit]:
        try:
            transcript = sessions.load(info.name)
        except UsageError as exc:  # one damaged file does not hide the others
            Reporter().warn(exc.one_line())
            continue
        shown.append(summary_json(info, transcript) if json_output
                     else summary_line(transcript))
    if json_output:
        print_json({"sessions": shown})
        return
    sys.stdout.write("".join(printable(line) + "\n" for line in shown))
    sys.stdout.flush()


@history_app.command("search", cls=VibeimgCommand)
def history_search(
    words: Annotated[list[str], typer.Argument(
        metavar="TEXT...", help="Words that must all appear in the prompt or revised prompt.")],
    limit: Limit = 20,
    json_output: JsonFlag = False,
) -> None:
    """Find runs by words of their prompts, in any language.

    Every word must appear in the prompt or the revised prompt, anywhere inside it: otter finds otters, 水獭 finds 一只水彩风格的水獭, and emoji are searched too. No match is said on stderr, with exit code 0.
    """
    text = " ".join(words)
    with _open() as history:
        entries = history.search(text, limit)
        empty = not entries and history.count() == 0
    _print_entries(entries, json_output)
    if not entries:  # repr: a control character typed in the query is shown, not sent
        sys.stderr.write("the history is empty: no run to search\n" if empty else
                         f"no run in the history matches {text!r}\n")


@history_app.command("cost", cls=VibeimgCommand)
def history_cost(
    since: Annotated[Optional[str], typer.Option(
        "--since", metavar="DATE", show_default=False,
        help="From this local date or time: YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, "
        "yesterday, 7d, 2w [default: all time].")] = None,
    until: Annotated[Optional[str], typer.Option(
        "--until", metavar="DATE", show_default=False,
        help="Up to (not including) this date or time.")] = None,
    include_offline: Annotated[bool, typer.Option(
        "--include-offline",
        help="Count runs against the emulator (--offline, mock-server) in the totals too, "
        "at what they would cost: a rehearsal's bill.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Total the estimated spend.

    Runs against the emulator (--offline, or a mock-server base URL) cost nothing: they are left out and counted apart, unless --include-offline. Estimates follow the gateway's published per-image prices (auto quality counts as high); sizes outside that table are extrapolated by pixels, and the total says so.
    """
    from vibeimg.records.periods import parse_since

    start = parse_since(since) if since else None
    end = parse_since(until) if until else None
    with _open() as history:
        summary = history.cost(start, end, include_offline=include_offline)
    if json_output:
        print_json(summary.as_json())
        return
    period = f" since {since}" if since else ""
    period += f" until {until}" if until else ""
    included = ", offline runs included" if include_offline else ""
    sys.stdout.write(f"${summary.estimated_cost_usd:.3f} estimated for "
                     f"{_plural(summary.runs, 'run')} ({_plural(summary.images, 'image')}"
                     f"{included}){period}\n")
    for command, amount in sorted(summary.by_command.items()):
        sys.stdout.write(f"  {printable(command):<12} ${amount:.3f}\n")
    if summary.possible_cost_usd:
        sys.stdout.write(f"  plus up to ${summary.possible_cost_usd:.3f} possibly billed with no "
                         "image received (outcome unknown, or an answer that was unusable)\n")
    if summary.killed_runs:
        sys.stdout.write(f"  of which up to ${summary.killed_possible_cost_usd:.3f} from "
                         f"{_plural(summary.killed_runs, 'killed run')} (their process ended "
                         "before they did: each request sent, outcome unknown)\n")
    if summary.running_runs:
        sys.stdout.write(f"  ({_plural(summary.running_runs, 'run')} in progress: the requests "
                         "sent so far are counted as possibly billed)\n")
    if summary.extrapolated_runs:
        sys.stdout.write(f"  ({_plural(summary.extrapolated_runs, 'run')} priced by "
                         "extrapolation: sizes outside the published price table)\n")
    if summary.offline_runs and not include_offline:
        sys.stdout.write(f"  ({_plural(summary.offline_runs, 'offline run')} left out, nothing "
                         f"billed; ${summary.offline_estimated_cost_usd:.3f} with "
                         "--include-offline)\n")


@history_app.command("path", cls=VibeimgCommand)
def history_path() -> None:
    """Print the history database's path."""
    from vibeimg.records.history import database_path

    sys.stdout.write(f"{database_path()}\n")
