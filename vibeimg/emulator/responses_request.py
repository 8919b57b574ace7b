"""What a ``POST /responses`` request asks for, checked by the gateway's rules (SPEC.md 5).

The gateway's own rules come first: ``instructions`` is required, ``input`` must be
a list of messages, ``n`` and ``previous_response_id`` are refused, and a request
without ``stream: true`` fails with 500. ``input`` may hold a whole conversation, as
a client resends it (the gateway keeps none): earlier user turns, the model's answers
(``output_text``), and images it made coming back as ``input_image`` data URIs of a
later user message. The last user message is this turn's prompt; the last image of
the input is what an answer builds on. Input images are held to the edit limits
(50 MB each, at most 16), as SPEC.md advises.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from typing import Any

from vibeimg.emulator import contract, uploads
from vibeimg.emulator.routing import GatewayFault
from vibeimg.emulator.rules import (
    Resolved,
    auto_size,
    check_model,
    invalid_value,
    resolve_options,
)


@dataclass(frozen=True)
class InputImage:
    """An ``input_image`` of the request: its bytes (the last one is drawn on) and size."""

    data: bytes
    width: int
    height: int

    @property
    def tokens(self) -> int:
        return max(85, self.width * self.height // 750)


@dataclass(frozen=True)
class Ask:
    """What the request asks for, checked."""

    model: str
    instructions: str
    text: str  # this turn's prompt: the text of the last user message
    context_chars: int  # the text of the whole input, for the text model's tokens
    input_images: list[InputImage]
    tools: list[dict[str, Any]]
    tool: dict[str, Any] | None
    options: Resolved
    partial_images: int | None
    action: str = "auto"

    @property
    def background(self) -> InputImage | None:
        """The image this turn builds on: the last of the input, unless told to generate."""
        if self.action == "generate" or not self.input_images:
            return None
        return self.input_images[-1]


def _invalid(param: str, message: str, code: str = "invalid_value") -> GatewayFault:
    return GatewayFault(400, f"Invalid '{param}': {message}", param=param, code=code)


def _message(message: Any, index: int) -> tuple[str, list[Any]]:
    """A message's role and its content items (a plain string is one text item)."""
    param = f"input[{index}]"
    if not isinstance(message, dict) or "content" not in message:
        raise _invalid(param, "expected a message with 'role' and 'content'.", "invalid_type")
    role = message.get("role")
    if role is None:
        raise GatewayFault(400, f"Missing required parameter: '{param}.role'.",
                           param=f"{param}.role", code="missing_required_parameter")
    if role not in contract.ROLES:
        raise invalid_value(f"{param}.role", role, contract.ROLES)
    content = message["content"]
    if isinstance(content, str):
        kind = "output_text" if role == "assistant" else "input_text"
        return role, [{"type": kind, "text": content}]
    if not isinstance(content, list):
        raise _invalid(f"{param}.content", "expected a list.", "invalid_type")
    return role, content


def _input_image(url: Any, param: str) -> InputImage:
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise _invalid(param, "expected a base64 data URI (data:image/png;base64,...).")
    encoded = url.split(",", 1)[1]
    if len(encoded) > (contract.MAX_FILE_BYTES + 2) // 3 * 4:
        raise _invalid(param, f"the image is more than {contract.MAX_FILE_BYTES} bytes.",
                       "image_too_large")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(param, "the base64 data is not valid.") from None
    if len(data) > contract.MAX_FILE_BYTES:
        raise _invalid(param, f"the image is more than {contract.MAX_FILE_BYTES} bytes.",
                       "image_too_large")
    if contract.sniff_format(data[:16]) not in contract.UPLOAD_FORMATS:
        raise _invalid(param, "the image must be png, jpeg or webp.", "invalid_image_format")
    image = uploads.decode(data)
    if image is None:
        raise _invalid(param, "the image cannot be decoded.", "invalid_image")
    return InputImage(data, image.width, image.height)


