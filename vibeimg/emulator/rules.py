"""The gateway's rules for image options (SPEC.md sections 2 and 4), as error answers.

The rules are :mod:`.contract`'s, the emulator's own statement of SPEC.md; this
module words their refusals the way the gateway does and resolves ``auto`` to what
gets drawn. Shared by the three endpoints (a form field of ``/images/edits`` arrives
as a string, hence the care with ``output_compression``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from vibeimg.emulator import contract
from vibeimg.emulator.contract import Size
from vibeimg.emulator.routing import GatewayFault


@dataclass(frozen=True)
class Resolved:
    """Valid options with ``auto`` resolved: what the placeholder is drawn at."""

    prompt: str
    size: Size
    quality: str
    output_format: str
    compression: int | None
    response_format: str
    size_asked: str = "auto"

    def usage(self, input_image_tokens: int = 0) -> dict[str, Any]:
        text_tokens = max(1, len(self.prompt) // 4)
        output = contract.output_tokens(self.size, self.quality)
        return {
            "input_tokens": text_tokens + input_image_tokens,
            "output_tokens": output,
            "total_tokens": text_tokens + input_image_tokens + output,
            "input_tokens_details": {
                "text_tokens": text_tokens,
                "image_tokens": input_image_tokens,
            },
        }


def invalid_value(param: str, value: object, choices: Collection[str]) -> GatewayFault:
    listed = ", ".join(f"'{c}'" for c in choices)
    return GatewayFault(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


def _choice(fields: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = fields.get(name, default)
    if value is None:
        return default
    if value not in choices:
        raise invalid_value(name, value, choices)
    return str(value)


def check_model(
    fields: dict[str, Any], *, models: tuple[str, ...] = (contract.IMAGE_MODEL,)
) -> str:
    model = fields.get("model")
    if not model:
        raise GatewayFault(400, "Missing required parameter: 'model'.", param="model",
                           code="missing_required_parameter")
    if model not in models:
        raise GatewayFault(
            404, f"The model '{model}' does not exist or you do not have access to it.",
            param="model", code="model_not_found",
        )
    return str(model)


def json_type(value: object) -> str:
    """A JSON value's type in OpenAI's words ("an integer", "a string")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def invalid_type(param: str, expected: str, value: object) -> GatewayFault:
    """OpenAI's answer to a value of the wrong JSON type."""
    return GatewayFault(400, f"Invalid type for '{param}': expected {expected}, but got "
                        f"{json_type(value)} instead.", param=param, code="invalid_type")


def check_prompt_text(prompt: object, param: str = "prompt") -> str:
    """A prompt: a non-blank string of at most 32,000 characters."""
    if prompt is not None and not isinstance(prompt, str):
        raise invalid_type(param, "a string", prompt)
    if prompt is None or not prompt.strip():
        raise GatewayFault(400, f"Missing required parameter: '{param}'.", param=param,
                           code="missing_required_parameter")
    if len(prompt) > contract.MAX_PROMPT_CHARS:
        raise GatewayFault(
            400,
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{contract.MAX_PROMPT_CHARS}, but got a string with length {len(prompt)} "
            "instead.",
            param=param, code="string_above_max_length",
        )
    return prompt


def check_prompt(fields: dict[str, Any]) -> str:
    return check_prompt_text(fields.get("prompt"))


def check_size(value: object) -> Size | None:
    """The asked size (None for ``auto``); refused with the rules of section 4."""
    text = "auto" if value is None else str(value)
    if text == "auto":
        return None
    size = contract.parse_wire_size(text)
    problem = ("it is not 'auto' or WIDTHxHEIGHT" if size is None
               else contract.size_problem(size))
    if problem:
        raise GatewayFault(
            400,
            f"Invalid size '{text}': {problem}. Sizes are 'auto' or WIDTHxHEIGHT with both "
            f"edges multiples of {contract.EDGE_MULTIPLE}, the longest edge at most "
            f"{contract.MAX_EDGE}, an aspect ratio at most {contract.MAX_RATIO}:1, and "
            f"between {contract.MIN_PIXELS} and {contract.MAX_PIXELS} pixels.",
            param="size", code="invalid_value",
        )
    return size


def check_compression(value: object, output_format: str, param: str) -> int | None:
    """An integer 0-100, only for jpeg and webp (a form field arrives as digits)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise GatewayFault(400, f"Invalid '{param}': '{value}' is not an integer.",
                           param=param, code="invalid_type")
    if not contract.MIN_COMPRESSION <= value <= contract.MAX_COMPRESSION:
        raise GatewayFault(
            400, f"Invalid '{param}': {value} is not between {contract.MIN_COMPRESSION} and "
            f"{contract.MAX_COMPRESSION}.", param=param, code="integer_out_of_range",
        )
    if output_format not in contract.COMPRESSED_FORMATS:
        raise GatewayFault(
            400, "output_compression is only supported for the jpeg and webp formats.",
            param=param, code="invalid_value",
        )
    return value


def check_count(value: object) -> None:
    """``n``: ignored by the gateway (one image a request), but typed all the same: an
    integer, or its digits in a form field."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return
    if isinstance(value, str) and value.strip().isdigit():
        return
    raise invalid_type("n", "an integer", value)


def resolve_options(fields: dict[str, Any], prompt: str) -> Resolved:
    """Check size, quality, format, compression, moderation, background and ``n``;
    resolve ``auto``."""
    check_count(fields.get("n"))
    size = check_size(fields.get("size"))
    quality = _choice(fields, "quality", contract.QUALITIES, "auto")
    fmt = _choice(fields, "output_format", contract.OUTPUT_FORMATS, "png")
    _choice(fields, "moderation", contract.MODERATIONS, "auto")
    response_format = _choice(fields, "response_format", contract.RESPONSE_FORMATS, "b64_json")
    background = _choice(fields, "background", contract.BACKGROUNDS, "auto")
    if background == "transparent":
        raise GatewayFault(
            400, "Transparent background is not supported for gpt-image-2.",
            param="background", code="invalid_value",
        )
    compression = check_compression(fields.get("output_compression"), fmt,
                                     "output_compression")
    return Resolved(
        prompt=prompt,
        size=size or contract.DEFAULT_SIZE,
        quality=contract.AUTO_QUALITY if quality == "auto" else quality,
        output_format=fmt,
        compression=compression,
        response_format=response_format,
        size_asked="auto" if size is None else str(size),
    )


def auto_size(width: int, height: int) -> Size:
    """What ``size: auto`` draws for an input image: the common size nearest its shape."""
    ratio = width / height
    if ratio > 1.2:
        return Size(1536, 1024)
    if ratio < 1 / 1.2:
        return Size(1024, 1536)
    return contract.DEFAULT_SIZE


def refuse_unknown(fields: dict[str, Any], known: Collection[str]) -> None:
    for name in fields:
        if name not in known:
            raise GatewayFault(
                400, f"Unrecognized request argument supplied: {name}", param=name,
                code="unknown_parameter",
            )
