"""``vibeimg batch`` and ``vibeimg batch-merge``: many images from a file, for CI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from vibeimg.choices import DEFAULT_MODEL
from vibeimg.cli import options as opt
from vibeimg.errors import UsageError
from vibeimg.ui import Reporter, is_terminal
from vibeimg.units import count_of

if TYPE_CHECKING:
    from vibeimg.batch.items import BatchItem
    from vibeimg.batch.outcomes import ItemOutcome
    from vibeimg.batch.plan import BatchPlan
    from vibeimg.batch.result import BatchResult
    from vibeimg.cli.common import Connection
    from vibeimg.wire.client import GatewayClient

BATCH = "Batch"

BatchFile = Annotated[str, typer.Argument(
    metavar="FILE", show_default=False,
    help="JSON Lines (one object a line: prompt, options, images/mask, output) or plain "
    "text (one prompt a line); '-' reads stdin.")]
InputFormat = Annotated[str, typer.Option(
    "--input-format", metavar="auto|jsonl|text", rich_help_panel=BATCH,
    autocompletion=opt._choices(("auto", "jsonl", "text")),
    help="How to read FILE; auto goes by the suffix (.jsonl, .txt), then by the first line.")]
NameTemplate = Annotated[Optional[str], typer.Option(
    "--output", "-o", metavar="TEMPLATE", show_default=False, rich_help_panel=opt.OUTPUT,
    help="File name template for lines without their own output: {line} {slug} {n} {date} "
    "{time} {ext} {model} {quality} {size} [default: {line}-{slug}.{ext}].")]
BatchConcurrency = Annotated[int, typer.Option(
    "--concurrency", "-c", min=1, max=64, metavar="N", rich_help_panel=BATCH,
    help="Requests in flight at once; lowered by itself while the gateway answers 429.")]
ShardOpt = Annotated[Optional[str], typer.Option(
    "--shard", metavar="K/N", show_default=False, rich_help_panel=BATCH,
    help="Run only shard K of N (a CI matrix): every item falls in exactly one shard.")]
MaxCost = Annotated[Optional[float], typer.Option(
    "--max-cost", metavar="USD", min=0, show_default=False, rich_help_panel=BATCH,
    callback=opt.finite_number,
    help="Refuse to start when the estimated cost of what would be sent is above USD.")]
ReportOpt = Annotated[Optional[Path], typer.Option(
    "--report", metavar="FILE.html", dir_okay=False, show_default=False, rich_help_panel=BATCH,
    help="Write a self-contained HTML report: thumbnails, prompts, costs, failures.")]
ConvertMask = Annotated[bool, typer.Option(
    "--convert-mask", rich_help_panel=BATCH,
    help="Edit lines: convert a mask without alpha channel on the fly, as 'vibeimg mask-convert' does (a line's convert_mask overrides it).")]
ResizeMask = Annotated[bool, typer.Option(
    "--resize-mask", rich_help_panel=BATCH,
    help="Edit lines: resize a mask of the same aspect ratio to the first image's size (a line's resize_mask overrides it).")]
SummaryJson = Annotated[bool, typer.Option(
    "--json", rich_help_panel=opt.OUTPUT,
    help="Print the JSON summary even on a terminal (it is printed whenever stdout is not "
    "one; a terminal gets a few lines for people).")]
BatchRetryUnknown = Annotated[bool, typer.Option(
    "--retry-unknown", rich_help_panel=opt.CONNECTION,
    help="Also retry after a timeout or 500/502/504, whose outcome is unknown, and send "
    "again the items an earlier run left of unknown outcome: this may bill twice.")]
Verify = Annotated[str, typer.Option(
    "--verify", metavar="fast|full", rich_help_panel=BATCH,
    autocompletion=opt._choices(("fast", "full")),
    help="How a rerun checks finished items' files against the manifest before skipping "
    "them: fast (size, and SHA-256 when the file was modified since) or full (SHA-256 of "
    "every file).")]
ProgressEvery = Annotated[float, typer.Option(
    "--progress-every", metavar="SECONDS", min=0.1, rich_help_panel=BATCH,
    callback=opt.finite_number,
    help="Seconds between progress lines when stderr is not a terminal (CI logs).")]


def _read_source(file: str) -> tuple[str, str, Path]:
    """The file's text, its name for messages, and the folder relative paths start from."""
    from vibeimg.cli.common import MAX_STDIN_BATCH_BYTES, read_stdin_bytes
    from vibeimg.params import decode_prompt

    if file == "-":
        if is_terminal(sys.stdin):
            raise UsageError("'-' reads the batch from stdin, but stdin is a terminal",
                             hint="pipe it in: cat prompts.txt | vibeimg batch -")
        data = read_stdin_bytes(MAX_STDIN_BATCH_BYTES)
        if data is None:
            raise UsageError(f"the batch on stdin is more than {MAX_STDIN_BATCH_BYTES:,} bytes",
                             hint="save it to a file and give its name instead of '-'")
        return decode_prompt(data, "the batch on stdin"), "<stdin>", Path()
    from vibeimg.files.inputs import read_regular

    path = Path(file)
    try:
        data = read_regular(path, what="batch file")
    except OSError as exc:
        raise UsageError(f"cannot read the batch file {file}: {exc.strerror or exc}",
                         hint="check the path, or use '-' to read stdin") from exc
    return decode_prompt(data, f"the batch file {file}"), file, path.parent


