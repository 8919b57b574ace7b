"""A recorded run, as the history keeps it: what was asked, what came of it, its cost.

Plain data, without SQLite, so that a command can describe its run before (and
whether or not) the database is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from vibeimg.errors import RunStatus

#: What the history says of a run: how it ended, or ``running`` (its requests are
#: going out now) and ``killed`` (its process ended before it could record how).
RecordedStatus = RunStatus | Literal["running", "killed"]


@dataclass
class Entry:
    """One recorded run."""

    command: str
    prompt: str
    revised_prompt: str | None = None
    model: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    estimated_cost_usd: float = 0.0  # the images received
    # Some of the cost (or of possible_cost_usd) is priced outside the published table.
    cost_extrapolated: bool = False
    outcome: RecordedStatus = "completed"  # vibeimg.errors.run_status of its ending
    error: str | None = None
    offline: bool = False  # against vibeimg's emulator: nothing was billed
    images: int = 0
    elapsed_seconds: float | None = None
    created: str = ""
    id: int | None = None
    # What may have been billed with no image received: outcome unknown, or an answer
    # billed but unusable (bad base64, not an image, refused by the disk).
    possible_cost_usd: float = 0.0
    # The sends of its requests that went out (each counted just before it did), when
    # the run was recorded from its first one; None for a batch's item.
    requests_sent: int | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CostSummary:
    """Estimated spend over a period.

    Offline runs (the emulator's) cost nothing: they are counted apart, with what they
    would have cost, and left out of the totals unless ``include_offline``.
    """

    since: str | None
    until: str | None
    runs: int
    images: int
    estimated_cost_usd: float
    by_command: dict[str, float]
    offline_runs: int
    possible_cost_usd: float = 0.0  # may have been billed, no image received
    offline_estimated_cost_usd: float = 0.0  # what the offline runs would have cost
    include_offline: bool = False  # the totals above include the offline runs
    extrapolated_runs: int = 0  # runs counted whose cost is partly extrapolated
    # Runs whose process was killed before they recorded their end, and what their
    # requests sent may have cost (part of possible_cost_usd); runs going on now.
    killed_runs: int = 0
    killed_possible_cost_usd: float = 0.0
    running_runs: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def sum_usage(usages: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Token usage of several images added up (numbers summed, nested tables too)."""
    present = [u for u in usages if isinstance(u, dict)]
    if not present:
        return None
    total: dict[str, Any] = {}
    for usage in present:
        _add_usage(total, usage)
    return total


def _add_usage(total: dict[str, Any], usage: dict[str, Any]) -> None:
    for key, value in usage.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            inner = total.setdefault(key, {})
            if isinstance(inner, dict):
                _add_usage(inner, value)
