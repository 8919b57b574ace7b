"""Where a batch item becomes an :class:`~vibeimg.imageapi.ImageRequest`: one function.

Generate lines become ``POST /images/generations`` JSON bodies; edit lines (``images``,
``mask``) go through the same builder as ``vibeimg edit``, so that both commands
validate and send edits identically.
"""

from __future__ import annotations

from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.errors import UsageError
from vibeimg.imageapi import ImageRequest
from vibeimg.images import slugify


def build_request(item: BatchItem) -> ImageRequest:
    """The request that makes ``item``'s image (the same for each of a line's ``n``)."""
    record: dict[str, Any] = {
        "slug": slugify(item.prompt),
        "batch": {"key": item.key, "line": item.line, "index": item.index},
    }
    if item.kind == "edit":
        return _edit_request(item, record)
    return ImageRequest(
        endpoint="images/generations", prompt=item.prompt, options=item.options,
        json_body=item.options.generation_body(item.prompt), record=record,
    )


def check_item(item: BatchItem) -> None:
    """Build the request once, so that its own checks run before anything is sent."""
    build_request(item)


def _edit_request(item: BatchItem, record: dict[str, Any]) -> ImageRequest:  # noqa: ARG001
    # Wired to vibeimg.edits.build_edit_request once edits land.
    raise UsageError(
        "edit lines (images, mask) are not supported by this version of vibeimg",
        hint="remove images/mask from the line, or upgrade vibeimg",
    )
