"""Recording runs in the history from the commands: one call, never fatal.

``record_run(reporter, enabled, entry)`` stores an :class:`~vibeimg.records.runs.Entry`
that the job built of its run (:mod:`vibeimg.jobs.entries`). A locked or damaged
database becomes a warning: the images are saved whatever happens to the history.
``enabled`` comes from the command's ``--history/--no-history`` option; a batch hands
its items to a :class:`BackgroundRecorder`. A run refused before anything was sent (a
usage error) is no run and is not recorded.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

from vibeimg.ui import Reporter

if TYPE_CHECKING:
    from vibeimg.records.runs import Entry

# One writer at a time within a run (batch items finish on many threads): the
# database's own lock is then only ever waited on by other processes.
_WRITING = threading.Lock()


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


class BackgroundRecorder:
    """Records many runs (a batch's items) from one thread of its own, on one open
    database, so that no worker waits on SQLite before sending its next request.

    ``close()`` waits for every queued record. A failure is warned about once per
    distinct message; the images are saved whatever happens to the history.
    """

    def __init__(self, reporter: Reporter, enabled: bool) -> None:
        self._reporter = reporter
        self._enabled = enabled
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    def add(self, entry: Entry | None) -> None:
        if not self._enabled or entry is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_all, name="vibeimg-history",
                                            daemon=True)
            self._thread.start()
        self._queue.put(entry)

    def close(self) -> None:
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
            while (entry := self._queue.get()) is not None:
                try:
                    with _WRITING:
                        database.add(entry)
                except history.HistoryError as exc:
                    self._warn(exc.one_line())
