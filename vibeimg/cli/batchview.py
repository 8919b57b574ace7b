"""Batch progress on stderr: a live bar in a terminal, plain periodic lines in CI logs."""

from __future__ import annotations

import time
from typing import Any

from vibeimg.batch.outcomes import BatchResult, ItemOutcome, Progress
from vibeimg.ui import Reporter
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
              shard: str | None) -> None:
        where = f"shard {shard}: " if shard else ""
        self.reporter.info(
            f"batch: {where}{to_send} to send ({done_before} already done), "
            f"concurrency {concurrency}, estimated ${cost:.3f}")
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

            self._bar.console.print(Text(f"error: {message}", style="red"))
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

    def finish(self, result: BatchResult) -> None:
        self.close()
        limiter = result.limiter
        slowed = (f"; the gateway was busy {limiter.throttles} times, concurrency went down "
                  f"to {limiter.lowest}" if limiter.throttles else "")
        unknown = sum(result.count(s) for s in ("unknown", "abandoned", "not-resent"))
        possible = (f", and up to ${result.possible:.3f} possibly billed for items without an "
                    "image" if result.possible else "")
        self.reporter.info(
            f"batch: {result.count('done')} done, {result.count('skipped')} already done, "
            f"{result.count('failed')} failed, "
            + (f"{unknown} of unknown outcome, " if unknown else "")
            + f"{result.count('not-run')} not run in "
            f"{result.elapsed:.1f} s, estimated ${result.spent:.3f}{possible}{slowed}")
