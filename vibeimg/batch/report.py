"""The batch report: one self-contained HTML file, readable offline from a CI artifact.

A grid of small thumbnails (WebP, or JPEG where Pillow lacks WebP, as ``data:`` URIs)
with each item's prompt, revised prompt, size, quality, time and cost, and the
failures with their error and request id. The cost of the images received and what
may have been billed with no image received (outcome unknown, billed but unusable) are
totalled apart. No scripts, no external files; every piece
of text is escaped. Thumbnails are at most 160 pixels, a few kB each.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vibeimg.batch.manifest import Record
from vibeimg.batch.records import possible_cost
from vibeimg.units import count_of
from vibeimg.version import __version__

THUMBNAIL_EDGE = 160
THUMBNAIL_QUALITY = 60

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}
.totals{color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
.item{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
.item.failed{border-color:#d33;background:#fff5f5}
.item.unknown{border-color:#d90;background:#fffaf0}
.item.not-run{border-style:dashed}
.thumb{display:flex;align-items:center;justify-content:center;height:160px;background:#eee}
.thumb img{max-width:100%;max-height:160px}
.prompt{font-weight:600;margin:.4em 0;word-break:break-word}
.revised{color:#555;font-style:italic;word-break:break-word}
.error{color:#b00;word-break:break-word}
dl{display:grid;grid-template-columns:auto 1fr;gap:0 .6em;margin:.3em 0;color:#444}
dt{color:#888}dd{margin:0;word-break:break-all}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 8px}
""".strip()


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def thumbnail_uri(path: Path, edge: int = THUMBNAIL_EDGE) -> str | None:
    """A small thumbnail of the image as a data URI, or None if it cannot be read."""
    from PIL import Image, UnidentifiedImageError, features  # noqa: PLC0415 - only for reports

    try:
        with Image.open(path) as image:
            image.draft("RGB", (edge, edge))  # JPEG: decode at a reduced scale
            image.thumbnail((edge, edge))
            small = image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    buffer = io.BytesIO()
    if features.check("webp"):
        small.save(buffer, "WEBP", quality=THUMBNAIL_QUALITY, method=4)
        media = "image/webp"
    else:  # pragma: no cover - Pillow without libwebp
        small.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
        media = "image/jpeg"
    return f"data:{media};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _status(record: Record) -> str:
    status = record.get("status")
    return {"ok": "done", "failed": "failed", "unknown": "unknown"}.get(str(status), "not-run")


def _cost(record: Record) -> str:
    """The cost cell: extrapolated (a size off the published table) or offline, in words."""
    text = f"${float(record.get('estimated_cost_usd') or 0):.3f}"
    if record.get("cost_extrapolated"):
        text += " (extrapolated)"
    if record.get("offline"):
        text += " (offline: not billed)"
    return text


def _details(record: Record) -> list[tuple[str, Any]]:
    parameters = record.get("parameters") or {}
    cost = record.get("estimated_cost_usd")
    elapsed = record.get("elapsed_seconds")
    rows: list[tuple[str, Any]] = [
        ("line", f"{record.get('line')}" + (f" #{record['index']}" if record.get("index", 1)
                                             != 1 else "")),
        ("kind", record.get("kind")),
        ("size", record.get("size") or parameters.get("size")),
        ("quality", record.get("quality") or parameters.get("quality")),
        ("time", f"{elapsed:.1f} s" if isinstance(elapsed, (int, float)) else None),
        ("cost", _cost(record) if isinstance(cost, (int, float))
         and record.get("status") == "ok" else None),
        ("possible cost", f"${possible_cost(record):.3f} (may have been billed)"
         if possible_cost(record) else None),
        ("request", record.get("request_id")),
        ("key", record.get("key")),
    ]
    return [(name, value) for name, value in rows if value not in (None, "")]


