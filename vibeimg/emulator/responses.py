"""``POST /responses`` as the gateway answers it (SPEC.md section 5): always streamed.

The gateway's own rules come first: ``instructions`` is required, ``input`` must be
a list, ``n`` and ``previous_response_id`` are refused, and a request without
``stream: true`` fails with 500. The text model is played by a few rules: it makes
one image per image asked for ("Generate 3 different images: 1) ... 2) ... 3) ..."),
each as its own ``image_generation_call``, and revises each prompt deterministically.

Without ``partial_images`` the gateway's way is followed: one ``partial_image``
event holds the whole image and ``response.output_item.done`` has no ``result``.
With ``partial_images`` (OpenAI's way) that many previews are streamed and the
image itself is the ``result`` of ``response.output_item.done``. ``response.completed``
lists the items without their ``result``, so megabytes are not sent twice.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from vibeimg.emulator.faults import Fault
from vibeimg.emulator.generations import parse_json_body
from vibeimg.emulator.placeholder import placeholder
from vibeimg.emulator.rules import Resolved, check_model, invalid_value, resolve_options
from vibeimg.emulator.server import (
    CUT_STREAM,
    Context,
    GatewayFault,
    RecordedRequest,
    Reply,
    route,
    sleep_with_keepalive,
)
from vibeimg.files.formats import sniff_format
from vibeimg.jobs.chat.request import ACTIONS, MAX_IMAGES, images_asked

TEXT_MODELS = ("gpt-5.5",)
TOOL_FIELDS = {
    "type", "size", "quality", "output_format", "output_compression", "moderation", "action",
    "partial_images", "background", "model", "input_fidelity",
}
_IMAGE_MARK = "@@IMAGE@@"
_ENUMERATED = re.compile(r"(?:^|\s)(\d{1,2})[).]\s+")


@dataclass(frozen=True)
class _Ask:
    """What the request asks for, checked."""

    model: str
    instructions: str
    text: str
    input_images: list[tuple[int, int]]  # sizes of the input images
    tools: list[dict[str, Any]]
    tool: dict[str, Any] | None
    options: Resolved
    partial_images: int | None


def _message_content(message: Any, index: int) -> list[Any]:
    if not isinstance(message, dict) or "content" not in message:
        raise GatewayFault(400, f"Invalid 'input[{index}]': expected a message with 'role' "
                           "and 'content'.", param=f"input[{index}]", code="invalid_type")
    content = message["content"]
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        raise GatewayFault(400, f"Invalid 'input[{index}].content': expected a list.",
                           param=f"input[{index}].content", code="invalid_type")
    return content


def _input_image(url: Any, param: str) -> tuple[int, int]:
    from PIL import Image  # noqa: PLC0415 - only for requests with images

    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise GatewayFault(400, f"Invalid '{param}': expected a base64 data URI "
                           "(data:image/png;base64,...).", param=param, code="invalid_value")
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise GatewayFault(400, f"Invalid '{param}': the base64 data is not valid.",
                           param=param, code="invalid_value") from None
    if sniff_format(data[:16]) not in ("png", "jpeg", "webp"):
        raise GatewayFault(400, f"Invalid '{param}': the image must be png, jpeg or webp.",
                           param=param, code="invalid_image_format")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except OSError:
        raise GatewayFault(400, f"Invalid '{param}': the image cannot be decoded.",
                           param=param, code="invalid_image") from None
    return width, height


def _read_input(fields: dict[str, Any]) -> tuple[str, list[tuple[int, int]]]:
    messages = fields.get("input")
    if not isinstance(messages, list):
        raise GatewayFault(400, "Input must be a list", param="input", code="invalid_type")
    texts: list[str] = []
    images: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        for j, item in enumerate(_message_content(message, i)):
            kind = item.get("type") if isinstance(item, dict) else None
            param = f"input[{i}].content[{j}]"
            if kind == "input_text" and isinstance(item.get("text"), str):
                texts.append(item["text"])
            elif kind == "input_image":
                images.append(_input_image(item.get("image_url"), param + ".image_url"))
            else:
                raise GatewayFault(400, f"Invalid '{param}': expected input_text or "
                                   "input_image.", param=param, code="invalid_value")
    text = "\n".join(t.strip() for t in texts if t.strip())
    if not text:
        raise GatewayFault(400, "Missing required parameter: 'input' holds no text.",
                           param="input", code="missing_required_parameter")
    return text, images


def _read_tool(fields: dict[str, Any], text: str, has_images: bool) -> tuple[
        dict[str, Any] | None, Resolved, int | None]:
    tools = fields.get("tools") or []
    if not isinstance(tools, list):
        raise GatewayFault(400, "Invalid 'tools': expected a list.", param="tools",
                           code="invalid_type")
    found = [(i, t) for i, t in enumerate(tools)
             if isinstance(t, dict) and t.get("type") == "image_generation"]
    index, tool = found[0] if found else (0, None)
    options = resolve_options(tool or {}, text)
    if tool is None:
        return None, options, None
    for name in tool:
        if name not in TOOL_FIELDS:
            raise GatewayFault(400, f"Unknown parameter: 'tools[{index}].{name}'.",
                               param=f"tools[{index}].{name}", code="unknown_parameter")
    action = tool.get("action", "auto")
    if action not in ACTIONS:
        raise invalid_value(f"tools[{index}].action", action, ACTIONS)
    if action == "edit" and not has_images:
        raise GatewayFault(400, "The image_generation action 'edit' needs an input image.",
                           param=f"tools[{index}].action", code="invalid_value")
    partial = tool.get("partial_images")
    if partial is not None and (not isinstance(partial, int) or not 0 <= partial <= 3):
        raise GatewayFault(400, f"Invalid 'tools[{index}].partial_images': expected an "
                           "integer between 0 and 3.", param=f"tools[{index}].partial_images",
                           code="integer_out_of_range")
    return tool, options, partial


def check_request(fields: dict[str, Any]) -> _Ask:
    """The gateway's rules for ``/responses``, in its own words."""
    check_model(fields, models=TEXT_MODELS)
    instructions = fields.get("instructions")
    if not isinstance(instructions, str) or not instructions.strip():
        raise GatewayFault(400, "Instructions are required", param="instructions",
                           code="missing_required_parameter")
    if "n" in fields:
        raise GatewayFault(400, "Unsupported parameter: 'n'. Ask for several images in the "
                           "prompt instead.", param="n", code="unsupported_parameter")
    if "previous_response_id" in fields:
        raise GatewayFault(400, "Unsupported parameter: 'previous_response_id' is only "
                           "available over WebSocket v2.", param="previous_response_id",
                           code="unsupported_parameter")
    text, images = _read_input(fields)
    tool, options, partial = _read_tool(fields, text, bool(images))
    if fields.get("stream") is not True:
        raise GatewayFault(500, "Non-streaming requests are not supported; set stream: true.",
                           kind="server_error")
    return _Ask(model=str(fields["model"]), instructions=instructions, text=text,
                input_images=images, tools=list(fields.get("tools") or []), tool=tool,
                options=options, partial_images=partial)


