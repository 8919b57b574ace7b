"""The manifest's lines: a run's plan, and each item's success or failure."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
        "parameters": _shared(request.sidecar_parameters()),
        "inputs": [str(p) for p in item.images] + ([str(item.mask)] if item.mask else []),
        "path": _relative(saved.path, plan.out_dir),
        "sidecar": _relative(saved.sidecar, plan.out_dir) if saved.sidecar else None,
        "sha256": saved.sha256 or file_sha256(saved.path), "bytes": saved.bytes,
        "format": saved.format,
        "size": saved.size, "quality": saved.quality, "request_id": saved.request_id,
        "elapsed_seconds": round(saved.elapsed, 3),
        "estimated_cost_usd": saved.estimated_cost_usd,
        "finished_at": now(),
    }


_PARAMETERS: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}


def _shared(parameters: dict[str, Any]) -> dict[str, Any]:
    """One dict for all the records with the same parameters (read, never changed): a
    run keeps every item's record, and 10,000 copies of the same six fields add up."""
    key = tuple(parameters.items())
    try:
        return _PARAMETERS.setdefault(key, parameters)
    except TypeError:  # a value that cannot be a key: keep the record's own
        return parameters


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to the output folder (by the names alone when it lies inside,
    as a saved image does: no look-up of the working folder per image)."""
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return os.path.relpath(path, folder)


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
    }
