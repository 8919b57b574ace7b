"""Batch progress on stderr: a live bar in a terminal, plain periodic lines in CI logs."""

from __future__ import annotations

import time
from typing import Any

from vibeimg.batch.outcomes import ItemOutcome
from vibeimg.batch.result import BatchResult, Progress
from vibeimg.records.pricing import shown
from vibeimg.ui import Reporter, printable
from vibeimg.units import count_of


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_text(p: Progress) -> str:
    """One line: done, failed, in flight, ETA and money spent so far."""
    text = (f"{p.done + p.failed}/{p.total} sent: {p.done} done, {p.failed} failed, "
            f"{p.in_flight} in flight (limit {p.limit})")
    possible = f" (and up to ${p.possible:.3f} possibly)" if p.possible else ""
    return text + f", ETA {_clock(p.eta)}, ${p.spent:.3f} spent{possible}"


class BatchView:
    """Shows a batch's progress; every method is safe to call from the workers."""

    def __init__(self, reporter: Reporter, *, interval: float = 10.0) -> None:
        self.reporter = reporter
        self.interval = interval
        self._last = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def start(self, *, to_send: int, done_before: int, concurrency: int, cost: float,
              shard: str | None, extrapolated: bool = False, offline: bool = False) -> None:
        where = f"shard {shard}: " if shard else ""
        self.reporter.info(
            f"batch: {where}{to_send} to send ({done_before} already done), "
            f"concurrency {concurrency}, estimated "
            f"{shown(cost, extrapolated, offline=offline)}")
        if not self.reporter.interactive or not to_send:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
        )

        self._bar = Progress(
            SpinnerColumn(), TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}", markup=False),
            console=self.reporter.console, transient=True,
        )
        self._task = self._bar.add_task("batch", total=to_send, detail="")
        self._bar.start()

    def event(self, outcome: ItemOutcome) -> None:
        if outcome.status == "abandoned":
            message = (f"line {outcome.item.line}: abandoned on the wire; it may have been "
                       "billed, and a rerun sends it again only with --retry-unknown")
        elif outcome.status in ("failed", "unknown") and outcome.error is not None:
            message = f"line {outcome.item.line}: {outcome.error.one_line()}"
        else:
            return
        if self._bar is not None:
            from rich.text import Text

            self._bar.console.print(Text(f"error: {printable(message)}", style="red"))
        else:
            self.reporter.error(message)

    def interrupted(self, on_wire: int) -> None:
        """Ctrl-C came with ``on_wire`` requests sent and not yet answered (those waiting
        to be retried were dropped: never sent, never billed)."""
        message = (f"interrupted: nothing more is sent; waiting for the "
                   f"{count_of(on_wire, 'request')} on the wire, which the gateway is making "
                   "and bills anyway; press Ctrl-C again to abandon them")
        if self._bar is not None:
            self._bar.console.print(message, markup=False)
        else:
            self.reporter.info(message)

    def tick(self, progress: Progress) -> None:
        if self._bar is not None:
            detail = (f"{progress.failed} failed, {progress.in_flight} in flight, "
                      f"ETA {_clock(progress.eta)}, ${progress.spent:.3f}")
            self._bar.update(self._task, completed=progress.done + progress.failed,
                             detail=detail)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.reporter.info(f"batch: {progress_text(progress)}")

    def close(self) -> None:
        """Take the bar down (the run ended, or failed)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def finish(self, result: BatchResult, *, summary_on_stdout: bool = False) -> None:
        """Take the bar down and say how it went (unless stdout, a terminal, says it)."""
        self.close()
        if summary_on_stdout:
            return
        limiter = result.limiter
        slowed = (f"; the gateway was busy {count_of(limiter.throttles, 'time')}, concurrency "
                  f"went down to {limiter.lowest}" if limiter.throttles else "")
        unknown = sum(result.count(s) for s in ("unknown", "abandoned", "not-resent"))
        possible = (f", and up to ${result.possible:.3f} possibly billed with no "
                    "image received" if result.possible else "")
        self.reporter.info(
            f"batch: {result.count('done')} done, {result.count('skipped')} already done, "
            f"{result.count('failed')} failed, "
            + (f"{unknown} of unknown outcome, " if unknown else "")
            + f"{result.count('not-run')} not run in {result.elapsed:.1f} s, estimated "
            f"{shown(result.spent, result.cost_extrapolated, offline=result.offline)}"
            f"{possible}{slowed}")


FAILURES_SHOWN = 5  # a summary for people: the rest are in the JSON and the report


def summary_text(document: dict[str, Any]) -> str:
    """A batch's JSON summary (``vibeimg.batch.summary.summarize``), told in a few lines
    for a person at a terminal: how it ended, counts, cost, failures, where things are."""
    shard = f" (shard {document['shard']})" if document.get("shard") else ""
    lines = [f"batch {document.get('file')}{shard}: {document.get('status')}"]
    unknown = int(document.get("unknown") or 0)
    counts = (f"{document.get('done', 0)} done, {document.get('skipped', 0)} already done, "
              f"{document.get('failed', 0)} failed, "
              + (f"{unknown} of unknown outcome, " if unknown else "")
              + f"{document.get('not_run', 0)} not run")
    lines.append(f"  {count_of(int(document.get('items', 0)), 'item')}: {counts} "
                 f"in {float(document.get('elapsed_seconds') or 0):.1f} s")
    lines += _cost_lines(document)
    busy = (document.get("concurrency") or {}).get("busy_refusals") or 0
    if busy:
        lowest = (document.get("concurrency") or {}).get("lowest")
        lines.append(f"  the gateway was busy {count_of(int(busy), 'time')}; concurrency "
                     f"went down to {lowest}")
    lines += _failure_lines(document)
    lines.append(f"  images in {document.get('out_dir')}, manifest {document.get('manifest')}")
    if document.get("report"):
        lines.append(f"  report {document['report']}")
    lines.append("  every item's outcome: add --json, or pipe the output")
    return "\n".join(lines)


def merge_summary_text(document: dict[str, Any]) -> str:
    """``batch-merge``'s JSON summary, told in a few lines for a person."""
    shards = document.get("shards") or []
    lines = [f"batch-merge: {document.get('status')}"]
    if shards:
        lines.append(f"  shards {', '.join(str(s) for s in shards)}")
    unknown = int(document.get("unknown") or 0)
    lines.append(f"  {count_of(int(document.get('items', 0)), 'item')}: "
                 f"{document.get('done', 0)} done, {document.get('failed', 0)} failed, "
                 + (f"{unknown} of unknown outcome, " if unknown else "")
                 + f"{document.get('not_run', 0)} not run")
    lines += _cost_lines(document)
    if document.get("missing_shards"):
        lines.append(f"  missing shards: {', '.join(document['missing_shards'])}")
    lines += _failure_lines(document)
    lines.append(f"  manifest {document.get('manifest')}")
    if document.get("report"):
        lines.append(f"  report {document['report']}")
    lines.append("  every item's outcome: add --json, or pipe the output")
    return "\n".join(lines)


def _cost_lines(document: dict[str, Any]) -> list[str]:
    """The cost of the images received, and apart from it what may have been billed for
    no image received (outcome unknown, or billed but unusable); each says when it
    is extrapolated or offline (nothing billed)."""
    extrapolated, offline = bool(document.get("cost_extrapolated")), bool(document.get("offline"))
    lines = [f"  estimated cost "
             f"{shown(float(document.get('estimated_cost_usd') or 0), extrapolated, offline=offline)}"]
    possible = float(document.get("possible_cost_usd") or 0)
    if possible:
        lines.append(f"  possibly billed ${possible:.3f} more, with no image received")
    return lines


def _failure_lines(document: dict[str, Any]) -> list[str]:
    failed = [o for o in document.get("outcomes") or [] if o.get("status") == "failed"]
    lines = [f"  failed: line {o.get('line')}: {_one_line(str(o.get('error') or '?'))}"
             for o in failed[:FAILURES_SHOWN]]
    if len(failed) > FAILURES_SHOWN:
        lines.append(f"  ... and {len(failed) - FAILURES_SHOWN} more failed")
    return lines


def _one_line(text: str) -> str:
    """An error from a manifest, on one line and free of control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
