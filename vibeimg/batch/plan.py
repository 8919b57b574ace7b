"""What a batch run will do: its shard, what is already done, what it will send and cost.

Per item, from every manifest line in the output folder: the last ``ok`` line whose
image still checks out (:mod:`vibeimg.batch.verify`) makes it done, whatever became of
its sidecar (written again from the line when it is damaged: an intact image is never
bought again), and so does an image a killed run saved but did not record
(:mod:`vibeimg.batch.recover`); otherwise a last line of unknown outcome, or an intent
line with nothing after it (a run killed while the request was on the wire), holds it
back (a rerun must not bill it twice) unless ``--retry-unknown``; anything else is
sent. Lines whose files are missing or changed, or whose paths leave the folder, are
reported as ``problems``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import (
    Record,
    item_records,
    manifest_name,
    read_folder,
    unanswered,
)
from vibeimg.batch.names import first_collision, where
from vibeimg.batch.recover import one_per_folder, orphan_sidecars, unrecorded_images
from vibeimg.batch.verify import (
    Problem,
    Realpaths,
    resolves_inside,
    safe_paths,
    verify_record,
)
from vibeimg.errors import ExitCode, UsageError
from vibeimg.files.naming import NamePlan
from vibeimg.records.pricing import Price, price_of, shown, total


@dataclass(frozen=True)
class Shard:
    """Shard K of N: the items whose key hash falls in K's share."""

    index: int  # from 1
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        number, sep, total = text.strip().partition("/")
        if not (sep and number.isdigit() and total.isdigit()):
            raise UsageError(f"invalid shard {text!r}", hint="use K/N, such as 2/4", param="shard")
        shard = cls(int(number), int(total))
        if shard.total == 0:
            raise UsageError(f"invalid shard {text!r}: N, the number of shards, must be at "
                             "least 1", hint="the shards of 4 runners are 1/4, 2/4, 3/4 and 4/4",
                             param="shard")
        if not 1 <= shard.index <= shard.total:
            raise UsageError(f"invalid shard {text!r}: K must be between 1 and N",
                             hint=f"the shards of {shard.total} runners are 1/{shard.total} "
                             f"to {shard.total}/{shard.total}", param="shard")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    def holds(self, key: str) -> bool:
        """By the key's hash, so an item stays in its shard when lines are added or moved."""
        return int(key, 16) % self.total == self.index - 1


def item_price(item: BatchItem) -> Price:
    """The estimated output price of the item's image (SPEC section 6)."""
    return price_of(item.options.size, item.options.quality)


def item_cost(item: BatchItem) -> float:
    return item_price(item).usd


