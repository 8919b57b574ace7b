"""What became of each item of a run, kept small: a status and a manifest offset each.

A run of 10,000 items does not hold 10,000 records: each finished item's line is in the
manifest already, so the ledger keeps where that line starts, and the summary and the
report read the lines back one at a time, in the plan's order. Kept in memory are only
the records the manifest does not have (its writing failed) and those of the few items
the run's ending speaks of: failed, of unknown outcome, abandoned, not sent again. An
item a killed run left on the wire is of unknown outcome in the first run to find it
(which reports it, with its possible cost), and ``not-resent`` in the runs after. The
totals (statuses, the two costs) are kept as items finish, so a progress tick and the
summary's counts never go over the items.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from fractions import Fraction

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import LineReader, Record
from vibeimg.batch.outcomes import SENT, ItemOutcome
from vibeimg.batch.plan import BatchPlan
from vibeimg.batch.records import EarlierUnknown, possible_cost
from vibeimg.errors import VibeimgError

#: Every status an item can have (see :mod:`vibeimg.batch.outcomes`), by its code.
STATUSES = ("not-run", "done", "skipped", "failed", "unknown", "abandoned", "not-resent")
_CODE = {status: code for code, status in enumerate(STATUSES)}
#: Statuses whose record and error stay in memory: the ending names these items.
KEPT = ("failed", "unknown", "abandoned", "not-resent")
#: Statuses whose record may have cost something without an image (a done item's
#: earlier attempts of unknown outcome, resent with --retry-unknown, among them).
POSSIBLE = ("done", "failed", "unknown", "abandoned")


class Ledger:
    """Each item of ``plan.selected`` by its position: its status, and where its line
    is in the manifest (or its record, when it is not there). Not thread-safe: the
    runner changes it under its own lock."""

    def __init__(self, plan: BatchPlan) -> None:
        self.items = plan.selected
        self.manifest_path = plan.manifest_path
        count = len(self.items)
        self._status = bytearray(count)  # codes of STATUSES, all "not-run"
        self._offset = array("q", [-1]) * count  # where each item's line starts
        self._kept: dict[int, tuple[Record, VibeimgError | None]] = {}
        self._counts = dict.fromkeys(STATUSES, 0)
        self._counts["not-run"] = count
        # Exact sums (a float sum would depend on the order items finish in).
        self._spent = Fraction(0)
        self._possible = Fraction(0)
        self.cost_extrapolated = False
        for position, item in enumerate(self.items):
            if item.key in plan.done:
                self._set(position, "skipped")
                self._kept[position] = (plan.done[item.key], None)
            elif item.key in plan.unanswered and item.key in plan.held:
                # Left on the wire by a killed run, which could not say so: this run does.
                record = plan.held[item.key]
                self.finish(position, "unknown", record, EarlierUnknown(record))
            elif item.key in plan.held:
                record = plan.held[item.key]
                self._set(position, "not-resent")
                self._kept[position] = (record, EarlierUnknown(record))

    def __len__(self) -> int:
        return len(self.items)

    def _set(self, position: int, status: str) -> None:
        self._counts[STATUSES[self._status[position]]] -= 1
        self._counts[status] += 1
        self._status[position] = _CODE[status]

    def status(self, position: int) -> str:
        return STATUSES[self._status[position]]

    def count(self, status: str) -> int:
        return self._counts[status]

    def finish(self, position: int, status: str, record: Record,
               error: VibeimgError | None = None, offset: int = -1) -> None:
        """Item ``position`` ended as ``status``; its line starts at ``offset`` in the
        manifest (-1: it is not there, and the record is kept)."""
        self._set(position, status)
        self._offset[position] = offset
        if offset < 0 or status in KEPT:
            self._kept[position] = (record, error)
        if status == "done":
            self._spent += Fraction(float(record.get("estimated_cost_usd") or 0))
        if status in POSSIBLE:
            self._possible += Fraction(possible_cost(record))
        if status in SENT and record.get("cost_extrapolated"):
            self.cost_extrapolated = True

    @property
    def spent(self) -> float:
        """The estimated cost of the images received in this run."""
        return round(float(self._spent), 4)

    @property
    def possible(self) -> float:
        """What this run's items may have cost without an image for it (billed but
        unusable, outcome unknown, abandoned on the wire, attempts of unknown outcome
        before an image arrived)."""
        return round(float(self._possible), 4)

    def kept(self, *statuses: str) -> Iterator[ItemOutcome]:
        """The items of these statuses (records kept in memory), in the plan's order."""
        wanted = {_CODE[status] for status in statuses}
        for position in sorted(self._kept):
            if self._status[position] in wanted:
                record, error = self._kept[position]
                yield ItemOutcome(self.items[position], self.status(position), record, error)

    def __iter__(self) -> Iterator[ItemOutcome]:
        """Every item's outcome in the plan's order, records read back from the manifest
        one at a time (an item whose line cannot be read back has none)."""
        reader = LineReader(self.manifest_path)
        try:
            for position, item in enumerate(self.items):
                yield self._outcome(position, item, reader)
        finally:
            reader.close()

    def _outcome(self, position: int, item: BatchItem, reader: LineReader) -> ItemOutcome:
        status = self.status(position)
        kept = self._kept.get(position)
        if kept is not None:
            return ItemOutcome(item, status, kept[0], kept[1])
        offset = self._offset[position]
        record = reader.record(offset, item.key) if offset >= 0 else None
        return ItemOutcome(item, status, record)
