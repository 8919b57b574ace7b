"""The gateway's contract (SPEC.md), stated by the emulator on its own.

The client states the same rules for its checks (``vibeimg.params`` and friends), but
the emulator must not borrow them: a wrong limit there has to be caught here, not
repeated. So every number and list below is written from SPEC.md, and
``tests/test_emulator_agreement.py`` walks edge cases through both to find where they
part. Nothing here imports from outside :mod:`vibeimg.emulator`.
"""

from __future__ import annotations

from typing import NamedTuple

# -- section 2: POST /images/generations ---------------------------------------------
IMAGE_MODEL = "gpt-image-2"
QUALITIES = ("low", "medium", "high", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
COMPRESSED_FORMATS = ("jpeg", "webp")  # the only ones output_compression applies to
MIN_COMPRESSION, MAX_COMPRESSION = 0, 100
MODERATIONS = ("auto", "low")
RESPONSE_FORMATS = ("b64_json", "url")
# OpenAI's values; gpt-image-2 refuses only "transparent" (SPEC section 2).
BACKGROUNDS = ("auto", "opaque", "transparent")
MAX_PROMPT_CHARS = 32_000
AUTO_QUALITY = "medium"  # what ``quality: auto`` is drawn and priced at
IMAGE_FIELDS = frozenset({
    "model", "prompt", "size", "quality", "output_format", "output_compression",
    "response_format", "moderation", "n", "background", "user",
})

# -- section 3: POST /images/edits ----------------------------------------------------
MAX_INPUT_IMAGES = 16
#: "At most 50 MB": read as decimal megabytes, the stricter reading, so that the
#: emulator refuses whatever the gateway could refuse.
MAX_FILE_BYTES = 50_000_000
UPLOAD_FORMATS = ("png", "jpeg", "webp")
UPLOAD_MEDIA_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                      "image/webp": "webp"}
#: Pillow modes whose pixels carry alpha: what "must contain an alpha channel" means.
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
#: More pixels than this is a decompression bomb, not an image anyone uploads.
MAX_DECODED_PIXELS = 89_478_485
EDIT_FIELDS = frozenset({
    "model", "prompt", "size", "quality", "output_format", "output_compression",
    "response_format", "n", "background", "user",
})
EDIT_FILE_FIELDS = frozenset({"image", "image[]", "mask"})

# -- section 4: sizes -------------------------------------------------------------------
MAX_EDGE = 3840
EDGE_MULTIPLE = 16
MAX_RATIO = 3
MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400


class Size(NamedTuple):
    """An explicit output size in pixels."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


DEFAULT_SIZE = Size(1024, 1024)  # what ``size: auto`` is drawn at without an input image


def parse_wire_size(text: str) -> Size | None:
    """``WIDTHxHEIGHT`` exactly as it travels (digits, a lowercase x, digits), or None."""
    width, sep, height = text.partition("x")
    if sep and width.isdigit() and height.isdigit() and width.isascii() and height.isascii():
        return Size(int(width), int(height))
    return None


def size_problem(size: Size) -> str | None:
    """Which rule of section 4 the size breaks, or None when the gateway takes it."""
    width, height = size
    long_edge, short_edge = max(width, height), min(width, height)
    if short_edge <= 0:
        return "both edges must be positive"
    if long_edge > MAX_EDGE:
        return f"its longest edge is more than {MAX_EDGE}"
    if width % EDGE_MULTIPLE or height % EDGE_MULTIPLE:
        return f"its edges are not both multiples of {EDGE_MULTIPLE}"
    if long_edge > MAX_RATIO * short_edge:
        return f"its aspect ratio is more than {MAX_RATIO}:1"
    if width * height < MIN_PIXELS:
        return f"it has fewer than {MIN_PIXELS} pixels"
    if width * height > MAX_PIXELS:
        return f"it has more than {MAX_PIXELS} pixels"
    return None


# -- section 5: POST /responses --------------------------------------------------------
TEXT_MODELS = ("gpt-5.5",)
ACTIONS = ("auto", "generate", "edit")
MAX_PARTIAL_IMAGES = 3
CONTENT_TYPES = ("input_text", "input_image")  # in user (and system) messages
ASSISTANT_CONTENT_TYPES = ("output_text",)  # OpenAI's form of an earlier answer
ROLES = ("user", "assistant", "system", "developer")
TOOL_FIELDS = frozenset({
    "type", "size", "quality", "output_format", "output_compression", "moderation",
    "action", "partial_images", "background", "model", "input_fidelity",
})
#: SPEC.md documents no limit for input images here; the edit limits are held as the
#: safe assumption (section 5): 50 MB each, at most 16 in one request.
MAX_RESPONSE_INPUT_IMAGES = MAX_INPUT_IMAGES
#: The emulated text model stops at this many image calls in one response: SPEC.md is
#: silent, and no text model calls a tool without end.
MAX_IMAGE_CALLS = 10

# -- section 6: prices, USD per image ---------------------------------------------------
PRICES: dict[str, dict[Size, float]] = {
    "low": {Size(1024, 1024): 0.006, Size(1024, 1536): 0.005, Size(1536, 1024): 0.005},
    "medium": {Size(1024, 1024): 0.053, Size(1024, 1536): 0.041, Size(1536, 1024): 0.041},
    "high": {Size(1024, 1024): 0.211, Size(1024, 1536): 0.165, Size(1536, 1024): 0.165},
}
#: USD per image output token: a low 1024x1024 is about 196 tokens (SPEC section 5).
TOKEN_PRICE = 30e-6


def image_price(size: Size, quality: str) -> float:
    """The price of one image; a size the table lacks is scaled by its pixel count from
    the published shape closest to it (square or oblong)."""
    table = PRICES[AUTO_QUALITY if quality == "auto" else quality]
    if size in table:
        return table[size]
    base = Size(1024, 1024) if size.width == size.height else Size(1536, 1024)
    return table[base] * size.width * size.height / (base.width * base.height)


def output_tokens(size: Size, quality: str) -> int:
    """The image output tokens the gateway reports for one image."""
    return round(image_price(size, quality) / TOKEN_PRICE)


# -- image bytes -----------------------------------------------------------------------
def sniff_format(head: bytes) -> str | None:
    """The image format of these first bytes (png, jpeg, webp, gif), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp",
               "gif": "image/gif"}