@dataclass
class BatchPlan:
    """The items of this run: those of its shard, split into done and to send."""

    items: list[BatchItem]  # every item of the file
    selected: list[BatchItem]  # this shard's
    done: dict[str, Record]  # key -> the manifest record of a finished item
    shard: Shard | None
    out_dir: Path
    skipped_manifest_lines: int = 0
    orphans: list[Path] = field(default_factory=list)  # sidecars of deleted images
    recovered: list[Record] = field(default_factory=list)  # saved, but not yet recorded
    waiting: list[tuple[Path, Path]] = field(default_factory=list)  # recovered, to move
    # key -> the line of an earlier run whose outcome is unknown: not sent again
    held: dict[str, Record] = field(default_factory=dict)
    # untrusted lines: made again, or (an intact image's sidecar) written again
    problems: list[Problem] = field(default_factory=list)
    # key -> the unknown-outcome line of a request a killed run left on the wire (its
    # intent line, unanswered): written by this run, which is the first to report it
    unanswered: dict[str, Record] = field(default_factory=dict)

    @property
    def to_send(self) -> list[BatchItem]:
        return [item for item in self.selected
                if item.key not in self.done and item.key not in self.held]

    @property
    def estimated_cost(self) -> float:
        return self.estimated_price.usd

    @property
    def estimated_price(self) -> Price:
        """What would be sent, priced; extrapolated when any item's size is off the table."""
        summed = total(item_price(item) for item in self.to_send)
        return Price(round(summed.usd, 4), summed.extrapolated)

    @property
    def extrapolated_items(self) -> int:
        return sum(1 for item in self.to_send if item_price(item).extrapolated)

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / manifest_name(str(self.shard) if self.shard else None)

    def settle(self) -> None:
        """Finish what a killed run left half-way, before anything is sent or cleaned:
        move its waiting images into place and remove the sidecars of deleted images;
        and write again, from the manifest, the damaged sidecars of intact images."""
        for pending, image in self.waiting:
            if not image.exists():
                with contextlib.suppress(FileNotFoundError):
                    os.replace(pending, image)
        for orphan in self.orphans:
            orphan.unlink(missing_ok=True)
        for problem in self.problems:  # the damaged sidecars of intact images
            problem.rewrite(self.out_dir)

    def check_folders(self) -> None:
        """Refuse, before anything is sent, an item whose output folder a symbolic link
        takes out of the output folder (``out/sub -> /elsewhere``)."""
        seen: set[Path] = set()
        for item in one_per_folder(self.to_send):
            folder = NamePlan.build(item.name, self.out_dir, count=item.count).directory
            if folder in seen:
                continue
            seen.add(folder)
            if not resolves_inside(self.out_dir, os.path.relpath(folder, self.out_dir),
                                   is_folder=True):
                raise UsageError(
                    f"line {item.line}: the output folder {folder} leads out of "
                    f"{self.out_dir} through a symbolic link (to {os.path.realpath(folder)}); "
                    "refused, nothing was sent",
                    hint="remove the link, or choose another --out-dir or output name")

    def check_names(self) -> None:
        """With ``--force``: refuse, before anything is sent, two items to send that
        would be saved under one name, each replacing the other's image (both bought,
        one kept, the other bought again by every rerun)."""
        collision = first_collision(self.to_send, self.out_dir)
        if collision is not None:
            first, second, name = collision
            raise UsageError(
                f"{where(first)} and {where(second)} would both be saved as {name}, and "
                "with --force each would replace the other's image; nothing was sent",
                hint='give them different names, such as with {n} or {line} in -o or '
                     f'"output", or drop --force to save the second as {name.stem}-2{name.suffix}')

    def check_max_cost(self, max_cost: float | None) -> None:
        """Refuse to start a batch estimated above ``--max-cost``; the message says when
        the figure it compared is partly extrapolated (sizes off the published table)."""
        if max_cost is not None and self.estimated_cost > max_cost:
            price = self.estimated_price
            basis = (f", {self.extrapolated_items} of them at sizes outside the published "
                     "price table, priced by extrapolation" if price.extrapolated else "")
            raise UsageError(
                f"the batch is estimated at {shown(price.usd, price.extrapolated)} for "
                f"{len(self.to_send)} images{basis}, above --max-cost ${max_cost:.3f}; "
                "nothing was sent",
                hint="raise --max-cost, lower --quality or --size, or split it with --shard",
            )

    def describe(self, *, base_url: str, authorization: str, max_cost: float | None,
                 request_view: Callable[[BatchItem], dict[str, Any]] | None = None,
                 ) -> dict[str, Any]:
        """The ``--dry-run`` document: each item, what it would send, the estimated cost."""
        entries = []
        for item in self.selected:
            entry = item.describe()
            if request_view is not None and item.key not in self.done:
                entry["request"] = request_view(item)
            entry["status"] = ("done" if item.key in self.done else
                               "unknown" if item.key in self.held else "send")
            entry["output"] = item.name
            entry.update(item_price(item).fields())
            entries.append(entry)
        return {
            "dry_run": True,
            "base_url": base_url,
            "headers": {"Authorization": authorization},
            "shard": str(self.shard) if self.shard else None,
            "out_dir": str(self.out_dir),
            "manifest": str(self.manifest_path),
            "items_in_file": len(self.items),
            "items_in_shard": len(self.selected),
            "already_done": len([i for i in self.selected if i.key in self.done]),
            "not_resent": len([i for i in self.selected if i.key in self.held]),
            "to_send": len(self.to_send),
            **self.estimated_price.fields(),
            "extrapolated_items": self.extrapolated_items,
            "max_cost_usd": max_cost,
            "items": entries,
        }