def batch(
    file: BatchFile,
    input_format: InputFormat = "auto",
    model: opt.Model = DEFAULT_MODEL,
    size: opt.SizeOpt = "auto",
    quality: opt.Quality = "auto",
    output_format: opt.Format = "png",
    compression: opt.Compression = None,
    moderation: opt.Moderation = "auto",
    response_format: opt.ResponseFormat = "b64_json",
    output: NameTemplate = None,
    convert_mask: ConvertMask = False,
    resize_mask: ResizeMask = False,
    out_dir: opt.OutDir = None,
    force: opt.Force = False,
    no_sidecar: opt.NoSidecar = False,
    concurrency: BatchConcurrency = 4,
    shard: ShardOpt = None,
    max_cost: MaxCost = None,
    report: ReportOpt = None,
    dry_run: opt.DryRun = False,
    json_output: SummaryJson = False,
    progress_every: ProgressEvery = 10.0,
    history: opt.History = True,
    ascii_names: opt.AsciiNames = False,
    offline: opt.Offline = False,
    base_url: opt.BaseUrl = None,
    api_key: opt.ApiKey = None,
    timeout: opt.Timeout = None,
    retries: opt.Retries = None,
    retry_unknown: BatchRetryUnknown = False,
    verify: Verify = "fast",
    verbose: opt.Verbose = False,
    quiet: opt.Quiet = False,
) -> None:
    """Make many images from a file of prompts, resumably.

    Requests run concurrently (slowing down by themselves while the gateway answers 429), and --shard K/N spreads one batch over a CI matrix.

    The whole file is checked first; nothing is sent while any line is bad. A manifest in the output folder records each finished item, so rerunning the same command sends only what failed or never ran: not an item whose outcome was unknown (it may have been billed) unless --retry-unknown, and a finished item again only if its files are missing or changed. Prints a JSON summary of every item on stdout (on a terminal, a few lines for people; --json for the JSON there too); progress goes to stderr.

    Examples:

      vibeimg batch prompts.txt --quality low --out-dir shots

      vibeimg batch prompts.jsonl --dry-run --max-cost 2

      vibeimg batch prompts.jsonl --shard 2/4 --out-dir out --report out/report.html

      printf 'a fox\\na heron\\n' | vibeimg batch - --offline -d shots
    """
    from vibeimg.batch.items import DEFAULT_NAME, BatchDefaults, BatchInputError, parse_batch
    from vibeimg.batch.manifest import manifest_name, refuse_if_busy
    from vibeimg.batch.plan import Shard, make_plan
    from vibeimg.batch.requests import build_request
    from vibeimg.cli.common import Connection

    connection = Connection(
        offline=offline, base_url=base_url, api_key=api_key, timeout=timeout,
        retries=retries, retry_unknown=retry_unknown, verbose=verbose, quiet=quiet)
    reporter = connection.reporter()
    if input_format not in ("auto", "jsonl", "text"):
        raise UsageError(f"invalid --input-format {input_format!r}",
                         hint="choose auto, jsonl or text")
    if verify not in ("fast", "full"):
        raise UsageError(f"invalid --verify {verify!r}", hint="choose fast or full")
    if output == "-":
        raise UsageError("a batch writes files, not stdout", hint="use --out-dir")
    text, source, base_dir = _read_source(file)
    defaults = BatchDefaults(
        model=model, size=size, quality=quality, output_format=output_format,
        compression=compression, moderation=moderation, response_format=response_format,
        output=output or DEFAULT_NAME, convert_mask=convert_mask, resize_mask=resize_mask,
        ascii_names=ascii_names,
    )
    defaults.options()  # a bad flag is one error, not one per line
    notes: list[str] = []
    warnings: list[str] = []

    def check(item: BatchItem) -> None:
        """Build each edit line's request once: the edit builder checks images and masks
        (a generate line's request holds nothing that was not checked already)."""
        if item.kind != "edit":
            return
        where = f"{source}:{item.line}: "
        build_request(item, notify=lambda m: notes.append(where + m),
                      warn=lambda m: warnings.append(where + m))

    try:
        items = parse_batch(text, source=source, base_dir=base_dir, defaults=defaults,
                            input_format=input_format, check=check)
    except BatchInputError as exc:
        for problem in exc.problems:
            reporter.error(problem.describe(source))
        raise
    for note in notes:
        reporter.info(note)
    for warning in warnings:
        reporter.warn(warning)
    for big in sorted({str(i.options.size) for i in items
                       if i.options.size and i.options.size.experimental}):
        reporter.warn(f"{big} is above 2560x1440: the gateway's output is experimental")
    part = Shard.parse(shard) if shard else None
    if not dry_run:  # another run at work there: refused before its folder is read
        refuse_if_busy((out_dir or Path()) / manifest_name(str(part) if part else None))
    plan = make_plan(items, out_dir=out_dir or Path(), shard=part, verify=verify,
                     retry_unknown=retry_unknown)
    if plan.skipped_manifest_lines:
        reporter.warn(f"skipped {count_of(plan.skipped_manifest_lines, 'unreadable manifest line')}")
    _report_untrusted(plan, reporter, dry_run=dry_run)
    plan.check_folders()
    if force:
        plan.check_names()
    if dry_run:
        _print_dry_run(plan, connection, max_cost)
        return
    plan.check_max_cost(max_cost)
    if plan.to_send and not connection.offline:  # said alone, before plan or manifest
        connection.settings().require_key()
    _run(plan, connection, reporter, source=source, concurrency=concurrency,
         sidecar=not no_sidecar, force=force, report=report, progress_every=progress_every,
         history=history, json_output=json_output)


