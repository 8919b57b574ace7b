"""``vibeimg batch-merge``: the manifests of a batch's shards joined into one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vibeimg.cli import options as opt
from vibeimg.cli.batch import ReportOpt, SummaryJson, print_summary
from vibeimg.ui import Reporter, is_terminal
from vibeimg.units import count_of

MergeSources = Annotated[list[Path], typer.Argument(
    metavar="SOURCE...", show_default=False,
    help="Output folders of the shards (or their manifest files).")]
MergeOutDir = Annotated[Path, typer.Option(
    "--out-dir", "-d", metavar="DIR", file_okay=False,
    help="Folder for the merged manifest; image paths are written relative to it.")]


def batch_merge(
    sources: MergeSources,
    out_dir: MergeOutDir = Path(),
    report: ReportOpt = None,
    json_output: SummaryJson = False,
    quiet: opt.Quiet = False,
) -> None:
    """Join the manifests of a batch's shards into one.

    Writes one merged manifest (and, with --report, one HTML report) for the shards' output folders, for instance the artifacts of a CI matrix downloaded into one folder.

    Prints a JSON summary on stdout (on a terminal, a few lines for people; --json for the JSON there too); exits with the partial-success code when an item failed, never ran, or a shard is missing.

    Example:

      vibeimg batch-merge shard-1 shard-2 shard-3 -d all --report all/report.html
    """
    from vibeimg.batch.merge import merge_manifests
    from vibeimg.batch.report import render_report
    from vibeimg.files.atomic import write_atomically

    reporter = Reporter(quiet=quiet)
    result = merge_manifests(list(sources), out_dir)
    if result.skipped_lines:
        reporter.warn(f"skipped {count_of(result.skipped_lines, 'unreadable manifest line')}")
    for missing in result.missing_shards:
        reporter.warn(f"shard {missing} is missing: its items are not in the merge")
    if report is not None:
        notes = [f"Missing shards: {', '.join(result.missing_shards)}."] \
            if result.missing_shards else []
        page = render_report(result.records, base_dir=out_dir, link_dir=report.parent,
                             title="vibeimg batch (merged)", notes=notes)
        report.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(report, page.encode("utf-8"))
    for_people = not json_output and is_terminal(sys.stdout)
    if not for_people:
        reporter.info(f"batch-merge: {result.count('ok')} done, {result.count('failed')} "
                      f"failed, {result.count('not-run')} not run, {count_of(len(result.records), 'item')}")
    print_summary(result.summary(str(report) if report is not None else None),
                   for_people=for_people)
    result.raise_for_result()