def make_plan(items: list[BatchItem], *, out_dir: Path, shard: Shard | None,
              verify: str = "fast", retry_unknown: bool = False) -> BatchPlan:
    """Select the shard's items and look up which are already done in ``out_dir``.

    ``verify`` is the level at which finished items' files are checked; with
    ``retry_unknown``, items of unknown outcome are sent again.
    """
    selected = [item for item in items if shard is None or shard.holds(item.key)]
    by_key = {item.key: item for item in selected}
    records, skipped = read_folder(out_dir) if out_dir.is_dir() else ([], 0)
    done, held, problems = _trusted(records, by_key.keys(), out_dir, verify)
    lost = {key: _unanswered_record(by_key[key], intent)
            for key, intent in unanswered(records).items()
            if key in by_key and key not in done}
    held.update(lost)
    problems = [p for p in problems if p.record["key"] not in lost]
    # Images a killed run saved but could not record yet are done too (no paying twice),
    # whatever the manifest says of their requests.
    redo = [item for item in selected if item.key not in done]
    leftovers = unrecorded_images(redo, out_dir, records, shard=str(shard) if shard else None)
    done.update(leftovers.done)
    for key in leftovers.done:
        held.pop(key, None)
        lost.pop(key, None)
    if retry_unknown:
        held = {}
    orphans = orphan_sidecars(records, out_dir, set(by_key) - done.keys()) + leftovers.stale
    return BatchPlan(items=items, selected=selected, done=done, shard=shard, out_dir=out_dir,
                     skipped_manifest_lines=skipped, orphans=orphans,
                     recovered=list(leftovers.done.values()), waiting=leftovers.waiting,
                     held=held, unanswered=lost,
                     problems=[p for p in problems
                               if p.sidecar_only or p.record["key"] not in done])


LOST = ("on the wire when that run was killed or cut off, with no answer recorded: the "
        "gateway may have made and billed it")


def _unanswered_record(item: BatchItem, intent: Record) -> Record:
    """The unknown-outcome line of an intent a killed run left without an answer."""
    price = item_price(item)
    cost = intent.get("possible_cost_usd")
    return {
        "type": "item", "v": 1, "key": item.key, "line": item.line, "index": item.index,
        "kind": item.kind, "prompt": item.prompt, "shard": intent.get("shard"),
        "status": "unknown", "unanswered": True,
        "parameters": {"model": item.options.model, **item.options.tool_fields()},
        "error": LOST, "exit_code": int(ExitCode.NETWORK), "http_status": None,
        "request_id": None, "sent_at": intent.get("sent_at"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "possible_cost_usd": cost if isinstance(cost, (int, float)) else price.usd,
        "cost_extrapolated": bool(intent.get("cost_extrapolated", price.extrapolated)),
    }


def _trusted(records: list[Record], keys: Collection[str], out_dir: Path, level: str
             ) -> tuple[dict[str, Record], dict[str, Record], list[Problem]]:
    """Per key: done (its last ok line checks out), held (else its last line is of
    unknown outcome), and the problems of the ok lines that did not check out."""
    last_ok: dict[str, Record] = {}
    last: dict[str, Record] = {}
    realpaths = Realpaths()
    for record in item_records(records):
        key = record["key"]
        if key not in keys:
            continue
        last[key] = record
        if record.get("status") == "ok":
            if not safe_paths(record, out_dir, realpaths):
                raise _outside(record, out_dir)
            last_ok[key] = record
    done: dict[str, Record] = {}
    problems: list[Problem] = []
    for key, record in last_ok.items():
        problem = verify_record(record, out_dir, level)
        if problem is None or problem.sidecar_only:  # the image is intact: never bought again
            done[key] = record
        if problem is not None:
            problems.append(problem)
    held = {key: record for key, record in last.items()
            if key not in done and record.get("status") == "unknown"}
    problems.sort(key=lambda p: (p.record.get("line") or 0, p.record.get("index") or 0))
    return done, held, [p for p in problems if p.record["key"] not in held]


def _outside(record: Record, out_dir: Path) -> UsageError:
    """A line naming a file outside the output folder: never trusted, and no guess made."""
    named = record.get("path") if not safe_paths({"path": record.get("path")}, out_dir) \
        else record.get("sidecar")
    return UsageError(
        f"a manifest line in {out_dir} names {named!r} (line {record.get('line')} of the "
        f"batch), outside {out_dir} or reached through a symbolic link: refused, nothing "
        "was sent",
        hint="resume a batch in the folder its images are in; remove that line if you did "
             "not write it (a restored cache can carry one)")