def rerun_command(extra: str) -> str:
    """This very command line with ``extra`` added, as the user could paste it."""
    import shlex

    args = sys.argv[1:]
    program = Path(sys.argv[0]).name if sys.argv else ""
    if "batch" not in args or program not in ("vibeimg", "__main__.py"):
        return f"the same vibeimg batch command with {extra}"
    return shlex.join(["vibeimg", *args[args.index("batch"):], extra])


def _report_untrusted(plan: BatchPlan, reporter: Reporter, *, dry_run: bool) -> None:
    """One line per finished item that is made again (its files are missing or changed,
    or its manifest line names a path outside the folder), and one per item held back
    because an earlier run could not learn its outcome."""
    for problem in plan.problems:
        reporter.warn(problem.describe(plan.out_dir))
    if not plan.held:
        return
    command = rerun_command("--retry-unknown")
    for record in sorted(plan.held.values(), key=lambda r: (r.get("line") or 0,
                                                             r.get("index") or 0)):
        where = f"line {record.get('line')}" + (
            f" #{record['index']}" if (record.get("index") or 1) != 1 else "")
        verb = "would not be sent" if dry_run else "not sent"
        reporter.warn(f"{where}: outcome unknown in an earlier run ({record.get('error')}); "
                      f"{verb} again, so it cannot be billed twice. To send it anyway: "
                      f"{command}")


