"""Join the manifests of a batch's shards (a CI matrix's artifacts) into one.

Each source is a folder (all its ``vibeimg-manifest*.jsonl``) or one manifest file.
Image paths are rewritten relative to the output folder; nothing is copied. For
each item the success wins over failures; an item whose last outcome was unknown
stays ``unknown`` (a rerun does not send it again without ``--retry-unknown``), and so
does one whose request a killed shard left on the wire (an intent line last); items
that a shard planned but never recorded are ``not-run``; shards missing from a K/N
set are named.

Every source is read and checked before anything is written: a file that holds no
manifest line (``batch-merge /etc/passwd``) and a line naming a file outside its own
manifest's folder (``../../etc/x``, an absolute path, a symbolic link leading out)
are usage errors, and the merged manifest is not written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.batch.manifest import (
    Record,
    kind_of,
    latest,
    manifest_name,
    manifests_in,
    read_manifest,
    unanswered,
)
from vibeimg.batch.records import possible_cost
from vibeimg.batch.verify import Realpaths, safe_paths
from vibeimg.errors import PartialFailure, UsageError
from vibeimg.files.atomic import write_atomically
from vibeimg.records.rundoc import ending_fields
from vibeimg.version import __version__


@dataclass
class MergeResult:
    records: list[Record]  # one per item: its outcome, or a not-run stand-in
    manifest: Path
    sources: list[Path]
    shards: list[str] = field(default_factory=list)
    missing_shards: list[str] = field(default_factory=list)
    skipped_lines: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.records if r.get("status") == status)

    def summary(self, report: str | None) -> dict[str, Any]:
        done = [r for r in self.records if r.get("status") == "ok"]
        cost = sum(float(r.get("estimated_cost_usd") or 0) for r in done)
        possible = sum(possible_cost(r) for r in self.records)
        ending = ending_fields(self.error())
        return {
            "command": "batch-merge",
            "status": ending["status"],
            "sources": [str(s) for s in self.sources],
            "manifest": str(self.manifest),
            "report": report,
            "shards": self.shards,
            "missing_shards": self.missing_shards,
            "items": len(self.records),
            "done": self.count("ok"),
            "failed": self.count("failed"),
            "unknown": self.count("unknown"),
            "not_run": self.count("not-run"),
            "estimated_cost_usd": round(cost, 4),
            "possible_cost_usd": round(possible, 4),
            "cost_extrapolated": any(r.get("cost_extrapolated") for r in self.records),
            # Made by vibeimg's emulator (--offline, mock-server): nothing billed.
            "offline": bool(done) and all(r.get("offline") for r in done),
            "offline_items": sum(1 for r in done if r.get("offline")),
            "outcomes": [_outcome(r, self.manifest.parent) for r in self.records],
            "error": ending["error"],
            "exit_code": ending["exit_code"],
        }

    def raise_for_result(self) -> None:
        error = self.error()
        if error is not None:
            raise error

    def error(self) -> PartialFailure | None:
        """Partial success when a shard is missing or an item failed or never ran."""
        problems = []
        if self.missing_shards:
            problems.append(f"shard{'s' if len(self.missing_shards) > 1 else ''} "
                            f"{', '.join(self.missing_shards)} missing")
        if self.count("failed"):
            problems.append(f"{self.count('failed')} failed")
        if self.count("unknown"):
            problems.append(f"{self.count('unknown')} of unknown outcome (may have been "
                            "billed; --retry-unknown sends them again)")
        if self.count("not-run"):
            problems.append(f"{self.count('not-run')} not run")
        if not problems:
            return None
        return PartialFailure(
            f"{self.count('ok')} of {len(self.records)} items done; " + ", ".join(problems)
            + " (rerun those shards, then merge again)", failures=[])


def _outcome(record: Record, out_dir: Path) -> dict[str, Any]:
    status = {"ok": "done"}.get(str(record.get("status")), str(record.get("status")))
    entry = {k: record.get(k) for k in ("key", "line", "index", "kind", "prompt", "shard")}
    entry["status"] = status
    for name in ("path", "sidecar"):
        if record.get(name):
            entry[name] = str(out_dir / record[name])
    for name in ("sha256", "size", "quality", "revised_prompt", "request_id",
                 "estimated_cost_usd", "possible_cost_usd", "cost_extrapolated", "offline",
                 "error", "exit_code"):
        if name in record:
            entry[name] = record[name]
    return entry


def _sources(paths: list[Path]) -> list[Path]:
    manifests: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = manifests_in(path)
            if not found:
                raise UsageError(f"no vibeimg-manifest*.jsonl in {path}",
                                 hint="pass the output folders of the batch's shards")
            manifests.extend(found)
        elif path.is_file():
            manifests.append(path)
        elif path.exists():
            raise UsageError(f"{path} is {kind_of(path.stat().st_mode)}, not a regular file "
                             "nor a folder: it holds no manifest; nothing was written",
                             hint="pass the output folders of the batch's shards, or their "
                                  "vibeimg-manifest*.jsonl files")
        else:
            raise UsageError(f"{path} does not exist", hint="pass folders or manifest files")
    return manifests


def merge_manifests(paths: list[Path], out_dir: Path) -> MergeResult:
    """Read every source, join them, and write the merged manifest into ``out_dir``."""
    manifests = _sources(paths)
    items: list[Record] = []
    planned: dict[str, Record] = {}
    shards: set[str] = set()
    skipped = 0
    realpaths = Realpaths()
    for manifest in manifests:
        records, bad = read_manifest(manifest, follow=manifest in paths)
        skipped += bad
        if not any(r.get("type") in ("plan", "item") for r in records):
            raise UsageError(f"{manifest} is not a vibeimg batch manifest (no plan or item "
                             "line in it); nothing was written",
                             hint="pass the output folders of the batch's shards, or their "
                                  "vibeimg-manifest*.jsonl files")
        for record in records:
            if record.get("type") == "item" and not safe_paths(record, manifest.parent,
                                                               realpaths):
                raise UsageError(
                    f"{manifest} names {record.get('path')!r}, outside its folder or "
                    "reached through a symbolic link; nothing was written",
                    hint="merge manifests as the batch wrote them; remove that line if you "
                         "did not write it")
            if record.get("shard"):
                shards.add(str(record["shard"]))
            if record.get("type") == "plan":
                for entry in record.get("items") or []:
                    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                        planned[entry["key"]] = {**entry, "shard": record.get("shard")}
            elif record.get("type") == "item":
                items.append(_rebase(record, manifest.parent, out_dir))
        items.extend(_lost(intent, planned.get(key, {}))
                     for key, intent in unanswered(records).items())
    outcomes = latest(items)
    for key, entry in planned.items():
        if key not in outcomes:
            outcomes[key] = {"type": "item", "status": "not-run", **entry}
    merged = sorted(outcomes.values(), key=lambda r: (r.get("line") or 0, r.get("index") or 0))
    target = out_dir / manifest_name(None)
    plan = {"type": "plan", "v": 1, "shard": None, "merged_from": sorted(shards),
            "vibeimg_version": __version__,
            "items": [{k: r.get(k) for k in ("key", "line", "index", "kind", "prompt")}
                      for r in merged]}
    lines = [plan, *(r for r in merged if r.get("status") != "not-run")]
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in lines)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text.encode("utf-8"))
    return MergeResult(records=merged, manifest=target, sources=paths,
                       shards=sorted(shards), missing_shards=_missing(shards),
                       skipped_lines=skipped)


LOST = ("on the wire when its shard's run was killed or cut off, with no answer "
        "recorded: the gateway may have made and billed it")


def _lost(intent: Record, planned: Record) -> Record:
    """The unknown outcome of a request a killed run left on the wire."""
    cost = intent.get("possible_cost_usd")
    return {"type": "item", "v": 1, **planned, "key": intent["key"],
            "shard": intent.get("shard"), "status": "unknown", "unanswered": True,
            "error": LOST, "possible_cost_usd": cost if isinstance(cost, (int, float)) else 0,
            "cost_extrapolated": bool(intent.get("cost_extrapolated"))}


def _rebase(record: Record, folder: Path, out_dir: Path) -> Record:
    rebased = dict(record)
    for name in ("path", "sidecar"):
        value = record.get(name)
        if isinstance(value, str):
            rebased[name] = os.path.relpath(folder / value, out_dir)
    return rebased


def _missing(shards: set[str]) -> list[str]:
    """Shards absent from each K/N set seen (1/3 and 3/3 seen: 2/3 is missing)."""
    totals: dict[int, set[int]] = {}
    for shard in shards:
        number, _, total = shard.partition("/")
        if number.isdigit() and total.isdigit():
            totals.setdefault(int(total), set()).add(int(number))
    return [f"{k}/{n}" for n, seen in sorted(totals.items())
            for k in range(1, n + 1) if k not in seen]
