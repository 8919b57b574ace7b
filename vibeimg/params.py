"""Image options and their rules (SPEC.md sections 2 and 4): pure validation.

Everything the gateway would refuse is refused here first, with a message that
names the problem and the fix, so that no request is ever sent (and billed) in vain.
The emulator states the same rules on its own (``vibeimg/emulator/contract.py``), so
that a mistake here is refused there, not repeated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from vibeimg.choices import (
    DEFAULT_MODEL,
    FORMAT_ALIASES,
    FORMATS,
    MODERATIONS,
    QUALITIES,
    RESPONSE_FORMATS,
    SIZE_ALIASES,
    SIZE_CHOICES,
)
from vibeimg.errors import UsageError

__all__ = [  # the choices are defined in vibeimg.choices and offered here too
    "DEFAULT_MODEL", "EDGE_MULTIPLE", "EXPERIMENTAL_PIXELS", "FORMATS", "FORMAT_ALIASES",
    "MAX_EDGE", "MAX_PIXELS", "MAX_PROMPT_CHARS", "MAX_RATIO", "MIN_PIXELS", "MODERATIONS",
    "QUALITIES", "RESPONSE_FORMATS", "SIZE_ALIASES", "SIZE_CHOICES", "ImageOptions", "Size",
    "check_choice", "check_compression", "check_prompt", "decode_prompt", "not_utf8",
    "parse_size", "size_problem",
]

MAX_PROMPT_CHARS = 32_000

MAX_EDGE = 3840
EDGE_MULTIPLE = 16
MAX_RATIO = 3
MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400
EXPERIMENTAL_PIXELS = 3_686_400  # 2560x1440: above this, output is experimental



class Size(NamedTuple):
    """An explicit output size in pixels."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def experimental(self) -> bool:
        """Above 2K the gateway's output is experimental: warn, don't refuse."""
        return self.pixels > EXPERIMENTAL_PIXELS


def _nearest_valid(width: int, height: int) -> Size | None:
    """A valid size close to the one asked for, to suggest in an error."""
    long_edge, short_edge = max(width, height), min(width, height)
    if short_edge <= 0:
        return None
    ratio = min(long_edge / short_edge, MAX_RATIO)
    # Scale the pixel count into range, then round edges to multiples of 16.
    pixels = min(max(width * height, MIN_PIXELS), MAX_PIXELS)
    short = math.sqrt(pixels / ratio)
    for _ in range(8):
        s = max(EDGE_MULTIPLE, round(short / EDGE_MULTIPLE) * EDGE_MULTIPLE)
        long_ = min(MAX_EDGE, round(s * ratio / EDGE_MULTIPLE) * EDGE_MULTIPLE)
        candidate = Size(long_, s) if width >= height else Size(s, long_)
        if size_problem(candidate) is None:
            return candidate
        short += EDGE_MULTIPLE if candidate.pixels < MIN_PIXELS else -EDGE_MULTIPLE
    return None


def size_problem(size: Size) -> str | None:
    """Why the gateway would refuse this size, or None when it is valid."""
    w, h = size
    if w <= 0 or h <= 0:
        return "both edges must be positive"
    if max(w, h) > MAX_EDGE:
        return f"the longest edge must be at most {MAX_EDGE} pixels"
    if w % EDGE_MULTIPLE or h % EDGE_MULTIPLE:
        return f"both edges must be multiples of {EDGE_MULTIPLE}"
    if max(w, h) > MAX_RATIO * min(w, h):
        return f"the long edge may be at most {MAX_RATIO} times the short edge"
    if w * h < MIN_PIXELS:
        return f"it must have at least {MIN_PIXELS:,} pixels"
    if w * h > MAX_PIXELS:
        return f"it must have at most {MAX_PIXELS:,} pixels"
    return None


def parse_size(text: str) -> Size | None:
    """Parse ``auto`` (None), an alias such as ``landscape``, or ``WIDTHxHEIGHT``.

    Raises UsageError naming the broken rule and suggesting a valid size.
    """
    raw = text.strip().lower()
    if raw == "auto":
        return None
    raw = SIZE_ALIASES.get(raw, raw)
    parts = raw.replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        aliases = ", ".join(SIZE_ALIASES)
        raise UsageError(
            f"invalid size {text!r}",
            hint=f"use auto, WIDTHxHEIGHT such as 1024x1024, or one of {aliases}",
            param="size",
        )
    size = Size(int(parts[0]), int(parts[1]))
    problem = size_problem(size)
    if problem:
        nearest = _nearest_valid(*size)
        hint = f"try {nearest}" if nearest else "try 1024x1024"
        raise UsageError(f"invalid size {text!r}: {problem}", hint=hint, param="size")
    return size


