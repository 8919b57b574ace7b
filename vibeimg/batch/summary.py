"""A batch's outcome: the summary document on stdout, and the exit code it earns."""

from __future__ import annotations

from typing import Any

from vibeimg.batch.manifest import Record
from vibeimg.batch.plan import BatchPlan
from vibeimg.batch.runner import BatchResult
from vibeimg.errors import Interrupted, PartialFailure, VibeimgError
from vibeimg.records.rundoc import ending_fields

RESUME_HINT = "rerun the same command: finished items are skipped, the rest are sent"


def summarize(result: BatchResult, plan: BatchPlan, *, source: str,
              error: VibeimgError | None, report: str | None = None) -> dict[str, Any]:
    """Every item's outcome, the totals and the cost, as one JSON document; ``error``
    is the run's own (from :func:`batch_error`), for the fields every run document has."""
    limiter = result.limiter
    ending = ending_fields(error)
    return {
        "command": "batch",
        "status": ending["status"],
        "file": source,
        "shard": str(plan.shard) if plan.shard else None,
        "out_dir": str(plan.out_dir),
        "manifest": str(plan.manifest_path),
        "report": report,
        "items_in_file": len(plan.items),
        "items": len(result.outcomes),
        "done": result.count("done"),
        "skipped": result.count("skipped"),
        "failed": result.count("failed"),
        "not_run": result.count("not-run"),
        "interrupted": result.interrupted,
        "elapsed_seconds": round(result.elapsed, 3),
        "estimated_cost_usd": result.spent,
        "cost_extrapolated": result.cost_extrapolated,
        "offline": result.offline,
        "concurrency": {
            "asked": limiter.maximum, "lowest": limiter.lowest, "final": limiter.limit,
            "busy_refusals": limiter.throttles,
        },
        "outcomes": [o.as_json(plan.out_dir) for o in result.outcomes],
        "error": ending["error"],
        "exit_code": ending["exit_code"],
    }


def batch_error(result: BatchResult) -> VibeimgError | None:
    """The error the batch ends with: None for success, else partial success, Ctrl-C,
    or the failure's own exit code (README, exit codes). Call it once per result."""
    failed = [o.error for o in result.outcomes if o.status == "failed" and o.error]
    finished = result.count("done") + result.count("skipped")
    not_run = result.count("not-run")
    if result.interrupted:
        return Interrupted(
            f"interrupted: {finished} of {len(result.outcomes)} items done, "
            f"{len(failed)} failed, {not_run} not run", hint=RESUME_HINT)
    if result.stopped_by is not None:
        error = result.stopped_by
        error.message = f"batch stopped, {not_run} items not sent: {error.message}"
        return error
    if not failed:
        return None
    if finished == 0:
        first: VibeimgError = failed[0]
        if len(failed) > 1:
            first.message = f"all {len(failed)} items failed; the first: {first.message}"
        return first
    return PartialFailure(
        f"{finished} of {len(result.outcomes)} items done, {len(failed)} failed "
        f"({RESUME_HINT})", failures=list(failed),
    )


def report_records(result: BatchResult) -> list[Record]:
    """One manifest-style record per item for the report, not-run items included."""
    records: list[Record] = []
    for outcome in result.outcomes:
        if outcome.record is not None:
            records.append(outcome.record)
            continue
        item = outcome.item
        records.append({
            "type": "item", "status": "not-run", "key": item.key, "line": item.line,
            "index": item.index, "kind": item.kind, "prompt": item.prompt,
            "parameters": {"model": item.options.model, **item.options.tool_fields()},
        })
    return records