def read_input(fields: dict[str, Any]) -> tuple[str, int, list[InputImage]]:
    """This turn's prompt, the length of all the input's text, and its images."""
    messages = fields.get("input")
    if not isinstance(messages, list):
        raise GatewayFault(400, "Input must be a list", param="input", code="invalid_type")
    turn: list[str] = []  # the texts of the last user message
    context_chars = 0
    images: list[InputImage] = []
    for i, message in enumerate(messages):
        role, content = _message(message, i)
        allowed = (contract.ASSISTANT_CONTENT_TYPES if role == "assistant"
                   else contract.CONTENT_TYPES)
        texts: list[str] = []
        for j, item in enumerate(content):
            kind = item.get("type") if isinstance(item, dict) else None
            param = f"input[{i}].content[{j}]"
            if kind not in allowed:
                raise invalid_value(f"{param}.type", kind, allowed)
            if kind == "input_image":
                if len(images) == contract.MAX_RESPONSE_INPUT_IMAGES:
                    raise _invalid("input", "too many images. Expected at most "
                                   f"{contract.MAX_RESPONSE_INPUT_IMAGES} input images.",
                                   "array_above_max_length")
                images.append(_input_image(item.get("image_url"), param + ".image_url"))
            elif not isinstance(item.get("text"), str):
                raise _invalid(f"{param}.text", "expected a string.", "invalid_type")
            else:
                texts.append(item["text"])
                context_chars += len(item["text"])
        if role == "user":
            turn = texts
    text = "\n".join(t.strip() for t in turn if t.strip())
    if not text:
        raise GatewayFault(400, "Missing required parameter: 'input' holds no text in its "
                           "last user message.", param="input",
                           code="missing_required_parameter")
    # No length cap: the text model reads far more than an image prompt holds.
    return text, context_chars, images


def read_tool(fields: dict[str, Any], text: str, images: list[InputImage]) -> tuple[
        dict[str, Any] | None, Resolved, int | None, str]:
    """The image tool, its options resolved, ``partial_images`` and the action."""
    tools = fields.get("tools") or []
    if not isinstance(tools, list):
        raise GatewayFault(400, "Invalid 'tools': expected a list.", param="tools",
                           code="invalid_type")
    found = [(i, t) for i, t in enumerate(tools)
             if isinstance(t, dict) and t.get("type") == "image_generation"]
    index, tool = found[0] if found else (0, None)
    options = resolve_options(tool or {}, text)
    if tool is None:
        return None, options, None, "auto"
    for name in tool:
        if name not in contract.TOOL_FIELDS:
            raise GatewayFault(400, f"Unknown parameter: 'tools[{index}].{name}'.",
                               param=f"tools[{index}].{name}", code="unknown_parameter")
    action = tool.get("action", "auto")
    if action not in contract.ACTIONS:
        raise invalid_value(f"tools[{index}].action", action, contract.ACTIONS)
    if action == "edit" and not images:
        raise GatewayFault(400, "The image_generation action 'edit' needs an input image.",
                           param=f"tools[{index}].action", code="invalid_value")
    partial = tool.get("partial_images")
    if partial is not None and (not isinstance(partial, int) or isinstance(partial, bool)
                                or not 0 <= partial <= contract.MAX_PARTIAL_IMAGES):
        raise GatewayFault(400, f"Invalid 'tools[{index}].partial_images': expected an "
                           f"integer between 0 and {contract.MAX_PARTIAL_IMAGES}.",
                           param=f"tools[{index}].partial_images",
                           code="integer_out_of_range")
    return tool, options, partial, str(action)


def check_request(fields: dict[str, Any]) -> Ask:
    """The gateway's rules for ``/responses``, in its own words."""
    check_model(fields, models=contract.TEXT_MODELS)
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
    text, context_chars, images = read_input(fields)
    tool, options, partial, action = read_tool(fields, text, images)
    if fields.get("stream") is not True:
        raise GatewayFault(500, "Non-streaming requests are not supported; set stream: true.",
                           kind="server_error")
    ask = Ask(model=str(fields["model"]), instructions=instructions, text=text,
              context_chars=context_chars, input_images=images,
              tools=list(fields.get("tools") or []), tool=tool, options=options,
              partial_images=partial, action=action)
    background = ask.background
    if background is not None and options.size_asked == "auto":
        ask = replace(ask, options=replace(
            options, size=auto_size(background.width, background.height)))
    return ask
