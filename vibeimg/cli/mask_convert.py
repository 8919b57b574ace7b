"""``vibeimg mask-convert``: black-and-white masks to alpha masks (local, no request)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from vibeimg.cli.options import Preview, complete_image_path
from vibeimg.cli.preview_cmd import preview_saved
from vibeimg.cli.stdout import print_json, print_paths

if TYPE_CHECKING:
    from vibeimg.masks.jobs import MaskJob

Paths = Annotated[list[str], typer.Argument(
    metavar="INPUT... [OUTPUT]", show_default=False, autocompletion=complete_image_path,
    help="The mask to convert and where to write it [default: INPUT-alpha.png beside it]; '-' is stdin or stdout. With --out-dir, every argument is an input.")]
Invert = Annotated[bool, typer.Option(
    "--invert", help="White marks the area to repaint (by default black is repainted).")]
Threshold = Annotated[Optional[int], typer.Option(
    "--threshold", "-t", metavar="0-255", min=0, max=255, show_default=False,
    help="Hard edges: grey levels at or above this count as white, below it as black.")]
Match = Annotated[Optional[Path], typer.Option(
    "--match", metavar="IMAGE", show_default=False, dir_okay=False,
    autocompletion=complete_image_path,
    help="Resize to IMAGE's dimensions (nearest neighbour); refused if the aspect ratio differs.")]
FromGrey = Annotated[bool, typer.Option(
    "--from-grey", help="Rebuild the alpha from the grey levels even when the input already has an alpha channel.")]
OutDir = Annotated[Optional[Path], typer.Option(
    "--out-dir", "-d", metavar="DIR", show_default=False, file_okay=False,
    help="Convert every INPUT into DIR (created if needed), as NAME.png.")]
Jobs = Annotated[Optional[int], typer.Option(
    "--jobs", "-j", metavar="N", min=1, show_default=False,
    help="Masks converted in parallel with several inputs [default: one per CPU].")]
Output = Annotated[Optional[str], typer.Option(
    "--output", "-o", metavar="FILE", show_default=False,
    help="Where to write the mask (the same as a second argument); '-' is stdout. With "
    "--force, an existing image is replaced only when named this way.")]
Force = Annotated[bool, typer.Option(
    "--force", help="Overwrite existing files (an existing image as OUTPUT only with -o).")]
Json = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document on stdout instead of the written paths.")]
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No report or warnings on stderr; errors still show.")]


def mask_convert(
    paths: Paths,
    invert: Invert = False,
    threshold: Threshold = None,
    match: Match = None,
    from_grey: FromGrey = False,
    out_dir: OutDir = None,
    output_opt: Output = None,
    jobs: Jobs = None,
    force: Force = False,
    json_output: Json = False,
    quiet: Quiet = False,
    preview: Preview = False,
) -> None:
    """Turn a black-and-white mask into an alpha mask.

    The gateway's own recipe: the grey levels become the alpha channel, so white is kept and black is repainted. Any image Pillow reads works (1-bit, grey, palette, RGB, 16-bit, jpeg, webp); an input that already has an alpha channel keeps it. The output is always an RGBA PNG, written atomically, never over an existing file without --force. Reports on stderr the size and the share of the image to repaint.

    Examples:

      vibeimg mask-convert scribble.png mask.png

      vibeimg mask-convert scribble.png -o mask.png --force

      vibeimg mask-convert scribble.jpg --invert --threshold 128 --match photo.png

      vibeimg mask-convert masks/*.png --out-dir alpha/

      cat scribble.png | vibeimg mask-convert - > mask.png
    """
    from vibeimg.errors import Interrupted
    from vibeimg.files.imagecheck import image_dimensions
    from vibeimg.files.inputs import STDIN
    from vibeimg.files.writable import ensure_output_dir
    from vibeimg.masks.convert import warning_for
    from vibeimg.masks.jobs import (
        ConversionInterrupted,
        ConvertSettings,
        MaskFailure,
        MaskResult,
        convert_files,
        convert_job,
        plan_jobs,
        run_error,
        worker_count,
    )
    from vibeimg.records.rundoc import ending_fields
    from vibeimg.ui import Reporter

    reporter = Reporter(quiet=quiet)
    inputs, output = inputs_and_output(paths, out_dir, output_opt)
    plan = plan_jobs(inputs, output, out_dir, force=force, output_named=output_opt is not None)
    check_standard_streams(plan, json_output=json_output)
    if out_dir is not None:  # only once the plan holds: a refusal leaves no empty folder
        ensure_output_dir(out_dir)
    settings = ConvertSettings(
        invert=invert, threshold=threshold, from_grey=from_grey, force=force,
        match=image_dimensions(match, what="--match image") if match is not None else None,
    )

    def report(result: MaskResult | MaskFailure) -> None:
        if isinstance(result, MaskFailure):
            reporter.error(result.message)
            return
        source = "stdin" if result.source == STDIN else result.source
        target = "stdout" if result.destination == STDIN else result.destination
        for note in result.notes:
            reporter.info(f"{source}: {note}")
        resized = (f", resized from {result.resized_from[0]}x{result.resized_from[1]}"
                   if result.resized_from else "")
        reporter.info(f"{source} -> {target}: {result.stats.summary()}{resized}")
        problem = warning_for(result.stats)
        if problem:
            reporter.warn(f"{target}: {problem}")

    interrupted = False
    if len(plan) == 1:
        results: list[Any] = [convert_job(plan[0], settings, stdin=sys.stdin.buffer,
                                          stdout=sys.stdout.buffer)]
        report(results[0])
    else:
        try:
            results = convert_files(plan, settings, workers=worker_count(len(plan), jobs),
                                    on_done=report)
        except ConversionInterrupted as stopped:
            results, interrupted = stopped.results, True
    done = [r for r in results if isinstance(r, MaskResult)]
    failed = [r for r in results if isinstance(r, MaskFailure)]
    error = (Interrupted(f"interrupted: {len(done)} of {len(plan)} masks written",
                         hint="the masks written are complete")
             if interrupted else run_error(done, failed))
    if json_output:
        ending = ending_fields(error)
        print_json({
            "command": "mask-convert",
            "status": ending["status"],
            "masks": [r.as_json() for r in done],
            "failures": [f.as_json() for f in failed],
            "error": ending["error"],
            "exit_code": ending["exit_code"],
        })
    else:
        print_paths([Path(r.destination) for r in done if r.destination != STDIN])
    preview_saved([Path(r.destination) for r in done if r.destination != STDIN], reporter,
                  enabled=preview)
    if error is not None:
        raise error


def inputs_and_output(paths: list[str], out_dir: Path | None,
                      output_opt: str | None) -> tuple[list[str], str | None]:
    """The inputs, and the output named by -o or as the second argument."""
    from vibeimg.errors import UsageError

    if out_dir is not None:
        if output_opt is not None:
            raise UsageError("give either -o FILE or --out-dir, not both",
                             hint="with --out-dir every argument is an input")
        return paths, None
    if output_opt is not None:
        if len(paths) > 1:
            raise UsageError(f"{len(paths)} inputs given with -o, which names one output",
                             hint="vibeimg mask-convert a.png b.png --out-dir alpha/")
        return paths, output_opt
    if len(paths) > 2:
        raise UsageError(f"{len(paths)} paths given: several inputs need --out-dir",
                         hint="vibeimg mask-convert a.png b.png --out-dir alpha/")
    return paths[:1], paths[1] if len(paths) == 2 else None


def check_standard_streams(plan: Sequence[MaskJob], *, json_output: bool) -> None:
    """Refuse, before any work, what stdin and stdout cannot do: a mask read from a
    terminal, image bytes written to one, or image bytes sharing stdout with --json."""
    from vibeimg.errors import UsageError
    from vibeimg.files.inputs import STDIN
    from vibeimg.ui import is_terminal

    to_stdout = any(job.destination == STDIN for job in plan)
    if to_stdout and json_output:
        raise UsageError("the mask would go to stdout, and so would the --json document: "
                         "the image bytes and the JSON cannot share it",
                         hint="name an OUTPUT file (vibeimg mask-convert - mask.png --json), "
                              "or drop --json")
    if any(job.source == STDIN for job in plan) and is_terminal(sys.stdin):
        raise UsageError("'-' reads the mask from stdin, but stdin is a terminal",
                         hint="pipe it in: vibeimg mask-convert - < scribble.png > mask.png")
    if to_stdout and is_terminal(sys.stdout):
        raise UsageError("refusing to write image bytes to a terminal",
                         hint="redirect it (> mask.png) or name an OUTPUT file")