def _card(record: Record, base_dir: Path, link_dir: Path) -> str:
    status = _status(record)
    path = record.get("path")
    image_path = base_dir / path if isinstance(path, str) else None
    thumb = thumbnail_uri(image_path) if status == "done" and image_path else None
    if thumb and image_path is not None:
        href = quote(Path(os.path.relpath(image_path, link_dir)).as_posix())
        visual = (f'<a href="{_e(href)}"><img src="{thumb}" alt="{_e(record.get("prompt"))}">'
                  "</a>")
    else:
        label = {"done": "image missing", "failed": "failed", "not-run": "not run",
                 "unknown": "abandoned" if record.get("abandoned") else "outcome unknown",
                 }[status]
        visual = f"<span>{_e(label)}</span>"
    parts = [f'<figure class="item {status}" id="item-{_e(record.get("key"))}">',
             f'<div class="thumb">{visual}</div><figcaption>',
             f'<p class="prompt">{_e(record.get("prompt"))}</p>']
    if record.get("revised_prompt"):
        parts.append(f'<p class="revised">{_e(record["revised_prompt"])}</p>')
    if status in ("failed", "unknown"):
        earlier = " (an earlier run; not sent again)" if record.get("earlier") else ""
        parts.append(f'<p class="error">{_e(record.get("error"))}{_e(earlier)}</p>')
    parts.append("<dl>" + "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>"
                                  for name, value in _details(record)) + "</dl>")
    parts.append("</figcaption></figure>")
    return "".join(parts)


def render_report(
    records: Iterable[Record], *, base_dir: Path, link_dir: Path | None = None,
    title: str = "vibeimg batch", notes: Iterable[str] = (),
) -> str:
    """The report's HTML. Image paths in ``records`` are relative to ``base_dir``; links
    in the page are relative to ``link_dir`` (the report's folder)."""
    entries = sorted(records, key=lambda r: (r.get("line") or 0, r.get("index") or 0,
                                             str(r.get("key"))))
    statuses = [_status(r) for r in entries]
    cost = sum(float(r.get("estimated_cost_usd") or 0)
               for r, s in zip(entries, statuses, strict=True) if s == "done")
    possible = sum(possible_cost(r) for r in entries if not r.get("earlier"))
    failures = [r for r, s in zip(entries, statuses, strict=True) if s in ("failed", "unknown")]
    done = [r for r, s in zip(entries, statuses, strict=True) if s == "done"]
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    unknown = (f"{statuses.count('unknown')} of unknown outcome, "
               if statuses.count("unknown") else "")
    basis = ""
    if any(r.get("cost_extrapolated") for r in entries):
        basis += (" (partly extrapolated: sizes outside the published price table are priced "
                  "from the nearest shape by pixels)")
    if done and all(r.get("offline") for r in done):
        basis += " (offline: made by the emulator, nothing billed)"
    head = (
        f"<p class=\"totals\">{count_of(len(entries), 'item')}: {statuses.count('done')} done, "
        f"{statuses.count('failed')} failed, {unknown}{statuses.count('not-run')} not run; "
        f"estimated cost ${cost:.3f} for the images received"
        + (f", and up to ${possible:.3f} possibly billed with no image received"
           if possible else "")
        + f"{_e(basis)}. Generated {_e(generated)} by vibeimg {_e(__version__)}.</p>"
    )
    body = [f"<h1>{_e(title)}</h1>", head]
    body.extend(f'<p class="note">{_e(note)}</p>' for note in notes)
    if failures:
        rows = "".join(
            f'<tr><td><a href="#item-{_e(r.get("key"))}">{_e(r.get("line"))}</a></td>'
            f'<td>{_e(r.get("prompt"))}</td><td class="error">{_e(r.get("error"))}</td>'
            f'<td>{_e(r.get("request_id") or "-")}</td></tr>' for r in failures)
        body.append("<h2>Failures</h2><table><tr><th>line</th><th>prompt</th><th>error</th>"
                    f"<th>request id</th></tr>{rows}</table>")
    link_from = link_dir if link_dir is not None else base_dir
    body.append('<div class="grid">' + "".join(_card(r, base_dir, link_from) for r in entries)
                + "</div>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body) + "\n</body></html>\n"
    )
