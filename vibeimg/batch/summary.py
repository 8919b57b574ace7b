"""A batch's outcome: the summary document on stdout, and the exit code it earns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vibeimg.batch.manifest import Record
from vibeimg.batch.plan import BatchPlan
from vibeimg.batch.records import possible_cost
from vibeimg.batch.result import BatchResult
from vibeimg.errors import Interrupted, PartialFailure, VibeimgError
from vibeimg.files.jsontext import JsonArray
from vibeimg.records.rundoc import ending_fields

RESUME_HINT = "rerun the same command: finished items are skipped, the rest are sent"
UNKNOWN_HINT = ("rerun the same command: finished items are skipped, failed ones sent "
                "again; those of unknown outcome only with --retry-unknown")


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
        "unknown": result.count("unknown"),
        "abandoned": result.count("abandoned"),
        "not_resent": result.count("not-resent"),
        "not_run": result.count("not-run"),
        "interrupted": result.interrupted,
        "elapsed_seconds": round(result.elapsed, 3),
        "estimated_cost_usd": result.spent,
        "possible_cost_usd": result.possible,
        "cost_extrapolated": result.cost_extrapolated,
        "offline": result.offline,
        "concurrency": {
            "asked": limiter.maximum, "lowest": limiter.lowest, "final": limiter.limit,
            "busy_refusals": limiter.throttles,
        },
        # Written an outcome at a time: at 10,000 items, not all in memory at once.
        "outcomes": JsonArray(lambda: (o.as_json(plan.out_dir) for o in result.outcomes)),
        "error": ending["error"],
        "exit_code": ending["exit_code"],
    }


def batch_error(result: BatchResult) -> VibeimgError | None:
    """The error the batch ends with: None for success, else partial success, Ctrl-C,
    or the failure's own exit code (README, exit codes). Call it once per result."""
    failed = [o.error for o in result.outcomes.kept("failed", "unknown", "not-resent")
              if o.error]
    finished = result.count("done") + result.count("skipped")
    not_run = result.count("not-run")
    unknown = result.count("unknown") + result.count("abandoned") + result.count("not-resent")
    hint = UNKNOWN_HINT if unknown else RESUME_HINT
    if result.interrupted:
        return Interrupted(
            f"interrupted: {finished} of {len(result.outcomes)} items done, "
            f"{_failures_text(result)}, {not_run} not run", hint=hint)
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
        f"{finished} of {len(result.outcomes)} items done, {_failures_text(result)} ({hint})",
        failures=list(failed),
    )


def _failures_text(result: BatchResult) -> str:
    """``2 failed``, with the items of unknown outcome named apart when there are any."""
    parts = [f"{result.count('failed')} failed"]
    if any(result.count(s) for s in ("unknown", "abandoned", "not-resent")) \
            and not result.count("failed"):
        parts = []
    if result.count("unknown"):
        parts.append(f"{result.count('unknown')} of unknown outcome (may have been billed)")
    abandoned = list(result.outcomes.kept("abandoned"))
    if abandoned:
        cost = sum(possible_cost(o.record or {}) for o in abandoned)
        parts.append(f"{len(abandoned)} abandoned on the wire (may have been billed, up to "
                     f"${cost:.3f})")
    if result.count("not-resent"):
        parts.append(f"{result.count('not-resent')} of unknown outcome before, not sent again")
    return ", ".join(parts)


_LINE_STATUS = {"done": "ok", "failed": "failed", "unknown": "unknown"}


def report_records(result: BatchResult) -> Iterator[Record]:
    """One manifest-style record per item for the report, not-run items included (read
    back from the manifest one at a time)."""
    for outcome in result.outcomes:
        if outcome.record is not None:
            # An unknown outcome of an earlier run was counted by that run's report.
            earlier = {"earlier": True} if outcome.status == "not-resent" else {}
            yield {**outcome.record, **earlier}
            continue
        item = outcome.item  # not run (or, were the manifest unreadable now, its line)
        yield {
            "type": "item", "status": _LINE_STATUS.get(outcome.status, "not-run"),
            "key": item.key, "line": item.line,
            "index": item.index, "kind": item.kind, "prompt": item.prompt,
            "parameters": {"model": item.options.model, **item.options.tool_fields()},
        }
