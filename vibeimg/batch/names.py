"""Where a batch's images will be saved, known before anything is sent, for ``--force``.

``--force`` replaces a file of the name an item renders to. Two items of one run that
render to one name would each replace the other's image: both are bought, one is
kept, and every rerun buys the other again, since its file no longer matches its
manifest line. So a ``--force`` run whose items to send would share a name is refused
before sending (:func:`first_collision`); and while it runs, ``--force`` replaces
neither an image the run saved itself nor a finished item's (:func:`name_plans`),
which covers what cannot be known beforehand: those items get ``-2``, ``-3``... as
they would without ``--force``.

A name is rendered as it will be saved, with the format, size and quality asked for
(which the gateway makes). ``{date}`` and ``{time}`` are the clock's when the image
lands: taken as the same for all the items of one run (``{date}`` nearly always is,
and ``{time}``, to the second, is for items saved together), so they never set two
names apart here. Nor does ``{size}`` or ``{quality}`` of an item asked with ``auto``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path

from vibeimg.batch.items import BatchItem
from vibeimg.batch.manifest import Record
from vibeimg.files.naming import NameClaims, NamePlan, slugify


def planned_name(item: BatchItem, plan: NamePlan) -> Path:
    """The file ``item``'s image will be saved as (below ``plan.directory``), with
    ``{date}``/``{time}`` left as they are and ``auto`` for an unknown size or quality."""
    fmt = item.options.output_format
    name = plan.render({
        "slug": slugify(item.prompt, ascii_only=item.ascii_names), "n": item.index,
        "model": item.options.model, "quality": item.options.quality,
        "size": item.options.size_text, "ext": plan.extension(fmt), "format": fmt,
        "date": "{date}", "time": "{time}",
    })
    return plan.directory / name


def first_collision(items: Iterable[BatchItem], out_dir: Path
                    ) -> tuple[BatchItem, BatchItem, Path] | None:
    """The first two of ``items`` that would be saved under one name, and that name."""
    plans: dict[tuple[str, int], NamePlan] = {}
    seen: dict[Path, BatchItem] = {}
    for item in items:
        plan = plans.get((item.name, item.count))
        if plan is None:
            plan = plans[item.name, item.count] = NamePlan.build(
                item.name, out_dir, count=item.count)
        name = planned_name(item, plan)
        first = seen.setdefault(name, item)
        if first is not item:
            return first, item, name
    return None


def where(item: BatchItem) -> str:
    """``line 3``, or ``line 3 #2`` for the second image of a line with ``n``."""
    return f"line {item.line}" + (f" #{item.index}" if item.count > 1 else "")


def force_claims(done: Iterable[Record], out_dir: Path) -> NameClaims:
    """The names a ``--force`` run must not replace, to begin with: the image and the
    sidecar of every finished item (replacing one would lose an image the manifest
    vouches for, bought again by the next run). Each image the run saves joins them."""
    held: dict[Path, str] = {}
    for record in done:
        why = f"belongs to line {record.get('line')}, finished before this run"
        for name in ("path", "sidecar"):
            value = record.get(name)
            if isinstance(value, str):
                held[out_dir / value] = why
    return NameClaims(held)


def name_plans(done: Iterable[Record], out_dir: Path, *, force: bool
               ) -> Callable[[str, int], NamePlan]:
    """The name plan of each ``(template, count)`` of a run, made when first needed; with
    ``force``, all of them hold the run's :func:`force_claims`."""
    claims = force_claims(done, out_dir) if force else None

    @functools.lru_cache(maxsize=256)
    def name_plan(name: str, count: int) -> NamePlan:
        return NamePlan.build(name, out_dir, count=count, force=force, root=out_dir,
                              claims=claims)

    return name_plan
