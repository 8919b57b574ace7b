"""The gateway's rules for image options (SPEC.md sections 2 and 4), as error answers.

The checks themselves are :mod:`vibeimg.params`'s; this module words their
refusals the way the gateway does and resolves ``auto`` to what gets drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vibeimg.emulator.server import GatewayFault
from vibeimg.params import (
    DEFAULT_MODEL,
    FORMATS,
    MAX_PROMPT_CHARS,
    MODERATIONS,
    QUALITIES,
    RESPONSE_FORMATS,
    Size,
    size_problem,
)
from vibeimg.records.pricing import estimate_cost

IMAGE_FIELDS = {
    "model", "prompt", "size", "quality", "output_format", "output_compression",
    "response_format", "moderation", "n", "background", "user",
}
TOKEN_PRICE = 30e-6  # USD per image output token: 196 tokens for a low 1024x1024


@dataclass(frozen=True)
class Resolved:
    """Valid options with ``auto`` resolved: what the placeholder is drawn at."""

    prompt: str
    size: Size
    quality: str
    output_format: str
    compression: int | None
    response_format: str

    def usage(self, input_image_tokens: int = 0) -> dict[str, Any]:
        text_tokens = max(1, len(self.prompt) // 4)
        output = round(estimate_cost(self.size, self.quality) / TOKEN_PRICE)
        return {
            "input_tokens": text_tokens + input_image_tokens,
            "output_tokens": output,
            "total_tokens": text_tokens + input_image_tokens + output,
            "input_tokens_details": {
                "text_tokens": text_tokens,
                "image_tokens": input_image_tokens,
            },
        }


def invalid_value(param: str, value: object, choices: tuple[str, ...]) -> GatewayFault:
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


def check_model(fields: dict[str, Any], *, models: tuple[str, ...] = (DEFAULT_MODEL,)) -> str:
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


def check_prompt(fields: dict[str, Any]) -> str:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise GatewayFault(400, "Missing required parameter: 'prompt'.", param="prompt",
                           code="missing_required_parameter")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise GatewayFault(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{MAX_PROMPT_CHARS}, but got a string with length {len(prompt)} instead.",
            param="prompt", code="string_above_max_length",
        )
    return prompt


def resolve_options(fields: dict[str, Any], prompt: str) -> Resolved:
    """Check size, quality, format, compression, moderation; resolve ``auto``."""
    size_text = str(fields.get("size") or "auto")
    size: Size | None = None
    problem = None
    if size_text != "auto":
        width, sep, height = size_text.partition("x")
        if sep and width.isdigit() and height.isdigit():
            size = Size(int(width), int(height))
            problem = size_problem(size)
        else:
            problem = "it is not 'auto' or WIDTHxHEIGHT"
    if problem:
        raise GatewayFault(
            400,
            f"Invalid size '{size_text}': {problem}. Sizes are 'auto' or WIDTHxHEIGHT with "
            "both edges multiples of 16, the longest edge at most 3840, an aspect ratio at "
            "most 3:1, and between 655360 and 8294400 pixels.",
            param="size", code="invalid_value",
        )
    quality = _choice(fields, "quality", QUALITIES, "auto")
    fmt = _choice(fields, "output_format", FORMATS, "png")
    _choice(fields, "moderation", MODERATIONS, "auto")
    response_format = _choice(fields, "response_format", RESPONSE_FORMATS, "b64_json")
    if fields.get("background") == "transparent":
        raise GatewayFault(
            400, "Transparent background is not supported for gpt-image-2.",
            param="background", code="invalid_value",
        )
    compression = fields.get("output_compression")
    if compression is not None:
        try:
            compression = int(compression)
        except (TypeError, ValueError):
            raise GatewayFault(400, f"Invalid 'output_compression': '{compression}' is not an "
                               "integer.", param="output_compression",
                               code="invalid_type") from None
        if not 0 <= compression <= 100:
            raise GatewayFault(
                400, f"Invalid 'output_compression': {compression} is not between 0 and 100.",
                param="output_compression", code="integer_out_of_range",
            )
        if fmt == "png":
            raise GatewayFault(
                400, "output_compression is only supported for the jpeg and webp formats.",
                param="output_compression", code="invalid_value",
            )
    return Resolved(
        prompt=prompt,
        size=size or Size(1024, 1024),
        quality="medium" if quality == "auto" else quality,
        output_format=fmt,
        compression=compression,
        response_format=response_format,
    )


def refuse_unknown(fields: dict[str, Any], known: set[str]) -> None:
    for name in fields:
        if name not in known:
            raise GatewayFault(
                400, f"Unrecognized request argument supplied: {name}", param=name,
                code="unknown_parameter",
            )
