"""Running image requests for ``generate`` and ``edit``: send, save, report."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.cli.common import Connection, print_json, print_paths, session
from vibeimg.errors import UsageError, VibeimgError
from vibeimg.files.atomic import ensure_output_dir
from vibeimg.files.naming import NamePlan
from vibeimg.records.rundoc import ending_fields
from vibeimg.ui import Reporter, is_terminal

if TYPE_CHECKING:
    from vibeimg.jobs.image_requests import ImageRequest, Outcome
    from vibeimg.wire.client import GatewayClient


def plan_output(
    output: str | None, out_dir: Path | None, *, count: int, force: bool, json_output: bool
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
    plan = NamePlan.build(output, out_dir, count=count, force=force)
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
    from vibeimg.cli.recording import record_run
    from vibeimg.jobs.entries import image_run_entry
    from vibeimg.jobs.image_requests import Failure, Outcome, SavedImage, fetch_image, fetch_many

    def saved(image: SavedImage) -> None:
        if plan is not None and plan.literal_format and image.format != plan.literal_format:
            reporter.warn(f"the gateway sent {image.format}, not {plan.literal_format}: "
                          f"saved as {image.path}")
        reporter.note(f"saved {image.path or 'stdout'} ({image.size or '?'}, "
                      f"{image.bytes:,} bytes, {image.elapsed:.1f} s)")

    def failed(failure: Failure) -> None:
        if count > 1:
            reporter.error(f"image {failure.index} of {count}: {failure.error.one_line()}")

    what = "image" if count == 1 else f"{count} images"
    started = time.monotonic()
    client: GatewayClient | None = None
    try:
        with session(connection, reporter) as client, reporter.spinner(
            f"Making {what} with {request.options.model}"
        ):
            if plan is None:
                image = fetch_image(client, request, index=1, plan=None,
                                    stdout=sys.stdout.buffer)
                outcome = Outcome(saved=[image])
            else:
                outcome = fetch_many(
                    client, request, count=count, concurrency=concurrency, plan=plan,
                    sidecar=sidecar, on_saved=saved, on_failed=failed,
                )
    except VibeimgError as error:
        if not isinstance(error, UsageError):  # refused before sending: no run
            offline = connection.offline or (client is not None and client.offline)
            record_run(reporter, history, image_run_entry(
                command=command, request=request, offline=offline, count=count,
                error=error, elapsed=time.monotonic() - started))
        raise
    # --offline, or a base URL that answered as vibeimg's emulator: nothing was billed.
    offline = connection.offline or client.offline
    final = outcome.final_error(count)
    record_run(reporter, history, image_run_entry(
        command=command, request=request, offline=offline, count=count,
        outcome=outcome, error=final, elapsed=time.monotonic() - started))
    if json_output:
        print_json(run_document(command, request.prompt, count, outcome, final,
                                offline=offline))
    elif plan is not None:
        print_paths([s.path for s in outcome.saved if s.path is not None])
    if preview:
        from vibeimg.cli.preview_cmd import preview_saved

        preview_saved([s.path for s in outcome.saved], reporter)
    if outcome.saved and not outcome.interrupted:
        from vibeimg.records.pricing import shown

        price = outcome.price
        reporter.note(f"{len(outcome.saved)} of {count} saved, estimated "
                      f"{shown(price.usd, price.extrapolated, offline=offline)}")
    if final is not None:
        raise final  # after the saved images were printed: scripts learn of them


def run_document(command: str, prompt: str, count: int, outcome: Outcome,
                 error: VibeimgError | None, *, offline: bool = False) -> dict[str, Any]:
    """What ``--json`` prints for generate and edit, whatever the outcome.

    ``missing`` lists every image not received: ``failed`` (its error is in
    ``failures``) or ``abandoned`` (in flight or not yet sent when Ctrl-C came).
    """
    failed = {f.index for f in outcome.failures}
    saved = {s.index for s in outcome.saved}
    missing = [{"index": n, "phase": "failed" if n in failed else "abandoned"}
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
        "cost_extrapolated": outcome.price.extrapolated,
        "offline": offline,
        "error": ending["error"],
        "exit_code": ending["exit_code"],
    }
