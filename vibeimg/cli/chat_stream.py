"""``vibeimg chat-stream``: a text model calls the image tool (POST /responses, streamed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Optional

import typer

from vibeimg.cli import options as opt
from vibeimg.errors import Interrupted, UsageError, VibeimgError
from vibeimg.jobs.chat import DEFAULT_INSTRUCTIONS, DEFAULT_TEXT_MODEL, MAX_IMAGES
from vibeimg.ui import Reporter

if TYPE_CHECKING:
    from vibeimg.cli.chat_progress import Progress
    from vibeimg.cli.common import Connection
    from vibeimg.files.naming import NamePlan
    from vibeimg.jobs.chat.request import ChatStreamRequest
    from vibeimg.jobs.chat.result import ChatStreamResult
    from vibeimg.jobs.chat.session import TurnPlan
    from vibeimg.wire.client import GatewayClient

CHAT = "Chat options"
Prompt = Annotated[Optional[str], typer.Argument(
    metavar="PROMPT", help="What you want, in plain words; '-' reads it from stdin.",
    show_default=False)]
Images = Annotated[Optional[list[Path]], typer.Option(
    "--image", "-i", metavar="IMAGE", show_default=False, dir_okay=False,
    autocompletion=opt.complete_image_path,
    help="An input image (png, jpeg or webp, at most 50 MB) sent with the prompt; repeatable.",
    rich_help_panel=CHAT)]
TextModel = Annotated[str, typer.Option(
    "--model", "-m", metavar="NAME",
    help="The text model that reads the request and calls the image tool.",
    rich_help_panel=CHAT)]
Instructions = Annotated[Optional[str], typer.Option(
    "--instructions", metavar="TEXT", show_default=False,
    help="System instructions, which the gateway requires [default: a helpful image "
    "assistant that makes ALL the images asked for].", rich_help_panel=CHAT)]
Action = Annotated[str, typer.Option(
    "--action", metavar="auto|generate|edit",
    autocompletion=opt._choices(("auto", "generate", "edit")),
    help="Let the model choose, force a new image, or force an edit (needs -i).",
    rich_help_panel=CHAT)]
PartialImages = Annotated[Optional[int], typer.Option(
    "--partial-images", metavar="0-3", show_default=False,
    help="Ask for preview images while generating (OpenAI's option; untested on the "
    "gateway).", rich_help_panel=CHAT)]
Count = Annotated[Optional[int], typer.Option(
    "--count", "-n", metavar="N", show_default=False,
    help=f"Images to ask for (1-{MAX_IMAGES}): the prompt asks the model for N images, as the "
    "gateway has no n; the run reports how many arrived [default: as many as the prompt "
    "asks for, else 1].", rich_help_panel=opt.OUTPUT)]
ProgressMode = Annotated[str, typer.Option(
    "--progress", metavar="auto|live|plain|jsonl|off",
    autocompletion=opt._choices(("auto", "live", "plain", "jsonl", "off")),
    help="Progress on stderr: a live view on a terminal, plain phase lines otherwise "
    "(auto), or each event as a JSON line (jsonl).", rich_help_panel=opt.OUTPUT)]
SESSION = "Conversation"


def complete_session_name(incomplete: str) -> list[str]:
    """The names of the conversations kept, for Tab."""
    from vibeimg.errors import VibeimgError
    from vibeimg.records.sessions import list_sessions

    try:
        return sorted(i.name for i in list_sessions() if i.name.startswith(incomplete))
    except VibeimgError:  # Tab offers nothing; the command itself says what is wrong
        return []


SessionName = Annotated[Optional[str], typer.Option(
    "--session", "-S", metavar="NAME", show_default=False,
    autocompletion=complete_session_name,
    help="Start or continue the conversation NAME: the earlier turns are resent and the "
    "images named NAME-TURN-N.", rich_help_panel=SESSION)]
ContinueLast = Annotated[bool, typer.Option(
    "--continue", "-C", help="Continue the most recent conversation.", rich_help_panel=SESSION)]
UndoTurn = Annotated[bool, typer.Option(
    "--undo", help="Drop the conversation's last turn (its files stay); no prompt.",
    rich_help_panel=SESSION)]
ContextOpt = Annotated[Optional[str], typer.Option(
    "--context", metavar="last|all|N", show_default=False,
    autocompletion=opt._choices(("last", "all", "0", "1", "2")),
    help="Earlier images sent with the turn: the last turn's, all, or the N most recent "
    "(0: words alone) [default: last; none with -i]. Earlier images cost input tokens.",
    rich_help_panel=SESSION)]
Events = Annotated[Optional[Path], typer.Option(
    "--events", metavar="FILE", show_default=False, dir_okay=False,
    help="Record the raw event stream, base64 payloads included, to FILE (for debugging).",
    rich_help_panel=opt.OUTPUT)]


def chat_stream(
    ctx: typer.Context,
    prompt: Prompt = None,
    prompt_file: opt.PromptFile = None,
    image: Images = None,
    model: TextModel = DEFAULT_TEXT_MODEL,
    instructions: Instructions = None,
    action: Action = "auto",
    size: opt.SizeOpt = "auto",
    quality: opt.Quality = "auto",
    output_format: opt.Format = "png",
    compression: opt.Compression = None,
    moderation: opt.Moderation = "auto",
    partial_images: PartialImages = None,
    count: Count = None,
    output: opt.StreamOutput = None,
    out_dir: opt.OutDir = None,
    force: opt.Force = False,
    no_sidecar: opt.NoSidecar = False,
    json_output: opt.Json = False,
    progress: ProgressMode = "auto",
    events: Events = None,
    session_name: SessionName = None,
    continue_last: ContinueLast = False,
    undo: UndoTurn = False,
    context: ContextOpt = None,
    dry_run: opt.DryRun = False,
    history: opt.History = True,
    ascii_names: opt.AsciiNames = False,
    preview: opt.Preview = False,
    offline: opt.Offline = False,
    base_url: opt.BaseUrl = None,
    api_key: opt.ApiKey = None,
    timeout: opt.Timeout = None,
    retries: opt.Retries = None,
    retry_unknown: opt.RetryUnknown = False,
    verbose: opt.Verbose = False,
    quiet: opt.Quiet = False,
) -> None:
    """Ask for images in plain words and watch them stream in.

    Sends POST /responses, streamed: the text model (gpt-5.5) may rewrite the prompt and calls gpt-image-2 once per image; each image is saved as soon as it is complete, with a NAME.json sidecar holding the revised prompt, usage and timings. Prints the saved paths, one per line.

    With --session NAME (or --continue) each run is a turn of a conversation that vibeimg keeps, since the gateway keeps none: the earlier turns' words are resent, with the last turn's images (--context), and the images are named NAME-TURN-N. --undo drops the last turn; 'vibeimg history sessions' lists the conversations; 'vibeimg chat' holds one interactively.

    Examples:

    \b
      vibeimg chat-stream "a cat hugging an otter with an orange scarf" --quality low
      vibeimg chat-stream "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle" --size 1024x1024
      vibeimg chat-stream "make this a watercolor painting" -i photo.png --action edit
      vibeimg chat-stream "a lighthouse at dawn" -n 2 --progress jsonl --offline
      vibeimg chat-stream "a lighthouse at dawn" --session coast
      vibeimg chat-stream "now make it night" --session coast --context all
      vibeimg chat-stream --session coast --undo
    """
    from vibeimg.cli.common import Connection, dry_run_document, read_prompt
    from vibeimg.cli.stdout import print_json
    from vibeimg.params import check_choice

    connection = Connection(
        offline=offline, base_url=base_url, api_key=api_key, timeout=timeout,
        retries=retries, retry_unknown=retry_unknown, verbose=verbose, quiet=quiet)
    reporter = connection.reporter()
    from vibeimg.cli.chat_turns import chosen_session, undo_last_turn

    name = chosen_session(session_name, continue_last, context=context, undo=undo)
    if undo:
        if prompt is not None or prompt_file is not None or dry_run:
            raise UsageError("--undo takes no prompt and no --dry-run: it changes the session",
                             hint="undo first, then send the prompt; 'vibeimg history show "
                                  "NAME' shows the turn it would drop")
        undo_last_turn(name or "", reporter, json_output=json_output)
        return
    text = read_prompt(prompt, prompt_file)
    from vibeimg.jobs.chat.request import ChatStreamRequest

    turn: TurnPlan | None = None
    if name is not None:
        from vibeimg.cli.chat_turns import plan_session_turn
        from vibeimg.jobs.chat.session import TurnSettings

        turn = plan_session_turn(ctx, name, text, TurnSettings(
            size=size, quality=quality, output_format=output_format, compression=compression,
            moderation=moderation, action=action, model=model,
            instructions=DEFAULT_INSTRUCTIONS if instructions is None else instructions,
            count=count, partial_images=partial_images,
        ), create=not continue_last, context=context, images=image or [])
        request = turn.request
    else:
        request = ChatStreamRequest.build(
            text, model=model, instructions=DEFAULT_INSTRUCTIONS if instructions is None
            else instructions, size=size, quality=quality, output_format=output_format,
            compression=compression, moderation=moderation, action=action, count=count,
            images=image or [], partial_images=partial_images,
        )
    mode = check_choice("progress", progress.lower(), ("auto", "live", "plain", "jsonl", "off"))
    from vibeimg.cli.chat_progress import make_progress

    display = make_progress(mode, reporter, request)
    reporter.json_lines = mode == "jsonl"  # warnings (history, ...) as records too
    for notice in request.count_notices:
        display.notice(notice)
    if request.options.size is not None and request.options.size.experimental:
        display.notice(f"{request.options.size} is above 2560x1440: the gateway's output is "
                       "experimental at this size", warning=True)
    if turn is not None:
        display.notice(turn.summary())
        for notice in turn.notices:
            display.notice(notice, warning=True)
    if dry_run:
        from vibeimg.records.pricing import price_of

        price = price_of(request.options.size, request.options.quality)
        print_json(dry_run_document(
            connection, "POST", "responses", request.body(abbreviate_images=True),
            requested=request.expected_images, **price.times(request.expected_images).fields(),
            **({} if turn is None else {**turn.conversation_fields(),
                                        "approximate_input_bytes": turn.input_bytes}),
        ))
        return
    if output == "-":
        raise UsageError("chat-stream cannot write image bytes to stdout (-o -)",
                         hint="it may receive several images; use -o NAME or --out-dir")
    from vibeimg.files.naming import NamePlan
    from vibeimg.files.writable import ensure_output_dir

    plan = NamePlan.build(output or (turn.name_template if turn is not None else None),
                          out_dir, count=request.expected_images, force=force,
                          sidecar=not no_sidecar)
    ensure_output_dir(plan.directory)
    recorder = _open_events_file(events, force=force)
    try:
        _run(connection, reporter, request, plan, display=display, sidecar=not no_sidecar,
             json_output=json_output, recorder=recorder, history=history, preview=preview,
             ascii_names=ascii_names, turn=turn)
    finally:
        if recorder is not None:
            recorder.close()


def _open_events_file(path: Path | None, *, force: bool) -> IO[bytes] | None:
    """The --events file, opened before sending; an existing one is kept unless --force,
    which replaces a symbolic link (never writing through it) and refuses a FIFO or a
    device."""
    if path is None:
        return None
    from vibeimg.files.atomic import open_for_writing
    from vibeimg.files.inputs import name_taken

    try:
        return open_for_writing(path, replace=force, what="events file")
    except FileExistsError:
        taken = name_taken(path)
        replaceable = taken == "already exists" or "symbolic link" in taken
        raise UsageError(f"the events file {path} {taken}",
                         hint="choose another name, or add --force to replace it (--force "
                              "also lets images replace files of the same name)"
                         if replaceable else "choose another name") from None
    except OSError as exc:
        raise UsageError(f"cannot write the events file {path}: {exc.strerror}",
                         hint="check the folder exists and is writable") from exc


def _run(connection: Connection, reporter: Reporter, request: ChatStreamRequest,
         plan: NamePlan, *,
         display: Progress, sidecar: bool, json_output: bool, recorder: IO[bytes] | None, history: bool = True,
         preview: bool = False, ascii_names: bool = False,
         turn: TurnPlan | None = None) -> None:
    """Stream, save, then print the results (even when the run ended badly).

    With ``--json`` one document is printed whatever happens once the request is under
    way, even when the gateway refused it before any stream opened; only a usage error
    (nothing attempted, exit 2) prints none.
    """
    from vibeimg.cli.common import session
    from vibeimg.cli.interrupts import waiting_text
    from vibeimg.cli.recording import RunRecord
    from vibeimg.cli.stdout import print_json
    from vibeimg.jobs.chat.result import ChatStreamResult
    from vibeimg.jobs.chat.run import run_chat_stream
    from vibeimg.jobs.entries import chat_run_entry
    from vibeimg.records.pricing import price_of

    started = time.monotonic()
    failed: VibeimgError | None = None
    client: GatewayClient | None = None
    # In the history before the request goes out: a process killed half-way (SIGKILL)
    # leaves what it may have spent.
    record = RunRecord(reporter, history, chat_run_entry(request=request,
                                                         offline=connection.offline),
                       price_of(request.options.size, request.options.quality).times(
                           request.expected_images),
                       offline=lambda: client is not None and client.offline)
    with record:
        try:
            with session(connection, reporter, display.retrying) as client, display:
                result = run_chat_stream(
                    client, request, plan=plan, sidecar=sidecar, listener=display,
                    record=recorder.write if recorder is not None else None,
                    ascii_names=ascii_names,
                    on_interrupt=lambda on_wire: display.notice(waiting_text(on_wire)),
                    before_send=record.before_send,
                )
        except VibeimgError as error:
            failed = error
        except KeyboardInterrupt:
            failed = Interrupted("interrupted before the gateway answered")
        # --offline, or a base URL that answered as vibeimg's emulator: nothing was billed.
        offline = connection.offline or (client is not None and client.offline)
        if failed is not None:
            if not isinstance(failed, UsageError):  # refused before sending: no run
                record.finish(chat_run_entry(request=request, offline=offline, error=failed))
                ended = ChatStreamResult.before_stream(request, failed,
                                                       time.monotonic() - started)
                ended.offline = offline
                display.finished(ended)
                if json_output:
                    print_json(ended.as_json())
            raise failed
        result.offline = result.offline or offline
        _advise_missing(result)
        record.finish(chat_run_entry(request=request, offline=result.offline, result=result))
    unrecorded = None
    if turn is not None:
        from vibeimg.cli.chat_turns import record_turn_or_warn

        unrecorded = record_turn_or_warn(turn, result, offline=result.offline,
                                         reporter=reporter)
    _show(result, display, reporter, json_output=json_output, preview=preview)
    result.raise_for_error()
    if unrecorded is not None:
        raise unrecorded


def _advise_missing(result: ChatStreamResult) -> None:
    """When the images asked for are takes of one prompt (-n, or a count in words with
    no numbered list) and some are missing, the run's error gives the command that asks
    for those alone: the same one with -n set to the number missing (a rerun as it is
    asks for all of them again and bills the saved ones twice)."""
    request, error = result.request, result.error
    missing = request.expected_images - len(result.images)
    if (error is None or error.hint is None or not result.images or missing <= 0
            or request.image_slug_texts or request.conversation is not None):
        return
    from vibeimg.cli.rerun import command_with

    command = command_with("chat-stream", ("-n", "--count"), str(missing))
    error.hint += f"; for the {missing} missing alone: " + (
        command or f"the same command with -n {missing}")


def _show(result: ChatStreamResult, display: Progress, reporter: Reporter, *,
          json_output: bool, preview: bool) -> None:
    """The results of a run that streamed: stdout, previews, the summary on stderr."""
    from vibeimg.cli.chat_progress import JsonlProgress, PlainProgress, summary_line
    from vibeimg.cli.stdout import print_json, print_paths

    display.finished(result)
    if json_output:
        print_json(result.as_json())
    else:
        print_paths([image.path for image in result.images])
    if preview:
        from vibeimg.cli.preview_cmd import preview_saved

        preview_saved([image.path for image in result.images], reporter)
    expected = result.request.expected_images
    if result.stream_status == "completed" and 0 < len(result.images) < expected:
        display.notice(f"asked for {expected} images, {len(result.images)} arrived",
                       warning=True)
    if isinstance(display, PlainProgress):
        display.reporter.progress(summary_line(result))
    elif not isinstance(display, JsonlProgress):
        reporter.note(summary_line(result))
