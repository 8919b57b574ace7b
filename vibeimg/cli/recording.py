"""Recording runs in the history from the commands: one call, never fatal.

``record_run(reporter, enabled, entry)`` stores an :class:`~vibeimg.records.runs.Entry`
that the job built of its run (:mod:`vibeimg.jobs.entries`). A run that spends is
recorded from before its first request goes out, as a :class:`RunRecord`
(:mod:`vibeimg.records.inprogress`), so that a process killed half-way leaves its
requests in the history. A locked or damaged database becomes a warning: the images
are saved whatever happens to the history.
``enabled`` comes from the command's ``--history/--no-history`` option; a batch hands
its items to a :class:`BackgroundRecorder`. A run refused before anything was sent (a
usage error) is no run and is not recorded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from vibeimg.ui import Reporter

if TYPE_CHECKING:
    from vibeimg.records.inprogress import RunInProgress
    from vibeimg.records.pricing import Price
    from vibeimg.records.runs import Entry
    from vibeimg.wire.retry import Attempts

# One writer at a time within a run (batch items finish on many threads): the
# database's own lock is then only ever waited on by other processes.
_WRITING = threading.Lock()
BATCH_ROWS = 500  # the most runs recorded in one transaction
GATHER_SECONDS = 0.2  # how long a transaction waits for more runs to record with it


def record_run(reporter: Reporter, enabled: bool, entry: Entry) -> int | None:
    """Record one run; returns its id, or None when off or when the history failed."""
    if not enabled:
        return None
    try:
        from vibeimg.records import history  # sqlite only when recording
    except ImportError as exc:  # a Python built without sqlite3
        reporter.warn(f"not recorded in the history: {exc}")
        return None
    try:
        with _WRITING:
            return history.record(entry)
    except history.HistoryError as exc:
        reporter.warn(f"not recorded in the history: {exc.one_line()}")
    return None


class RunRecord:
    """One run's history row from before its first send to its end (nothing when
    ``enabled`` is False): ``before_send`` goes to the job, ``finish`` at the end.
    Use it with ``with``: a run that ends by an unexpected error still gets its end."""

    def __init__(self, reporter: Reporter, enabled: bool, entry: Entry, cost_per_send: Price,
                 offline: Callable[[], bool]) -> None:
        self.run: RunInProgress | None = None
        if not enabled:
            return
        try:
            from vibeimg.records.inprogress import RunInProgress  # sqlite only when recording
        except ImportError as exc:  # a Python built without sqlite3
            reporter.warn(f"not recorded in the history: {exc}")
            return
        self.run = RunInProgress(
            entry, cost_per_send, offline=offline,
            warn=lambda message: reporter.warn(f"not recorded in the history: {message}"))

    def __enter__(self) -> RunRecord:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.run is not None:
            self.run.__exit__(kind, error, traceback)

    @property
    def before_send(self) -> Callable[[Attempts], None] | None:
        return self.run.before_send if self.run is not None else None

    def finish(self, entry: Entry) -> int | None:
        """Record the run's end as ``entry``; its id, or None (off, or failed: warned)."""
        return self.run.finish(entry) if self.run is not None else None


class BackgroundRecorder:
    """Records many runs (a batch's items) from one thread of its own, on one open
    database, so that no worker waits on SQLite before sending its next request; the
    runs queued while a transaction commits go in the next one together.

    ``close()`` waits for every queued record. A failure is warned about once per
    distinct message; the images are saved whatever happens to the history.
    """

    def __init__(self, reporter: Reporter, enabled: bool) -> None:
        self._reporter = reporter
        self._enabled = enabled
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self._closing = threading.Event()

    def add(self, entry: Entry | None) -> None:
        if not self._enabled or entry is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_all, name="vibeimg-history",
                                            daemon=True)
            self._thread.start()
        self._queue.put(entry)

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._reporter.warn(f"not recorded in the history: {message}")

    def _write_all(self) -> None:
        try:
            from vibeimg.records import history
        except ImportError as exc:  # a Python built without sqlite3
            self._warn(str(exc))
            while self._queue.get() is not None:
                pass
            return
        with history.History() as database:
            closing = False
            while not closing:
                # Whatever finished meanwhile goes in one transaction: one commit for
                # many items, so the history keeps up with the fastest batch.
                entries = [self._queue.get()]
                if entries[0] is not None:
                    # Let the runs finishing meanwhile queue up, without being woken by
                    # each (a closing recorder cuts the wait short), then take them all.
                    self._closing.wait(GATHER_SECONDS)
                while len(entries) < BATCH_ROWS and entries[-1] is not None:
                    try:
                        entries.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                closing = entries[-1] is None
                rows = [entry for entry in entries if entry is not None]
                try:
                    with _WRITING:
                        database.add_many(rows)
                except history.HistoryError as exc:
                    self._warn(exc.one_line())
