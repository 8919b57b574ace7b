"""Running image requests for ``generate`` and ``edit``: send, save, report."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.cli.common import Connection, session
from vibeimg.cli.stdout import print_json
from vibeimg.errors import Interrupted, PartialFailure, UsageError, VibeimgError
from vibeimg.files.naming import NamePlan
from vibeimg.files.writable import ensure_output_dir
from vibeimg.records.rundoc import ending_fields
from vibeimg.ui import Reporter, is_terminal, printable
from vibeimg.units import count_of

if TYPE_CHECKING:
    from vibeimg.jobs.image_outcome import Failure, Outcome, SavedImage
    from vibeimg.jobs.image_requests import ImageRequest
    from vibeimg.wire.client import GatewayClient


def plan_output(
    output: str | None, out_dir: Path | None, *, count: int, force: bool, json_output: bool,
    sidecar: bool = True,
) -> NamePlan | None:
    """Where images go; None means raw bytes on stdout (``-o -``). Checked before sending."""
    if output == "-":
        if json_output:
            raise UsageError("-o - and --json both write to stdout: the image bytes and the "
                             "JSON document cannot share it",
                             hint="drop --json, or save to a file with -o NAME and keep --json")
        if count > 1:
            raise UsageError("-o - writes one image to stdout, but --count is more than 1",
                             hint="use --out-dir for several images")
        from vibeimg.cli.stdout import stdout_is_closed

        if stdout_is_closed():
            raise UsageError("-o - writes the image to stdout, but stdout is closed",
                             hint="redirect it (> out.png), or save to a file with -o NAME")
        if is_terminal(sys.stdout):
            raise UsageError("refusing to write image bytes to a terminal",
                             hint="redirect it (> out.png) or pipe it (| display)")
        return None
    plan = NamePlan.build(output, out_dir, count=count, force=force, sidecar=sidecar)
    ensure_output_dir(plan.directory)
    return plan


def run_image_requests(
    connection: Connection,
    reporter: Reporter,
    request: ImageRequest,
    *,
    command: str,
    count: int,
    concurrency: int,
    plan: NamePlan | None,
    sidecar: bool,
    json_output: bool,
    history: bool = True,
    preview: bool = False,
) -> None:
    """Send ``count`` requests, save every image that arrives, print the results.

    The run is recorded in the history (unless ``history`` is False), whatever its
    outcome; ``preview`` shows thumbnails of the saved images on a terminal's stderr.
    """
    from vibeimg.cli.interrupts import waiting_text
    from vibeimg.cli.recording import RunRecord
    from vibeimg.jobs.entries import image_run_entry
    from vibeimg.jobs.image_runs import fetch_many
    from vibeimg.records.pricing import price_of

    what = "image" if count == 1 else f"{count} images"
    title = f"Making {what} with {request.options.model}"
    progress = ImageProgress(reporter, count, title)
    # Each path goes to stdout as its image lands (a script can start on it at once);
    # --json keeps stdout for its one document at the end.
    # Once nobody reads the paths (| head gone, a full disk), send nothing more: the
    # requests on the wire finish and their images are kept.
    paths = PathPrinter(reporter, on_failure=lambda: client.cancel() if client else None
                        ) if plan is not None and not json_output else None
    progress.paths_shown = paths is not None and paths.on_terminal

    def saved(image: SavedImage) -> None:
        if plan is not None:
            _name_notice(reporter, plan, request, image)
        if paths is not None and image.path is not None:
            paths.print(image.path)
        progress.saved(image)

    def failed(failure: Failure) -> None:
        progress.failed(failure)

    started = time.monotonic()
    client: GatewayClient | None = None
    # In the history before the first request goes out, each send counted as it does:
    # a process killed half-way (SIGKILL) leaves what it may have spent.
    record = RunRecord(reporter, history, image_run_entry(
        command=command, request=request, offline=connection.offline, count=count),
        price_of(request.options.size, request.options.quality),
        offline=lambda: client is not None and client.offline)
    with record:
        try:
            with session(connection, reporter) as client, reporter.spinner(title):
                outcome = fetch_many(
                    client, request, count=count, concurrency=concurrency, plan=plan,
                    sidecar=sidecar, stdout=sys.stdout.buffer if plan is None else None,
                    on_saved=saved if plan is not None else None, on_failed=failed,
                    on_interrupt=lambda on_wire: reporter.info(waiting_text(on_wire)),
                    before_send=record.before_send,
                )
        except VibeimgError as error:
            if not isinstance(error, UsageError):  # refused before sending: no run
                offline = connection.offline or (client is not None and client.offline)
                record.finish(image_run_entry(
                    command=command, request=request, offline=offline, count=count,
                    error=error, elapsed=time.monotonic() - started))
            raise
        # --offline, or a base URL that answered as vibeimg's emulator: nothing was billed.
        offline = connection.offline or client.offline
        final = _final_error(command, count, outcome, paths)
        record.finish(image_run_entry(
            command=command, request=request, offline=offline, count=count,
            outcome=outcome, error=final, elapsed=time.monotonic() - started))
    if json_output:
        print_json(run_document(command, request.prompt, count, outcome, final,
                                offline=offline))
    elif paths is not None:
        paths.raise_failure()  # stdout failed while printing: after the run is recorded
    if preview:
        from vibeimg.cli.preview_cmd import preview_saved

        preview_saved([s.path for s in outcome.saved], reporter)
    if outcome.saved and not outcome.interrupted:
        from vibeimg.records.pricing import shown

        price = outcome.price
        possible = (f", and up to ${outcome.possible_cost_usd:.3f} possibly billed with no "
                    "image received" if outcome.possible_cost_usd else "")
        reporter.note(f"{len(outcome.saved)} of {count} saved, estimated "
                      f"{shown(price.usd, price.extrapolated, offline=offline)}" + possible)
    if final is not None:
        raise final  # after the saved images were printed: scripts learn of them


def _final_error(command: str, count: int, outcome: Outcome, paths: PathPrinter | None
                 ) -> VibeimgError | None:
    """The error a run ends with: stdout's failure, or the outcome's, with the command
    for the missing images alone when some were saved."""
    final = (paths is not None and paths.stopped_run(len(outcome.saved), count)
             ) or outcome.final_error(count)
    missing = count - len(outcome.saved)
    if isinstance(final, (PartialFailure, Interrupted)) and outcome.saved and missing:
        from vibeimg.cli.rerun import missing_hint

        final.hint = missing_hint(command, missing, outcome.maybe_billed_unsaved)
    return final


def run_document(command: str, prompt: str, count: int, outcome: Outcome,
                 error: VibeimgError | None, *, offline: bool = False) -> dict[str, Any]:
    """What ``--json`` prints for generate and edit, whatever the outcome.

    ``missing`` lists every image not received: ``failed`` (its error is in
    ``failures``), ``abandoned`` (on the wire when Ctrl-C came: it may have been billed)
    or ``not-sent`` (waiting to be retried, or not yet sent: not billed).
    ``estimated_cost_usd`` is the cost of the images received, ``possible_cost_usd`` what
    the others may have cost (billed but unusable, outcome unknown, abandoned).
    """
    failed = {f.index for f in outcome.failures}
    saved = {s.index for s in outcome.saved}
    abandoned = set(outcome.abandoned)
    missing = [{"index": n, "phase": "failed" if n in failed else
                "abandoned" if n in abandoned else "not-sent"}
               for n in range(1, count + 1) if n not in saved]
    ending = ending_fields(error)
    return {
        "command": command,
        "status": ending["status"],
        "prompt": prompt,
        "requested": count,
        "received": len(outcome.saved),
        "images": [s.as_json() for s in outcome.saved],
        "missing": missing,
        "failures": [f.as_json() for f in outcome.failures],
        "estimated_cost_usd": round(outcome.estimated_cost_usd, 4),
        "possible_cost_usd": round(outcome.possible_cost_usd, 4),
        "cost_extrapolated": outcome.cost_extrapolated,
        "offline": offline,
        "error": ending["error"],
        "exit_code": ending["exit_code"],
    }


class PathPrinter:
    """Saved paths on stdout, one a line, flushed as each image lands.

    Images land in worker threads; a failed write there (``| head`` gone, a full disk)
    is kept and raised in the main thread once the run is over, so the exit code and
    the history are those of the run, and no worker dies unheard. stdout is taken
    before the spinner starts: Rich's live display swaps ``sys.stdout`` for a proxy
    that writes to its own console (stderr), which would take the paths from a pipe.
    When stdout is the terminal the spinner is drawn on, a path is written through
    that console instead, so that it lands above the spinner, not inside its line.
    """

    def __init__(self, reporter: Reporter, on_failure: Callable[[], None] | None = None
                 ) -> None:
        self._stdout = sys.stdout
        self._on_failure = on_failure  # told once, when a write fails
        self._reporter = reporter
        self._lock = threading.Lock()
        self._failure: BaseException | None = None
        self.on_terminal = is_terminal(sys.stdout)

    def print(self, path: Path) -> None:
        with self._lock:
            if self._failure is not None:
                return
            # Exact for a script; control characters escaped on a terminal (as ls does).
            text = printable(str(path)) if self.on_terminal else str(path)
            try:
                if self.on_terminal and self._reporter.interactive:
                    self._reporter.console.print(text, markup=False, highlight=False,
                                                 soft_wrap=True)
                    return
                self._stdout.write(f"{text}\n")
                self._stdout.flush()
            except (OSError, VibeimgError) as exc:  # BrokenPipeError, StdoutError...
                self._failure = exc
                if self._on_failure is not None:
                    self._on_failure()

    def stopped_run(self, saved: int, count: int) -> VibeimgError | None:
        """How the history tells a run that stdout's failure stopped: the write error,
        or an interruption when the reader went away (exit 141); None if all were saved."""
        if self._failure is None or saved >= count:
            return None
        left = f"{saved} of {count_of(count, 'image')} saved, the others not sent"
        if isinstance(self._failure, VibeimgError):
            stopped = VibeimgError(f"{self._failure.message}; {left}")
            stopped.exit_code = self._failure.exit_code
            return stopped
        return Interrupted(f"stopped: stdout's reader went away; {left}")

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


class ImageProgress:
    """Progress of ``-n`` images on stderr: the spinner's line counts them on a terminal;
    in a log (stderr not a terminal), one plain line per image, as chat-stream writes."""

    def __init__(self, reporter: Reporter, count: int, title: str) -> None:
        self.reporter = reporter
        self.count = count
        self.title = title
        self.done = 0
        self.failures = 0
        self.paths_shown = False  # each path is on the terminal already (stdout)
        self._lock = threading.Lock()

    def _count(self, saved: bool) -> None:
        with self._lock:
            if saved:
                self.done += 1
            else:
                self.failures += 1
            if self.count > 1 and self.reporter.interactive:
                failed = f", {self.failures} failed" if self.failures else ""
                self.reporter.status(f"{self.title}: {self.done} of {self.count} saved{failed}")

    def saved(self, image: SavedImage) -> None:
        detail = (f"{image.path or 'stdout'} ({image.size or '?'}, {image.bytes:,} bytes, "
                  f"{image.elapsed:.1f} s)")
        self._count(saved=True)
        if self.reporter.interactive:
            if not self.paths_shown:
                self.reporter.note(f"saved {detail}")
        elif self.count > 1:
            self.reporter.progress(f"image {image.index} of {self.count}: saved {detail}")

    def failed(self, failure: Failure) -> None:
        self._count(saved=False)
        if self.count > 1:
            self.reporter.error(f"image {failure.index} of {self.count}: "
                                f"{failure.error.one_line()}")


def _name_notice(reporter: Reporter, plan: NamePlan, request: ImageRequest,
                 image: SavedImage) -> None:
    """Why an image's name is not the one asked for: the format it was asked in, the
    format the gateway sent instead, a name (or its sidecar's) already taken."""
    asked = request.options.output_format
    reasons = []
    warning = False
    if plan.literal_format and image.format != plan.literal_format:
        if image.format == asked:  # what --format asked for: no fault of the gateway's
            reasons.append(f"--format {asked} makes a {asked.upper()} image, and the name "
                           "follows the bytes")
        else:
            warning = True
            reasons.append(f"the gateway sent {image.format}, not the {asked} asked for")
    elif image.format != asked:
        warning = True
        reasons.append(f"the gateway sent {image.format}, not the {asked} asked for")
    first = image.passed_over[0] if image.passed_over else ""
    if first and (reasons or not first.endswith(" exists")):
        # An image of that name is the documented -2, -3...; a sidecar's name surprises.
        reasons.append(first)
    if not reasons:
        return
    text = f"saved as {image.path} ({'; '.join(reasons)})"
    if warning:
        reporter.warn(text)
    else:
        reporter.info(text)
