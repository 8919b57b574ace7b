"""Batch progress on stderr: a live bar in a terminal, plain periodic lines in CI logs."""

from __future__ import annotations

import time
from typing import Any

from vibeimg.batch.runner import BatchResult, ItemOutcome, Progress
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
    return text + f", ETA {_clock(p.eta)}, ${p.spent:.3f} spent"


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
        if outcome.status != "failed" or outcome.error is None:
            return
        message = f"line {outcome.item.line}: {outcome.error.one_line()}"
        if self._bar is not None:
            from rich.text import Text

            self._bar.console.print(Text(f"error: {printable(message)}", style="red"))
        else:
            self.reporter.error(message)

    def interrupted(self, in_flight: int) -> None:
        message = (f"interrupted: waiting for the {count_of(in_flight, 'request')} in flight, "
                   "already sent and billed; press Ctrl-C again to abandon them")
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

    def finish(self, result: BatchResult) -> None:
        self.close()
        limiter = result.limiter
        slowed = (f"; the gateway was busy {limiter.throttles} times, concurrency went down "
                  f"to {limiter.lowest}" if limiter.throttles else "")
        self.reporter.info(
            f"batch: {result.count('done')} done, {result.count('skipped')} already done, "
            f"{result.count('failed')} failed, {result.count('not-run')} not run in "
            f"{result.elapsed:.1f} s, estimated "
            f"{shown(result.spent, result.cost_extrapolated, offline=result.offline)}"
            f"{slowed}")