def subjects(text: str) -> list[str]:
    """One prompt per image: the enumerated items of "1) ... 2) ...", or the text again."""
    count = min(images_asked(text), MAX_IMAGES)
    parts = _ENUMERATED.split(text)
    numbered = [p.strip(" ,;.") for p in parts[2::2]]
    if count > 1 and len(numbered) == count and all(numbered):
        return numbered
    subject = text.split(":", 1)[1].strip() if count > 1 and ":" in text else text
    if count == 1:
        return [subject]
    return [f"{subject} (variation {i} of {count})" for i in range(1, count + 1)]


def revise(subject: str) -> str:
    """The text model's rewrite: deterministic, so tests can expect it."""
    words = " ".join(subject.split())[:500]
    words = words[:1].upper() + words[1:]
    return (f"{words.rstrip('.')}, rendered as a clean, detailed illustration with balanced "
            "composition and soft, even lighting.")


class _Events:
    """Numbered SSE events, as bytes."""

    def __init__(self) -> None:
        self.sequence = 0

    def event(self, kind: str, **payload: Any) -> bytes:
        data = json.dumps({"type": kind, "sequence_number": self._next(), **payload})
        return f"event: {kind}\ndata: {data}\n\n".encode()

    def image_event(self, kind: str, encoded: bytes, **payload: Any) -> list[bytes]:
        """The event around a big base64 string, in three pieces so it is never copied."""
        text = self.event(kind, **payload).decode()
        head, tail = text.split(_IMAGE_MARK, 1)
        return [head.encode(), encoded, tail.encode()]

    def keepalive(self) -> bytes:
        return b": keepalive\n\n" + self.event("keepalive")

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence - 1


