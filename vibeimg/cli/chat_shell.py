"""The state of ``vibeimg chat`` and what each line does: a turn, or a slash command.

A line is a prompt (a turn of the conversation, with chat-stream's progress view) or a
slash command. The conversation itself lives in the core (``vibeimg.records.sessions``,
``vibeimg.jobs.chat.session``): this only keeps what the next turn will use (the
session's name, the options, an image chosen with ``/use``) and renders.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.cli.common import Connection
from vibeimg.cli.stdout import print_paths
from vibeimg.errors import Interrupted, UsageError, VibeimgError
from vibeimg.ui import Reporter
from vibeimg.units import count_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from vibeimg.cli.chat_progress import Progress
    from vibeimg.jobs.chat.session import TurnSettings
    from vibeimg.records.transcript import Transcript
    from vibeimg.wire.client import GatewayClient
    from vibeimg.wire.retry import RetryWait

HELP = """\
Type what you want; each line is a turn that refines the last image ("//" starts a
prompt that begins with "/").
  /new [NAME]      start a new conversation (named after its first prompt if no NAME)
  /undo            drop the last turn (its files stay)
  /images          list this conversation's images
  /use PATH        refine the image PATH instead of the last one (next turn)
  /context [last|all|N]   earlier images sent with each turn
  /size [SIZE]     image size (auto, 1024x1024, landscape...); alone: show it
  /quality [Q]     low, medium, high or auto
  /format [F]      png, jpeg or webp
  /cost            what this conversation has cost so far
  /save NAME       copy the last image to NAME
  /help            this list
  /quit            leave (Ctrl-D too); Ctrl-C cancels a turn in progress"""

COMMANDS = ("/new", "/undo", "/images", "/use", "/context", "/size", "/quality", "/format",
            "/cost", "/save", "/help", "/quit", "/exit")


class Quit(Exception):
    """/quit: leave the loop."""


class ChatShell:
    """What the next turn will use, and the handling of each line."""

    def __init__(self, *, reporter: Reporter, connection: Connection, name: str | None,
                 settings: TurnSettings, context: str | None, out_dir: Path | None,
                 sidecar: bool, progress: str, preview: bool, history: bool,
                 ascii_names: bool = False) -> None:
        self.reporter = reporter
        self.connection = connection
        self.name = name
        self.settings = settings
        self.context = context
        self.out_dir = out_dir
        self.sidecar = sidecar
        self.progress = progress
        self.preview = preview
        self.history = history
        self.ascii_names = ascii_names  # a new conversation's name from its prompt, in ASCII
        self.use: list[Path] = []
        self.client: GatewayClient | None = None
        self.display: Progress | None = None
        self.terminated = False  # SIGTERM or SIGHUP: leave after the turn is cancelled

    @property
    def prompt(self) -> str:
        return f"{self.name or 'vibeimg'}> "

    def show_retry(self, retry: RetryWait) -> None:
        if self.display is not None:
            self.display.retrying(retry)

    def transcript(self) -> Transcript | None:
        from vibeimg.records import sessions

        if self.name is None or not sessions.exists(self.name):
            return None
        return sessions.load(self.name)

    # -- a line ------------------------------------------------------------------------
    def handle(self, line: str) -> VibeimgError | None:
        """Run one line; returns the error a turn ended with (raised for a bad command)."""
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        if not text.startswith("/") or text.startswith("//"):  # "//x": a prompt "/x"
            return self.turn(text[1:] if text.startswith("//") else text)
        word, _, argument = text.partition(" ")
        command: Callable[[str], None] | None = getattr(
            self, "do_" + word[1:].lower(), None) if word.lower() in COMMANDS else None
        if command is None:
            raise UsageError(f"unknown command {word}", hint="/help lists the commands")
        command(argument.strip())
        return None

    def say(self, message: str) -> None:
        """A confirmation: on stderr, so stdout keeps the results alone."""
        self.reporter.info(message)

    # -- slash commands ----------------------------------------------------------------
    def do_help(self, _: str) -> None:
        sys.stdout.write(HELP + "\n")
        sys.stdout.flush()

    def do_quit(self, _: str) -> None:
        raise Quit

    do_exit = do_quit

    def do_new(self, argument: str) -> None:
        from vibeimg.records import sessions

        if argument:
            name = sessions.check_session_name(argument)
            if sessions.exists(name):
                raise UsageError(f"a session {name} exists already",
                                 hint=f"choose another name, or resume it with "
                                      f"'vibeimg chat --session {name}'")
            self.name = name
        else:
            self.name = None
        self.use = []
        self.say(f"a new conversation{f' {self.name}' if self.name else ''}: the next "
                 "prompt starts it")

    def do_undo(self, _: str) -> None:
        from vibeimg.cli.chat_turns import undo_last_turn

        if self.transcript() is None:
            raise UsageError("this conversation has no turn to undo yet")
        undo_last_turn(self.name or "", self.reporter, json_output=False)

    def do_images(self, _: str) -> None:
        from vibeimg.cli.chat_turns import print_lines
        from vibeimg.cli.session_view import image_lines

        transcript = self.transcript()
        lines = image_lines(transcript) if transcript is not None else []
        print_lines(lines or ["(no image yet)"])

    def do_use(self, argument: str) -> None:
        from vibeimg.jobs.chat.request import check_chat_input_image

        if not argument:
            self.use = []
            self.say("the next turn refines the last image again")
            return
        path = Path(argument).expanduser()
        check_chat_input_image(path)
        self.use = [path]
        self.say(f"the next turn refines {path} instead of the last image")

    def do_context(self, argument: str) -> None:
        from vibeimg.jobs.chat.session import parse_context

        if argument:
            self.context = parse_context(argument)
        self.say(f"context: {self.context or 'last'} (earlier images cost input tokens)")

    def _option(self, field: str, label: str, argument: str) -> None:
        if argument:
            values: dict[str, Any] = {field: argument}
            changed = replace(self.settings, **values).checked()
            if field == "output_format" and changed.output_format == "png":
                changed = replace(changed, compression=None)  # png takes none
            self.settings = changed
        self.say(f"{label}: {getattr(self.settings, field)}")

    def do_size(self, argument: str) -> None:
        self._option("size", "size", argument)

    def do_quality(self, argument: str) -> None:
        self._option("quality", "quality", argument.lower())

    def do_format(self, argument: str) -> None:
        self._option("output_format", "format", argument.lower())

    def do_cost(self, _: str) -> None:
        from vibeimg.cli.chat_turns import print_lines
        from vibeimg.cli.session_view import cost_text, tokens_text

        transcript = self.transcript()
        if transcript is None:
            print_lines(["nothing spent yet"])
            return
        # The spend counts every turn sent, undone ones too (they were billed): say so.
        extra = len(transcript.turns) - len(transcript.live_turns)
        more = f" ({extra} more undone, failed or cancelled: counted in the spend)" \
            if extra else ""
        print_lines([f"session {transcript.name}: {count_of(len(transcript.live_turns), 'turn')}"
                     f"{more}, {count_of(len(transcript.images), 'image')}; "
                     f"{cost_text(transcript)}; {tokens_text(transcript)}"])

    def do_save(self, argument: str) -> None:
        from vibeimg.files.atomic import write_atomically

        transcript = self.transcript()
        images = transcript.images if transcript is not None else []
        if not argument:
            raise UsageError("/save needs a file name", hint="/save best.png")
        if not images:
            raise UsageError("there is no image to save yet")
        source = images[-1]
        target = Path(argument).expanduser()
        if not target.suffix:
            target = target.with_suffix(source.suffix)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror or exc}",
                             hint="it was moved or deleted; /images lists the others") from exc
        try:
            saved = write_atomically(target, data, overwrite=False)
        except FileExistsError:
            raise UsageError(f"{target} exists already", hint="choose another name") from None
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}",
                             hint="check the folder exists and is writable") from exc
        print_paths([saved])

    # -- a turn ------------------------------------------------------------------------
    def turn(self, prompt: str) -> VibeimgError | None:
        """Run one turn; returns its error (after saying it), None when it went well."""
        from vibeimg.cli.chat_progress import (
            JsonlProgress,
            PlainProgress,
            make_progress,
            summary_line,
        )
        from vibeimg.cli.chat_turns import record_turn_or_warn
        from vibeimg.cli.preview_cmd import preview_saved
        from vibeimg.cli.recording import RunRecord
        from vibeimg.files.naming import NamePlan, slugify
        from vibeimg.files.writable import ensure_output_dir
        from vibeimg.jobs.chat.run import run_chat_stream
        from vibeimg.jobs.chat.session import plan_turn
        from vibeimg.jobs.entries import chat_run_entry
        from vibeimg.records import sessions
        from vibeimg.records.pricing import price_of

        name = self.name or sessions.fresh_name(
            slugify(prompt, 32, ascii_only=self.ascii_names))
        transcript = sessions.load(name, create=True)
        plan = plan_turn(transcript, prompt, self.settings, context=self.context,
                         images=self.use)
        names = NamePlan.build(plan.name_template, self.out_dir,
                               count=plan.request.expected_images)
        ensure_output_dir(names.directory)
        display = make_progress(self.progress, self.reporter, plan.request)
        self.display = display
        display.notice(plan.summary())
        for notice in plan.notices:
            display.notice(notice, warning=True)
        client = self.client
        if client is None:  # set by the command before the first line is read
            raise RuntimeError("the chat has no connection")
        # In the history before the request goes out (a kill leaves what it may cost).
        record = RunRecord(self.reporter, self.history, chat_run_entry(
            request=plan.request, offline=client.offline), price_of(
                plan.request.options.size, plan.request.options.quality).times(
                plan.request.expected_images), offline=lambda: client.offline)
        with record:
            try:
                with display:
                    result = run_chat_stream(client, plan.request, plan=names,
                                             sidecar=self.sidecar, listener=display,
                                             before_send=record.before_send)
            except VibeimgError as error:  # refused or unreachable before any stream
                # offline too when the base URL answered as vibeimg's emulator
                record.finish(chat_run_entry(
                    request=plan.request, offline=client.offline, error=error))
                raise
            finally:
                self.display = None
            self.name, self.use = name, []  # the conversation exists from its first turn
            result.offline = result.offline or client.offline
            record.finish(chat_run_entry(
                request=plan.request, offline=result.offline, result=result))
        unrecorded = record_turn_or_warn(plan, result, offline=result.offline,
                                         reporter=self.reporter)
        display.finished(result)
        print_paths([image.path for image in result.images])
        preview_saved([image.path for image in result.images], self.reporter,
                      enabled=self.preview)
        if isinstance(display, PlainProgress):
            self.reporter.progress(summary_line(result))
        elif not isinstance(display, JsonlProgress):
            self.reporter.note(summary_line(result))
        if isinstance(result.error, Interrupted):
            saved = len(result.images)
            kept = (f": {count_of(saved, 'image')} saved before it stay on disk, outside the "
                    "conversation" if saved else "")
            return Interrupted(f"turn {plan.number} cancelled{kept}",
                               hint="the conversation is as it was")
        return result.error or unrecorded
