"""How a batch run opens: its manifest claimed before anything is said or sent, and
its first lines written; and the run of a batch with nothing left to send."""

from __future__ import annotations

from vibeimg.batch.ledger import Ledger
from vibeimg.batch.limiter import AdaptiveLimit
from vibeimg.batch.outcomes import ItemOutcome
from vibeimg.batch.plan import BatchPlan
from vibeimg.batch.records import plan_record
from vibeimg.batch.result import BatchResult
from vibeimg.batch.writer import ManifestWriter
from vibeimg.files.writable import ensure_output_dir


def claim(plan: BatchPlan) -> ManifestWriter:
    """The run's manifest, opened and locked: refused (UsageError) while another run
    writes it, before anything is said or sent."""
    ensure_output_dir(plan.out_dir)
    return ManifestWriter(plan.manifest_path)


def open_run(manifest: ManifestWriter, plan: BatchPlan) -> None:
    """The run's first lines: its plan, the images a killed run saved without recording
    them, and the requests it left on the wire (of unknown outcome)."""
    manifest.append(plan_record(plan))
    for record in (*plan.recovered, *plan.unanswered.values()):
        manifest.append(record)


def nothing_to_send(plan: BatchPlan, manifest: ManifestWriter, *,
                    concurrency: int) -> BatchResult:
    """The result of a run whose items were all done before: no connection needed.

    The run is still recorded, so that a merge knows this shard ran (even empty)."""
    plan.settle()
    open_run(manifest, plan)
    return BatchResult(outcomes=Ledger(plan), elapsed=0.0, limiter=AdaptiveLimit(concurrency))


def unanswered_outcomes(plan: BatchPlan) -> list[ItemOutcome]:
    """The items a killed run left on the wire, first reported by this run: of unknown
    outcome, each with its possible cost."""
    return [ItemOutcome(item, "unknown", plan.held[item.key]) for item in plan.selected
            if item.key in plan.unanswered and item.key in plan.held]
