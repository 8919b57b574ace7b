"""The manifest's lines: a run's plan, and each item's success or failure."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from vibeimg import __version__
from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import Record, file_sha256
from vibeimg.batch.plan import BatchPlan
from vibeimg.errors import GatewayError, VibeimgError
from vibeimg.jobs.image_requests import ImageRequest, SavedImage


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def plan_record(plan: BatchPlan) -> Record:
    """The line that opens a run: the items it set out to make (a merge finds gaps)."""
    return {
        "type": "plan", "v": 1, "shard": str(plan.shard) if plan.shard else None,
        "started_at": now(), "vibeimg_version": __version__,
        "items": [{"key": i.key, "line": i.line, "index": i.index, "kind": i.kind,
                   "prompt": i.prompt} for i in plan.selected],
    }


def item_record(item: BatchItem, plan: BatchPlan) -> Record:
    """What every item line holds."""
    return {
        "type": "item", "v": 1, "key": item.key, "line": item.line, "index": item.index,
        "kind": item.kind, "prompt": item.prompt,
        "shard": str(plan.shard) if plan.shard else None,
    }


def success_record(item: BatchItem, request: ImageRequest, saved: SavedImage,
                   plan: BatchPlan) -> Record:
    """A saved image: where it is (relative to the output folder), its SHA-256, its cost."""
    if saved.path is None:
        raise ValueError("a batch image is always saved to a file")
    return {
        **item_record(item, plan), "status": "ok",
        "revised_prompt": saved.revised_prompt,
        "parameters": request.sidecar_parameters(),
        "inputs": [str(p) for p in item.images] + ([str(item.mask)] if item.mask else []),
        "path": os.path.relpath(saved.path, plan.out_dir),
        "sidecar": os.path.relpath(saved.sidecar, plan.out_dir) if saved.sidecar else None,
        "sha256": file_sha256(saved.path), "bytes": saved.bytes, "format": saved.format,
        "size": saved.size, "quality": saved.quality, "request_id": saved.request_id,
        "elapsed_seconds": round(saved.elapsed, 3), "usage": saved.usage,
        "estimated_cost_usd": saved.estimated_cost_usd,
        "cost_extrapolated": saved.cost_extrapolated, "offline": saved.offline,
        "finished_at": now(),
    }


def failure_record(item: BatchItem, error: VibeimgError, plan: BatchPlan) -> Record:
    """A failed item: the error as one line, its exit code, status and request id."""
    return {
        **item_record(item, plan), "status": "failed",
        "parameters": {"model": item.options.model, **item.options.tool_fields()},
        "error": error.one_line(), "exit_code": int(error.exit_code),
        "http_status": error.status if isinstance(error, GatewayError) else None,
        "request_id": error.request_id, "finished_at": now(),
        # An image made, then lost to the disk, was billed all the same.
        "estimated_cost_usd": getattr(error, "estimated_cost_usd", 0.0),
        "cost_extrapolated": getattr(error, "cost_extrapolated", False),
    }