def _usage(ask: _Ask, images: int) -> dict[str, Any]:
    """The text model's tokens: about 1,600-2,300 per call on the gateway."""
    image_tokens = sum(max(85, w * h // 750) for w, h in ask.input_images)
    prompt_tokens = 1500 + (len(ask.instructions) + len(ask.text)) // 4
    output = 80 + 60 * images
    return {
        "input_tokens": prompt_tokens + image_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 40 * images},
        "total_tokens": prompt_tokens + image_tokens + output,
    }


def _image_usage(per_image: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                             "input_tokens_details": {"text_tokens": 0, "image_tokens": 0}}
    for usage in per_image:
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            total[key] += usage[key]
        for key in ("text_tokens", "image_tokens"):
            total["input_tokens_details"][key] += usage["input_tokens_details"][key]
    return total


def _draw(ctx: Context, options: Resolved, label: str) -> bytes:
    if ctx.fixed_image is not None:
        return ctx.fixed_image
    return placeholder(options.prompt, options.size, options.output_format,
                       options.compression, label=label)


def stream_events(ask: _Ask, ctx: Context, fault: Fault | None) -> Iterator[bytes]:
    """The whole event sequence of SPEC.md section 5, with keepalives and faults."""
    ev = _Events()
    response: dict[str, Any] = {
        "id": "resp_" + uuid.uuid4().hex, "object": "response",
        "created_at": int(time.time()), "status": "in_progress", "model": ask.model,
        "instructions": ask.instructions, "output": [], "tools": ask.tools,
        "tool_choice": "auto", "parallel_tool_calls": True, "usage": None, "error": None,
        "incomplete_details": None,
    }
    yield ev.event("response.created", response=response)
    yield ev.event("response.in_progress", response=response)
    items = subjects(ask.text) if ask.tool is not None else []
    done_items: list[dict[str, Any]] = []
    image_usage: list[dict[str, Any]] = []
    input_tokens = sum(max(85, w * h // 750) for w, h in ask.input_images)
    kind = fault.kind if fault is not None else ""
    for index, subject in enumerate(items):
        last = index == len(items) - 1
        options = replace(ask.options, prompt=subject)
        item = {"id": "ig_" + uuid.uuid4().hex, "type": "image_generation_call",
                "status": "in_progress"}
        where = {"item_id": item["id"], "output_index": index}
        yield ev.event("response.output_item.added", output_index=index, item=item)
        yield ev.event("response.image_generation_call.in_progress", **where)
        yield ev.event("response.image_generation_call.generating", **where)
        for _ in sleep_with_keepalive(ctx.config.latency, ctx.config.keepalive_interval):
            yield ev.keepalive()
        if last and kind == "stream-error":
            yield ev.event("error", code="server_error", param=None,
                           message="The image generation failed unexpectedly.")
            return
        if last and kind in ("stream-failed", "stream-incomplete"):
            yield from _ending(ev, response, kind, done_items)
            return
        if last and kind == "bad-json":  # an event whose data is cut short mid-object
            whole = ev.event("response.output_item.done", output_index=index, item=item)
            yield whole[: len(whole) // 2] + b"\n\n"
            return
        image = _draw(ctx, options, f"{index + 1}/{len(items)}")
        fmt = sniff_format(image[:16]) or options.output_format
        encoded = _encode(image, kind if last else "")
        meta = {"size": str(options.size), "quality": options.quality, "output_format": fmt}
        done = {**item, "status": "completed", "revised_prompt": revise(subject), **meta}
        cut = last and kind in ("stream-cut", "drop")  # drop: the connection goes mid-image
        if ask.partial_images is None:  # the gateway: the whole image as the partial image
            yield from _maybe_cut(ev.image_event(
                "response.image_generation_call.partial_image", encoded, partial_image_index=0,
                partial_image_b64=_IMAGE_MARK, **where, **meta), cut=cut)
            if cut:
                return
            yield ev.event("response.output_item.done", output_index=index, item=done)
        else:  # OpenAI: previews, then the image as the item's result
            for p in range(ask.partial_images):
                preview = base64.b64encode(_draw(ctx, options, f"preview {p + 1}"))
                yield from ev.image_event(
                    "response.image_generation_call.partial_image", preview,
                    partial_image_index=p, partial_image_b64=_IMAGE_MARK, **where, **meta)
            yield from _maybe_cut(ev.image_event(
                "response.output_item.done", encoded, output_index=index,
                item={**done, "result": _IMAGE_MARK}), cut=cut)
            if cut:
                return
        done_items.append(done)
        image_usage.append(options.usage(input_tokens))
    if ask.tool is None:
        text = ("I can describe images, but I have no image tool in this request: add "
                '{"type": "image_generation"} to tools.')
        yield ev.event("response.output_text.done", item_id="msg_" + uuid.uuid4().hex,
                       output_index=0, content_index=0, text=text)
    response = {**response, "status": "completed", "output": done_items,
                "usage": _usage(ask, len(done_items))}
    if image_usage:
        response["tool_usage"] = {"image_gen": _image_usage(image_usage)}
    yield ev.event("response.completed", response=response)


def _maybe_cut(pieces: list[bytes], *, cut: bool) -> Iterator[bytes]:
    """The pieces of an image event, or (``stream-cut``) half of it and a dropped line."""
    if not cut:
        yield from pieces
        return
    yield pieces[0]
    yield pieces[1][: len(pieces[1]) // 2]
    yield CUT_STREAM


def _encode(image: bytes, kind: str) -> bytes:
    if kind == "not-image":
        image = b"this is not an image, it is plain text" * 4
    encoded = base64.b64encode(image)
    if kind == "bad-base64":
        middle = len(encoded) // 2
        encoded = encoded[:middle] + b"!*not~base64*!" + encoded[middle:]
    return encoded


def _ending(ev: _Events, response: dict[str, Any], kind: str,
            done_items: list[dict[str, Any]]) -> Iterator[bytes]:
    if kind == "stream-failed":
        failed = {**response, "status": "failed", "output": done_items,
                  "error": {"code": "server_error",
                            "message": "The image could not be generated."}}
        yield ev.event("response.failed", response=failed)
    else:
        incomplete = {**response, "status": "incomplete", "output": done_items,
                      "incomplete_details": {"reason": "max_output_tokens"}}
        yield ev.event("response.incomplete", response=incomplete)


@route("POST", "/responses")
def responses(record: RecordedRequest, ctx: Context, fault: Fault | None) -> Reply:
    ask = check_request(parse_json_body(record))
    return Reply(content_type="text/event-stream; charset=utf-8",
                 stream=stream_events(ask, ctx, fault))
