"""Running image requests for ``generate`` and ``edit``: send, save, report."""

from __future__ import annotations

import sys
import time
from typing import Any

from vibeimg.cli.common import Connection, print_json, print_paths, raise_for_failures, session
from vibeimg.errors import Interrupted, UsageError, VibeimgError
from vibeimg.images import NamePlan, ensure_output_dir
from vibeimg.ui import Reporter, is_terminal


def plan_output(
    output: str | None, out_dir: Any, *, count: int, force: bool, json_output: bool
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
    request: Any,
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
    from vibeimg.cli.recording import record_image_run  # noqa: PLC0415
    from vibeimg.imageapi import Failure, Outcome, SavedImage, fetch_image, fetch_many  # noqa: PLC0415

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
        record_image_run(reporter, history, command=command, request=request,
                         offline=connection.offline, count=count, error=error,
                         elapsed=time.monotonic() - started)
        raise
    interrupted = (Interrupted(f"interrupted: {len(outcome.saved)} of {count} images saved")
                   if outcome.interrupted else None)
    record_image_run(reporter, history, command=command, request=request,
                     offline=connection.offline, count=count, outcome=outcome,
                     error=interrupted, elapsed=time.monotonic() - started)
    total_cost = round(sum(s.estimated_cost_usd for s in outcome.saved), 4)
    if json_output:
        print_json({
            "command": command,
            "prompt": request.prompt,
            "requested": count,
            "images": [s.as_json() for s in outcome.saved],
            "failures": [f.as_json() for f in outcome.failures],
            "estimated_cost_usd": total_cost,
        })
    elif plan is not None:
        print_paths([s.path for s in outcome.saved if s.path is not None])
    if preview:
        from vibeimg.cli.preview_cmd import preview_saved  # noqa: PLC0415

        preview_saved([s.path for s in outcome.saved], reporter)
    if interrupted is not None:
        raise interrupted  # after the saved images were printed: scripts learn of them
    if outcome.saved:
        reporter.note(f"{len(outcome.saved)} of {count} saved, estimated ${total_cost:.3f}")
    raise_for_failures([f.error for f in outcome.failures], count)
