"""A spending run's one history row, from before its first request to its end.

Just before each send of its requests goes out (``before_send``, called by the client
from the thread that sends), the row's count of requests sent and what they may have
cost are committed: the first send inserts the row, ``running``, owned by this process
(:mod:`vibeimg.records.owners`); the others update it. A commit in write-ahead logging
with ``synchronous = NORMAL`` is written to the log without a sync: a killed process
loses none of it, and a send waits on no disk. ``finish`` makes that same row the
run's record (never a second row); a run that never sent is inserted then, as before.
If the process dies first, the next opening of the history marks the row ``killed``
(:mod:`vibeimg.records.killed`).

The history never stops a request: a failure to write is warned about once, and the
run goes on (its end is recorded if the database allows it by then).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from types import TracebackType

from vibeimg.errors import VibeimgError, run_status
from vibeimg.records.history import History, HistoryError, now_utc
from vibeimg.records.owners import new_owner
from vibeimg.records.pricing import Price
from vibeimg.records.runs import Entry


class RunInProgress:
    """The row of one run: ``with RunInProgress(...) as run:``, ``run.before_send`` to
    the client's sends, ``run.finish(entry)`` at its end."""

    def __init__(self, entry: Entry, cost_per_send: Price, *, offline: Callable[[], bool],
                 warn: Callable[[str], None]) -> None:
        self.entry = dataclasses.replace(entry, outcome="running", created=now_utc(),
                                         cost_extrapolated=cost_per_send.extrapolated)
        self.cost_per_send = cost_per_send
        self.offline = offline  # known once an answer says it came from the emulator
        self.warn = warn
        self.owner = new_owner().text()
        self.sent = 0
        self.written = False  # the row is in the database
        self.ended = False
        self._broken = False  # a write failed: no more until the end
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._history: History | None = None

    def __enter__(self) -> RunInProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """A run that ends by an error no command expects still gets its record."""
        try:
            if not self.ended and self.written:
                if isinstance(error, VibeimgError):
                    outcome, text = run_status(error), error.one_line()
                elif isinstance(error, KeyboardInterrupt):
                    outcome, text = "interrupted", "interrupted"
                else:
                    outcome, text = "failed", f"internal error: {type(error).__name__}: {error}"
                self.finish(dataclasses.replace(self.entry, outcome=outcome, error=text))
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._history is not None:
                self._history.close()
                self._history = None

    def _database(self) -> History:
        if self._history is None:
            self._history = History()
        return self._history

    def _warn_once(self, exc: HistoryError) -> None:
        message = exc.one_line()
        if message not in self._warned:
            self._warned.add(message)
            self.warn(message)

    def before_send(self, _attempts: object = None) -> None:
        """One more send is about to go out: committed first, so that nothing is spent
        that the history does not know of."""
        with self._lock:
            self.sent += 1
            if self._broken or self.ended:
                return
            entry = self.entry
            entry.requests_sent = self.sent
            entry.possible_cost_usd = self.cost_per_send.times(self.sent).usd
            entry.offline = entry.offline or self.offline()
            try:
                database = self._database()
                if self.written:
                    database.update_in_progress(self.owner, entry)
                else:
                    database.add(entry, owner=self.owner)
                    self.written = True
            except HistoryError as exc:
                self._broken = True
                self._warn_once(exc)

    def finish(self, entry: Entry) -> int | None:
        """Record the run's end as ``entry``: its row becomes that; its id, or None when
        the history failed (warned about)."""
        with self._lock:
            self.ended = True
            entry.requests_sent = self.sent
            entry.created = self.entry.created
            try:
                database = self._database()
                if self.written and database.finish_in_progress(self.owner, entry):
                    return entry.id
                return database.add(entry)
            except HistoryError as exc:
                self._warn_once(exc)
                return None