def _print_dry_run(plan: BatchPlan, connection: Connection, max_cost: float | None) -> None:
    from vibeimg.batch.requests import describe_request
    from vibeimg.cli.common import shown_base_url, warn_if_ignored_offline
    from vibeimg.cli.stdout import print_json
    from vibeimg.settings.resolve import mask_key

    warn_if_ignored_offline(connection, connection.reporter())
    settings = connection.settings()
    document = plan.describe(base_url=shown_base_url(connection, settings), max_cost=max_cost,
                             authorization=f"Bearer {mask_key(settings.api_key)}",
                             request_view=describe_request)
    print_json({**document, "offline": connection.offline})
    plan.check_max_cost(max_cost)


def _run(plan: BatchPlan, connection: Connection, reporter: Reporter, *, source: str,
         concurrency: int, sidecar: bool, force: bool, report: Path | None,
         progress_every: float, history: bool = True, json_output: bool = False) -> None:
    from vibeimg.batch.opening import claim, nothing_to_send, unanswered_outcomes
    from vibeimg.batch.runner import BatchRunner
    from vibeimg.batch.summary import batch_error, summarize
    from vibeimg.cli.batchview import BatchView
    from vibeimg.cli.common import session
    from vibeimg.cli.recording import BackgroundRecorder

    view = BatchView(reporter, interval=progress_every)
    recorder = BackgroundRecorder(reporter, history)
    clients: list[GatewayClient] = []

    out_dir = plan.out_dir.absolute()  # once, not per item

    def finished(outcome: ItemOutcome) -> None:
        view.event(outcome)
        # --offline, or a base URL that answered as vibeimg's emulator: nothing billed.
        offline = connection.offline or any(c.offline for c in clients)
        recorder.add(outcome.history_entry(out_dir, offline=offline))

    price = plan.estimated_price
    with claim(plan) as manifest:  # another run writing it: refused before a word is said
        view.start(to_send=len(plan.to_send), done_before=len(plan.done),
                   concurrency=concurrency, cost=price.usd, extrapolated=price.extrapolated,
                   offline=connection.offline, shard=str(plan.shard) if plan.shard else None)
        # Requests a killed run left on the wire could not be recorded by it: this run
        # is the first to know of them, so the history's possible spend includes them.
        for outcome in unanswered_outcomes(plan):
            recorder.add(outcome.history_entry(out_dir, offline=connection.offline))
        try:
            if not plan.to_send:
                result = nothing_to_send(plan, manifest, concurrency=concurrency)
            else:
                with session(connection, reporter) as client:
                    clients.append(client)
                    runner = BatchRunner(client, plan, concurrency=concurrency,
                                         sidecar=sidecar, force=force, on_event=finished,
                                         on_tick=view.tick, on_interrupt=view.interrupted)
                    try:
                        result = runner.run(manifest)
                    finally:
                        view.close()
        finally:
            recorder.close()
        if result.cleaned:
            reporter.trace(f"removed {count_of(len(result.cleaned), 'temporary file')} of an earlier run")
    result.offline = result.offline or connection.offline
    for_people = not json_output and is_terminal(sys.stdout)
    view.finish(result, summary_on_stdout=for_people)
    if report is not None:
        _write_report(report, result, plan, source)
    error = batch_error(result)
    document = summarize(result, plan, source=source, error=error,
                         report=str(report) if report is not None else None)
    print_summary(document, for_people=for_people)
    if error is not None:
        raise error


def print_summary(document: dict[str, Any], *, for_people: bool) -> None:
    """The summary: JSON for scripts (stdout not a terminal, or --json), else a few lines."""
    from vibeimg.cli.stdout import print_json

    if not for_people:
        print_json(document)
        return
    from vibeimg.cli.batchview import merge_summary_text, summary_text
    from vibeimg.ui import printable

    text = summary_text(document) if document.get("command") == "batch" \
        else merge_summary_text(document)
    sys.stdout.write(printable(text, newlines=True) + "\n")  # file names, paths: escaped
    sys.stdout.flush()


def _write_report(report: Path, result: BatchResult, plan: BatchPlan, source: str) -> None:
    from vibeimg.batch.report import render_report
    from vibeimg.batch.summary import report_records
    from vibeimg.files.atomic import write_atomically

    title = f"vibeimg batch: {source}" + (f" (shard {plan.shard})" if plan.shard else "")
    page = render_report(report_records(result), base_dir=plan.out_dir,
                         link_dir=report.parent, title=title)
    try:
        report.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(report, page.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write the report {report}: {exc.strerror or exc}",
                         hint="choose another --report path") from exc
