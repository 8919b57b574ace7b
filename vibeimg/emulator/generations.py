"""``POST /images/generations`` as the gateway answers it (SPEC.md section 2)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from vibeimg.emulator import contract
from vibeimg.emulator.faults import Fault
from vibeimg.emulator.placeholder import placeholder
from vibeimg.emulator.routing import Context, GatewayFault, RecordedRequest, Reply, route
from vibeimg.emulator.rules import (
    Resolved,
    check_model,
    check_prompt,
    refuse_unknown,
    resolve_options,
)


def parse_json_body(record: RecordedRequest) -> dict[str, Any]:
    try:
        body = record.json()
    except ValueError:
        raise GatewayFault(
            400, "We could not parse the JSON body of your request. (HINT: This likely means "
            "you aren't using your HTTP library correctly.)",
        ) from None
    if not isinstance(body, dict):
        raise GatewayFault(400, "The request body must be a JSON object.")
    return body


def image_reply(
    record: RecordedRequest, ctx: Context, options: Resolved, fault: Fault | None, *,
    image: bytes | None = None, input_image_tokens: int = 0,
) -> Reply:
    """The JSON answer holding one image, with the body faults applied.

    The image is drawn first and the latency waited out after, from the request's
    arrival: the drawing is part of the latency, as generating is on the gateway.
    """
    if ctx.fixed_image is not None:
        image = ctx.fixed_image
    elif image is None:
        image = placeholder(options.prompt, options.size, options.output_format,
                            options.compression)
    record.wait_for_latency(ctx.config.latency)
    fmt = contract.sniff_format(image[:16]) or options.output_format
    if fault is not None and fault.kind == "not-image":
        image = b"this is not an image, it is plain text" * 4
    encoded = base64.b64encode(image)
    if fault is not None and fault.kind == "bad-base64":
        middle = len(encoded) // 2
        encoded = encoded[:middle] + b"!*not~base64*!" + encoded[middle:]
    if options.response_format == "url":
        media = contract.MEDIA_TYPES[fmt].encode()
        key, value = b"url", b"data:" + media + b";base64," + encoded
    else:
        key, value = b"b64_json", encoded
    meta = {
        "size": str(options.size), "quality": options.quality, "output_format": fmt,
        "usage": options.usage(input_image_tokens),
    }
    if fault is not None and fault.kind == "no-metadata":
        meta = {}  # SPEC.md: only created and data are sure to be there

    # Built by hand around the image so that 33 MB of base64 is not re-encoded by json.
    body = b"".join((
        b'{"created": %d, "data": [{"%s": "' % (int(time.time()), key), value, b'"}]',
        b", " + json.dumps(meta)[1:].encode() if meta else b"}",
    ))
    return Reply(body=body)


@route("POST", "/images/generations")
def generations(record: RecordedRequest, ctx: Context, fault: Fault | None) -> Reply:
    fields = parse_json_body(record)
    check_model(fields)
    prompt = check_prompt(fields)
    refuse_unknown(fields, contract.IMAGE_FIELDS)
    options = resolve_options(fields, prompt)
    return image_reply(record, ctx, options, fault)
