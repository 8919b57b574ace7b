"""Where a batch item becomes an :class:`~vibeimg.jobs.image_requests.ImageRequest`: one function.

Generate lines become ``POST /images/generations`` JSON bodies; edit lines (``images``,
``mask``) go through :func:`vibeimg.jobs.edits.build_edit_request`, the builder of
``vibeimg edit``, so that both commands check and send edits identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.files.naming import slugify
from vibeimg.jobs.image_requests import ImageRequest

Notify = Callable[[str], None]


def _ignore(message: str) -> None:
    del message


def build_request(item: BatchItem, *, notify: Notify = _ignore,
                  warn: Notify = _ignore) -> ImageRequest:
    """The request that makes ``item``'s image (the same for each of a line's ``n``).

    ``notify`` hears of changes made to what is sent (a mask converted), ``warn`` of
    likely mistakes (a mask that repaints nothing); both only for edit lines.
    """
    record: dict[str, Any] = {
        "slug": slugify(item.prompt, ascii_only=item.ascii_names),
        "batch": {"key": item.key, "line": item.line, "index": item.index},
    }
    if item.kind == "edit":
        from vibeimg.jobs.edits import build_edit_request  # noqa: PLC0415 - Pillow for edits only

        request = build_edit_request(
            item.prompt, list(item.images), item.mask, item.options,
            convert_mask=item.convert_mask, resize_mask=item.resize_mask,
            notify=notify, warn=warn, ascii_names=item.ascii_names,
        )
        return replace(request, record={**request.record, **record})
    return ImageRequest(
        endpoint="images/generations", prompt=item.prompt, options=item.options,
        json_body=item.options.generation_body(item.prompt), record=record,
    )


def describe_request(item: BatchItem) -> dict[str, Any]:
    """What ``--dry-run`` shows an item would send: the JSON body, or the multipart parts."""
    request = build_request(item)
    if item.kind == "edit":
        from vibeimg.jobs.edits import describe_parts  # noqa: PLC0415 - Pillow for edits only

        return {"endpoint": request.endpoint, "multipart": describe_parts(request)}
    return {"endpoint": request.endpoint, "json": request.json_body}
