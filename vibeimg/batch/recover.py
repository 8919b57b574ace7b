"""What a killed run, or a person, left in the output folder, found before sending.

A run killed between saving an image and recording it in the manifest leaves an
image whose sidecar names its batch key: that item is done, and is recorded now
instead of being paid for again. Killed between writing the sidecar and moving the
image into place, it leaves the whole image under its pending name: it is moved into
place and recorded the same way. A sidecar with neither, or one whose image was
deleted by hand, would push the remade image to a ``-2`` name: it is removed.

Items named by a template with fields in its folders (``{date}/{slug}.{ext}``) are
looked for in the subfolders of the template's fixed part, as deep as the template
goes. Symbolic links are never taken for images or sidecars, and a sidecar naming a
file elsewhere than beside itself is ignored.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import Record, item_records
from vibeimg.batch.verify import contained, file_facts, nofollow_sha256, resolves_inside
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
    known, redone = _recorded_sidecars(records, wanted.keys())
    for folder in sorted(item_folders(wanted.values(), out_dir)):
        for sidecar_path in sorted(folder.glob("*.json")):
            relative = os.path.relpath(sidecar_path, out_dir)
            if relative in known or not _regular(sidecar_path) or (
                    relative in redone and _digest(sidecar_path) in redone[relative]):
                continue
            sidecar = read_sidecar(sidecar_path)
            key = _batch_key(sidecar) if sidecar else None
            if sidecar is None or key not in wanted or key in found.done:
                continue
            name = sidecar.get("file")
            if not isinstance(name, str) or contained(name) != name or "/" in name \
                    or os.sep in name:
                continue  # a sidecar names the image beside it, nothing else
            image = folder / name
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


def _recorded_sidecars(records: list[Record], wanted: Collection[str]
                       ) -> tuple[set[str], dict[str, set[object]]]:
    """The sidecars the manifest names: those of items not about to be sent, and, for
    the others, each with the SHA-256s recorded of it. A sidecar of an item to send
    that is not one recorded was written since: ``--force`` saved the item again under
    its old name and the run was killed before recording it (found, not bought again)."""
    known: set[str] = set()
    redone: dict[str, set[object]] = {}
    for record in item_records(records):
        path = os.path.normpath(str(record.get("sidecar")))
        if record["key"] in wanted:
            redone.setdefault(path, set()).add(record.get("sidecar_sha256"))
        else:
            known.add(path)
    return known - redone.keys(), redone


def _digest(path: Path) -> str | None:
    try:
        return nofollow_sha256(path)
    except OSError:
        return None


def item_folders(items: Iterable[BatchItem], out_dir: Path) -> set[Path]:
    """Every existing folder the items' images can be in: each name template's fixed
    folder, and below it the subfolders its fields make (``{date}/``), as deep as they go.
    Folders reached through a symbolic link that leaves ``out_dir`` are left out."""
    folders: set[Path] = set()
    plans = (NamePlan.build(i.name, out_dir, count=i.count) for i in one_per_folder(items))
    for depth, fixed in {(plan.template.count("/"), plan.directory) for plan in plans}:
        if not fixed.is_dir():
            continue
        candidates = [fixed] if depth == 0 else [
            p for p in fixed.glob("/".join(["*"] * depth)) if p.is_dir()]
        folders.update(p for p in candidates
                       if resolves_inside(out_dir, os.path.relpath(p, out_dir), is_folder=True))
    return folders


def one_per_folder(items: Iterable[BatchItem]) -> list[BatchItem]:
    """One item for each folder part of the items' names (``shots/{date}`` of
    ``shots/{date}/{slug}.{ext}``): a name's folders, fixed and rendered, follow from
    that part alone, so 10,000 names in one folder are looked at once, not 10,000 times."""
    seen: dict[str, BatchItem] = {}
    for item in items:
        seen.setdefault(os.path.split(item.name)[0], item)
    return list(seen.values())


def _regular(path: Path) -> bool:
    """A file of its own: not a symbolic link, not a folder or a device."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _whole_image(path: Path, sidecar: dict[str, Any]) -> bool:
    """The file is there (not a link), of the size the sidecar says, and starts like an
    image."""
    try:
        if not _regular(path) or path.stat().st_size != sidecar.get("bytes"):
            return False
        with path.open("rb") as file:
            return sniff_format(file.read(16)) is not None
    except OSError:
        return False


def _record(item: BatchItem, sidecar: dict[str, Any], source: Path, image: Path,
            sidecar_path: Path, out_dir: Path, shard: str | None) -> Record:
    facts = file_facts(source)
    side = file_facts(sidecar_path)
    return {
        "type": "item", "v": 1, "key": item.key, "line": item.line, "index": item.index,
        "kind": item.kind, "prompt": item.prompt, "shard": shard, "status": "ok",
        "revised_prompt": sidecar.get("revised_prompt"),
        "parameters": sidecar.get("parameters") or {},
        "inputs": [str(p) for p in item.images] + ([str(item.mask)] if item.mask else []),
        "path": os.path.relpath(image, out_dir),
        "sidecar": os.path.relpath(sidecar_path, out_dir),
        "sha256": facts["sha256"], "bytes": facts["bytes"], "mtime_ns": facts["mtime_ns"],
        **{f"sidecar_{name}": value for name, value in side.items()},
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
        if contained(sidecar) is None or not resolves_inside(out_dir, sidecar):
            continue  # never touch a file outside the output folder
        path = out_dir / sidecar
        if not _regular(path):
            continue
        data = read_sidecar(path)
        if (data is not None and _batch_key(data) == record["key"]
                and not (out_dir / str(record.get("path"))).exists()):
            orphans.append(path)
    return orphans
