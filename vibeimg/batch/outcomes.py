"""What became of each item of a batch run: the data the runner fills, item by item.

Statuses: ``done``, ``skipped`` (done before), ``failed``, ``unknown`` (sent, outcome
unknown), ``abandoned`` (on the wire at a second Ctrl-C), ``not-resent`` (of unknown
outcome in an earlier run) and ``not-run``. The run as a whole is
:mod:`vibeimg.batch.result`'s.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import Record
from vibeimg.batch.records import possible_cost
from vibeimg.errors import VibeimgError
from vibeimg.records.runs import Entry


@dataclass
class ItemOutcome:
    """What became of one item in this run."""

    item: BatchItem
    # done, skipped (done before), failed, unknown (sent, outcome unknown), abandoned (on
    # the wire at a second Ctrl-C), not-resent (unknown in an earlier run), not-run
    status: str = "not-run"
    record: Record | None = None
    error: VibeimgError | None = None

    def as_json(self, out_dir: Path) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "key": self.item.key, "line": self.item.line, "index": self.item.index,
            "kind": self.item.kind, "prompt": self.item.prompt, "status": self.status,
        }
        record = self.record or {}
        for name in ("path", "sidecar"):
            if record.get(name):
                entry[name] = str(out_dir / record[name])
        for name in ("sha256", "bytes", "format", "size", "quality", "revised_prompt",
                     "request_id", "elapsed_seconds", "estimated_cost_usd",
                     "possible_cost_usd", "cost_extrapolated", "offline", "error",
                     "exit_code", "http_status"):
            if name in record:
                entry[name] = record[name]
        if self.status == "not-resent" and self.error is not None:
            entry["error"] = self.error.one_line()
        return entry

    def history_entry(self, out_dir: Path, *, offline: bool) -> Entry | None:
        """The history's record of this item; None for an item that was not sent."""
        if self.status not in SENT:
            return None
        item, record = self.item, self.record or {}
        path = record.get("path")
        done = self.status == "done"
        return Entry(
            command="batch",
            prompt=item.prompt,
            revised_prompt=record.get("revised_prompt"),
            model=item.options.model,
            parameters={"endpoint": item.endpoint, **(record.get("parameters") or {}),
                        "batch_key": item.key, "line": item.line, "index": item.index,
                        "inputs": record.get("inputs") or []},
            outputs=[_real_output(str(out_dir), path)] if path else [],
            request_ids=[record["request_id"]] if record.get("request_id") else [],
            usage=record.get("usage") if isinstance(record.get("usage"), dict) else None,
            estimated_cost_usd=float(record.get("estimated_cost_usd") or 0.0) if done else 0.0,
            possible_cost_usd=possible_cost(record),
            cost_extrapolated=bool(record.get("cost_extrapolated")),
            outcome=("completed" if done else
                     "interrupted" if self.status == "abandoned" else "failed"),
            error=record.get("error"),
            offline=offline or bool(record.get("offline")),
            images=1 if done else 0,
            elapsed_seconds=record.get("elapsed_seconds"),
        )


#: The statuses of items sent in this run (each is in the history).
SENT = ("done", "failed", "unknown", "abandoned")


def _real_output(out_dir: str, path: str) -> str:
    """The image ``path`` (below ``out_dir``) with its folder's real path, absolute:
    text, not Path objects, for it is made once per image of a batch."""
    folder, name = os.path.split(os.path.join(out_dir, path))  # noqa: PTH118 - text per image
    return os.path.join(_real_folder(folder), name)  # noqa: PTH118 - text per image


@functools.lru_cache(maxsize=64)
def _real_folder(folder: str) -> str:
    """An output folder's real path (absolute): found once per folder, not per image."""
    return os.path.realpath(folder)
