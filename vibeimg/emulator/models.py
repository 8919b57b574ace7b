"""``GET /models``: the cheap request ``vibeimg doctor`` uses to see the gateway answer."""

from __future__ import annotations

from vibeimg.emulator.faults import Fault
from vibeimg.emulator.routing import Context, RecordedRequest, Reply, route

MODELS = ("gpt-image-2", "gpt-5.5")


@route("GET", "/models")
def models(record: RecordedRequest, ctx: Context, fault: Fault | None) -> Reply:
    del record, ctx, fault
    return Reply.json({
        "object": "list",
        "data": [{"id": m, "object": "model", "owned_by": "vibeapi"} for m in MODELS],
    })