def check_choice(name: str, value: str, choices: tuple[str, ...],
                 param: str | None = None) -> str:
    """Refuse a value outside its list of choices (``param``: the request field, when it
    is not ``name``)."""
    if value not in choices:
        raise UsageError(f"invalid {name} {value!r}", hint=f"choose one of {', '.join(choices)}",
                         param=param or name)
    return value


def check_compression(output_format: str, compression: int | None) -> int | None:
    """Compression is 0-100 and only for jpeg and webp."""
    if compression is None:
        return None
    if not 0 <= compression <= 100:
        raise UsageError(
            f"invalid compression {compression}: it must be between 0 and 100",
            hint="for example --compression 80", param="output_compression",
        )
    if output_format not in ("jpeg", "webp"):
        raise UsageError(
            f"compression only applies to jpeg and webp, not {output_format}",
            hint="drop --compression or add --format jpeg",
            param="output_compression",
        )
    return compression


def not_utf8(what: str = "the prompt") -> UsageError:
    """The error for text that is not UTF-8: it cannot be sent as JSON to the gateway."""
    return UsageError(
        f"{what} is not valid UTF-8 text",
        hint="convert it to UTF-8 first, for instance with iconv -f latin1 -t utf-8",
        param="prompt",
    )


#: Byte-order marks of the encodings that are not UTF-8, longest first (UTF-32LE's
#: begins as UTF-16LE's does), with the name iconv knows each by.
_OTHER_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32", "utf-32"), (b"\x00\x00\xfe\xff", "UTF-32", "utf-32"),
               (b"\xff\xfe", "UTF-16", "utf-16"), (b"\xfe\xff", "UTF-16", "utf-16"))


def decode_prompt(data: bytes, what: str = "the prompt") -> str:
    """Text read as bytes (stdin, a file) as UTF-8, a leading byte-order mark dropped.

    Text saved as UTF-16 (Notepad's "Unicode", PowerShell's redirection) or UTF-32 is
    told so by its byte-order mark, with the iconv command that converts it.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        for mark, name, iconv in _OTHER_BOMS:
            if data.startswith(mark):
                raise UsageError(f"{what} is {name} text, not UTF-8",
                                 hint=f"convert it to UTF-8 first: iconv -f {iconv} -t utf-8",
                                 param="prompt") from exc
        raise not_utf8(what) from exc


def check_prompt(prompt: str) -> str:
    """A prompt is UTF-8 text, non-empty and at most 32,000 characters.

    Bytes that are not UTF-8 in an argument (or a JSON ``\\udcXX`` escape) arrive as
    lone surrogates, which no request can carry: refused here, before anything is sent.
    """
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise not_utf8() from exc
    if not prompt.strip():
        raise UsageError(
            "the prompt is empty", hint="pass it as an argument, '-' for stdin, or --prompt-file"
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UsageError(
            f"the prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}",
            param="prompt",
        )
    return prompt


@dataclass(frozen=True)
class ImageOptions:
    """The validated output options shared by generate, edit and the image tool."""

    model: str = DEFAULT_MODEL
    size: Size | None = None  # None means auto
    quality: str = "auto"
    output_format: str = "png"
    compression: int | None = None
    moderation: str = "auto"
    response_format: str = "b64_json"

    @classmethod
    def build(
        cls,
        *,
        model: str = DEFAULT_MODEL,
        size: str = "auto",
        quality: str = "auto",
        output_format: str = "png",
        compression: int | None = None,
        moderation: str = "auto",
        response_format: str = "b64_json",
    ) -> ImageOptions:
        """Validate raw option values; raises UsageError on the first bad one."""
        if not model.strip():
            raise UsageError("the model name is empty", hint="omit --model to use gpt-image-2",
                             param="model")
        fmt = output_format.lower()
        fmt = check_choice("format", FORMAT_ALIASES.get(fmt, fmt), FORMATS, param="output_format")
        return cls(
            model=model,
            size=parse_size(size),
            quality=check_choice("quality", quality.lower(), QUALITIES),
            output_format=fmt,
            compression=check_compression(fmt, compression),
            moderation=check_choice("moderation", moderation.lower(), MODERATIONS),
            response_format=check_choice(
                "response_format", response_format.lower(), RESPONSE_FORMATS
            ),
        )

    @property
    def size_text(self) -> str:
        return str(self.size) if self.size else "auto"

    def tool_fields(self) -> dict[str, Any]:
        """The fields shared by every endpoint, omitting defaults left to the gateway."""
        fields: dict[str, Any] = {
            "size": self.size_text,
            "quality": self.quality,
            "output_format": self.output_format,
            "moderation": self.moderation,
        }
        if self.compression is not None:
            fields["output_compression"] = self.compression
        return fields

    def generation_body(self, prompt: str) -> dict[str, Any]:
        """The JSON body of ``POST /images/generations``."""
        return {
            "model": self.model,
            "prompt": prompt,
            **self.tool_fields(),
            "response_format": self.response_format,
        }
