"""How a batch run went: its items' outcomes (a :class:`~vibeimg.batch.ledger.Ledger`),
its totals and how it ended; and the snapshots progress displays are drawn from.

Costs come in two figures: the images received (``spent``) and what the items without
an image may have cost (``possible``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vibeimg.batch.ledger import Ledger
from vibeimg.batch.limiter import AdaptiveLimit
from vibeimg.errors import VibeimgError


@dataclass
class Progress:
    """A snapshot for progress displays."""

    total: int  # items this run set out to send
    skipped: int
    done: int
    failed: int  # failed, or of unknown outcome
    in_flight: int
    limit: int
    spent: float  # the images received
    elapsed: float
    possible: float = 0.0  # may have been billed, no image received

    @property
    def eta(self) -> float | None:
        finished = self.done + self.failed
        if not finished or finished >= self.total:
            return None
        return self.elapsed / finished * (self.total - finished)


@dataclass
class BatchResult:
    """How a run went: every item's outcome (a :class:`~vibeimg.batch.ledger.Ledger`,
    read in the plan's order), the totals, and how the run ended."""

    outcomes: Ledger
    elapsed: float
    limiter: AdaptiveLimit
    interrupted: bool = False
    stopped_by: VibeimgError | None = None
    cleaned: list[Path] = field(default_factory=list)
    offline: bool = False  # sent to vibeimg's emulator: nothing billed

    def count(self, status: str) -> int:
        return self.outcomes.count(status)

    @property
    def spent(self) -> float:
        """The estimated cost of the images received in this run."""
        return self.outcomes.spent

    @property
    def possible(self) -> float:
        """What this run's items without an image may have cost (billed but unusable,
        outcome unknown, abandoned on the wire)."""
        return self.outcomes.possible

    @property
    def cost_extrapolated(self) -> bool:
        """Whether :attr:`spent` or :attr:`possible` includes an extrapolated price."""
        return self.outcomes.cost_extrapolated
