"""What a killed run, or a person, left in the output folder, found before sending.

A run killed between saving an image and recording it in the manifest leaves an
image whose sidecar names its batch key: that item is done, and is recorded now
instead of being paid for again. Killed between writing the sidecar and moving the
image into place, it leaves the whole image under its pending name: it is moved into
place and recorded the same way. A sidecar with neither, or one whose image was
deleted by hand, would push the remade image to a ``-2`` name: it is removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import Record, file_sha256, item_records
from vibeimg.files.formats import sniff_format
from vibeimg.files.naming import NamePlan
from vibeimg.files.sidecars import pending_path, read_sidecar


def _batch_key(sidecar: dict[str, Any]) -> str | None:
    batch = sidecar.get("batch")
    key = batch.get("key") if isinstance(batch, dict) else None
    return key if isinstance(key, str) else None


@dataclass
class Leftovers:
    """What a killed run left for the items about to be sent."""

    done: dict[str, Record] = field(default_factory=dict)  # key -> record of a saved image
    waiting: list[tuple[Path, Path]] = field(default_factory=list)  # (pending, its place)
    stale: list[Path] = field(default_factory=list)  # sidecars of images that never landed


def unrecorded_images(
    items: Iterable[BatchItem], out_dir: Path, records: list[Record], *, shard: str | None
) -> Leftovers:
    """Items saved (sidecar, and image or pending image) but missing from every manifest."""
    wanted = {item.key: item for item in items}
    found = Leftovers()
    if not wanted:
        return found
    known = {str(r.get("sidecar")) for r in item_records(records)}
    folders = {NamePlan.build(i.name, out_dir, count=i.count).directory for i in wanted.values()}
    for folder in sorted(folders):
        if not folder.is_dir():
            continue
        for sidecar_path in sorted(folder.glob("*.json")):
            relative = os.path.relpath(sidecar_path, out_dir)
            if relative in known:
                continue
            sidecar = read_sidecar(sidecar_path)
            key = _batch_key(sidecar) if sidecar else None
            if sidecar is None or key not in wanted or key in found.done:
                continue
            image = folder / str(sidecar.get("file"))
            if _whole_image(image, sidecar):
                found.done[key] = _record(wanted[key], sidecar, image, image, sidecar_path,
                                          out_dir, shard)
            elif not image.exists() and _whole_image(pending_path(image), sidecar):
                found.done[key] = _record(wanted[key], sidecar, pending_path(image), image,
                                          sidecar_path, out_dir, shard)
                found.waiting.append((pending_path(image), image))
            elif not image.exists():
                found.stale.append(sidecar_path)
    return found


def _whole_image(path: Path, sidecar: dict[str, Any]) -> bool:
    """The file is there, of the size the sidecar says, and starts like an image."""
    try:
        if not path.is_file() or path.stat().st_size != sidecar.get("bytes"):
            return False
        with path.open("rb") as file:
            return sniff_format(file.read(16)) is not None
    except OSError:
        return False


def _record(item: BatchItem, sidecar: dict[str, Any], source: Path, image: Path,
            sidecar_path: Path, out_dir: Path, shard: str | None) -> Record:
    return {
        "type": "item", "v": 1, "key": item.key, "line": item.line, "index": item.index,
        "kind": item.kind, "prompt": item.prompt, "shard": shard, "status": "ok",
        "revised_prompt": sidecar.get("revised_prompt"),
        "parameters": sidecar.get("parameters") or {},
        "inputs": [str(p) for p in item.images] + ([str(item.mask)] if item.mask else []),
        "path": os.path.relpath(image, out_dir),
        "sidecar": os.path.relpath(sidecar_path, out_dir),
        "sha256": file_sha256(source), "bytes": sidecar.get("bytes"),
        "format": sidecar.get("format"), "size": sidecar.get("size"),
        "quality": sidecar.get("quality"), "request_id": sidecar.get("request_id"),
        "elapsed_seconds": sidecar.get("elapsed_seconds"),
        "estimated_cost_usd": sidecar.get("estimated_cost_usd"), "usage": sidecar.get("usage"),
        "cost_extrapolated": bool(sidecar.get("cost_extrapolated")),
        "offline": bool(sidecar.get("offline")),
        "finished_at": sidecar.get("saved_at"), "recovered": True,
    }


def orphan_sidecars(records: list[Record], out_dir: Path, redo: set[str]) -> list[Path]:
    """Sidecars of recorded images that were deleted since, for items about to be remade."""
    orphans = []
    for record in item_records(records):
        sidecar = record.get("sidecar")
        if record["key"] not in redo or record.get("status") != "ok" or not isinstance(
                sidecar, str):
            continue
        path = out_dir / sidecar
        data = read_sidecar(path)
        if (data is not None and _batch_key(data) == record["key"]
                and not (out_dir / str(record.get("path"))).exists()):
            orphans.append(path)
    return orphans
