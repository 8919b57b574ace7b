"""The manifest's lines: a run's plan, each item's intent and its success or failure.

An item line's ``status`` is ``ok`` (its image and sidecar, with their sizes, SHA-256s
and modification times, so that a rerun can check them), ``failed`` (the gateway
certainly did no billable work, or billed an answer that could not be used: sent
again by a rerun) or ``unknown`` (the request went out and no answer said what became
of it, or a second Ctrl-C abandoned it on the wire, or the run was killed while it was
on the wire: a rerun does not send it again unless ``--retry-unknown``).
``possible_cost_usd`` is what a failure may have cost.

Before its request goes out, an item gets an intent line (``"type": "sending"``, with
what it may cost); if it turns out not to have been billed without an item line to say
so (refused as busy and queued again, dropped before it went out), an ``"unsent"`` line
takes the intent back. An intent left last is the trace of a killed run: see
:func:`vibeimg.batch.manifest.unanswered`.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import Record
from vibeimg.batch.plan import BatchPlan, item_price
from vibeimg.batch.verify import file_facts
from vibeimg.errors import ExitCode, GatewayError, VibeimgError
from vibeimg.jobs.image_outcome import SavedImage
from vibeimg.jobs.image_requests import ImageRequest
from vibeimg.version import __version__


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


def sending_record(item: BatchItem, plan: BatchPlan, *, earlier: int = 0) -> Record:
    """The intent line written just before the item's request goes out: small (it is
    written once per send), and with what the request may cost if no answer is read:
    its price, and as much for each of its ``earlier`` sends of unknown outcome (a
    resend under ``--retry-unknown``)."""
    price = item_price(item).times(1 + earlier)
    return {"type": "sending", "v": 1, "key": item.key, "line": item.line,
            "index": item.index, "shard": str(plan.shard) if plan.shard else None,
            "possible_cost_usd": price.usd, "cost_extrapolated": price.extrapolated,
            "sent_at": now()}


def unsent_record(item: BatchItem) -> Record:
    """The line that takes an intent back: the request was certainly not billed."""
    return {"type": "unsent", "v": 1, "key": item.key}


def success_record(item: BatchItem, request: ImageRequest, saved: SavedImage,
                   plan: BatchPlan) -> Record:
    """A saved image: where it is (relative to the output folder), its SHA-256, its cost."""
    if saved.path is None:
        raise ValueError("a batch image is always saved to a file")
    image = _image_facts(saved, saved.path)
    side = saved.sidecar_facts or (file_facts(saved.sidecar) if saved.sidecar else {})
    return {
        **item_record(item, plan), "status": "ok",
        "revised_prompt": saved.revised_prompt,
        "parameters": _shared(request.sidecar_parameters()),
        "inputs": [str(p) for p in item.images] + ([str(item.mask)] if item.mask else []),
        "path": _relative(saved.path, plan.out_dir),
        "sidecar": _relative(saved.sidecar, plan.out_dir) if saved.sidecar else None,
        "sha256": image["sha256"], "bytes": image["bytes"], "mtime_ns": image["mtime_ns"],
        **{f"sidecar_{name}": value for name, value in side.items()},
        "format": saved.format,
        "size": saved.size, "quality": saved.quality, "request_id": saved.request_id,
        "elapsed_seconds": round(saved.elapsed, 3), "usage": saved.usage,
        "estimated_cost_usd": saved.estimated_cost_usd,
        "cost_extrapolated": saved.cost_extrapolated, "offline": saved.offline,
        "finished_at": now(),
        # Earlier attempts of unknown outcome (resent with --retry-unknown): maybe billed.
        **({"possible_cost_usd": saved.possible_cost_usd} if saved.possible_cost_usd else {}),
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


def _image_facts(saved: SavedImage, path: Path) -> dict[str, Any]:
    """``file_facts`` of a saved image, as its bytes were written and its file closed
    (no second look at the file); read from the file when they were not taken."""
    if saved.sha256 is None or saved.mtime_ns is None:
        return file_facts(path)
    return {"bytes": saved.bytes, "sha256": saved.sha256, "mtime_ns": saved.mtime_ns}


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
        **item_record(item, plan), "status": "unknown" if error.outcome_unknown else "failed",
        "parameters": {"model": item.options.model, **item.options.tool_fields()},
        "error": error.one_line(), "exit_code": int(error.exit_code),
        "http_status": error.status if isinstance(error, GatewayError) else None,
        "request_id": error.request_id, "finished_at": now(),
        # Made and billed, then unusable (lost to the disk, bad base64), or unknown.
        "possible_cost_usd": error.possible_cost_usd,
        "cost_extrapolated": error.cost_extrapolated and bool(error.possible_cost_usd),
    }


ABANDONED = ("abandoned on the wire by a second interrupt: the gateway may have made "
             "and billed it")


def abandoned_record(item: BatchItem, plan: BatchPlan, *, earlier: int = 0) -> Record:
    """A request on the wire when a second Ctrl-C gave up on it: its outcome is unknown,
    and so is that of its ``earlier`` sends of unknown outcome (``--retry-unknown``)."""
    price = item_price(item).times(1 + earlier)
    return {
        **item_record(item, plan), "status": "unknown", "abandoned": True,
        "parameters": {"model": item.options.model, **item.options.tool_fields()},
        "error": ABANDONED, "exit_code": int(ExitCode.INTERRUPTED), "http_status": None,
        "request_id": None, "finished_at": now(), "possible_cost_usd": price.usd,
        "cost_extrapolated": price.extrapolated,
    }


def possible_cost(record: Record) -> float:
    """What a line may have cost with no image for it: a failed or unknown item's (older
    lines kept it as the estimated cost of an image lost to the disk), or a saved one's
    earlier attempts of unknown outcome."""
    if record.get("status") == "ok":
        value = record.get("possible_cost_usd")
        return float(value) if isinstance(value, (int, float)) else 0.0
    value = record.get("possible_cost_usd", record.get("estimated_cost_usd"))
    return float(value) if isinstance(value, (int, float)) else 0.0


class EarlierUnknown(VibeimgError):
    """An item whose outcome an earlier run could not learn: not sent again."""

    def __init__(self, record: Record) -> None:
        super().__init__(f"outcome unknown in an earlier run ({record.get('error')})",
                         hint="not sent again, so it cannot be billed twice; "
                              "--retry-unknown sends it", request_id=None)
        code = record.get("exit_code")
        self.exit_code = ExitCode(code) if code in set(ExitCode) else ExitCode.NETWORK
        self.outcome_unknown = True
