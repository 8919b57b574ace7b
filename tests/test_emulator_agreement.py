"""The client's checks and the emulator's rules agree on what the gateway takes.

Each rule of SPEC.md is stated twice on purpose: by the client, to refuse a request
before it is sent (``vibeimg.params``, ``vibeimg.jobs.edits``,
``vibeimg.jobs.chat.request``, ``vibeimg.records.pricing``), and by the emulator, to
answer as the gateway would (``vibeimg.emulator.contract``). These tests walk a table
of edge cases through both. A case the client accepts is sent as the client would send
it and must be answered 200; a case the client refuses is sent raw and must be refused.
So a wrong limit on either side fails here instead of being repeated by the other.

Left out by design: model names (the client leaves them to the gateway, whose list may
grow) and the price of ``quality: auto`` (the client prices it as high, an upper bound;
the emulator draws and bills it as medium).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.test_chat_counts import PHRASINGS
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.emulator import contract as gateway
from vibeimg.emulator.textmodel import image_calls
from vibeimg.errors import UsageError
from vibeimg.files.inputs import SourceFile
from vibeimg.jobs.chat.request import ChatStreamRequest
from vibeimg.jobs.edits import build_edit_request
from vibeimg.params import ImageOptions, Size, check_prompt
from vibeimg.records.pricing import estimate_cost

KEY = {"Authorization": "Bearer k"}


@pytest.fixture(scope="module")
def gateway_emulator() -> Iterator[Emulator]:
    """One emulator for the whole table."""
    with Emulator(EmulatorConfig()) as emu:
        yield emu


def client_accepts(build: Any) -> tuple[bool, Any]:
    """Whether the client's check passes, and what it built (or the error)."""
    try:
        return True, build()
    except UsageError as exc:
        return False, exc


def verdicts(client_ok: bool, answer: httpx.Response) -> str:
    error = "" if answer.status_code == 200 else answer.json()["error"]["message"]
    return (f"client {'accepts' if client_ok else 'refuses'}, emulator answers "
            f"{answer.status_code} {error}")


# -- section 2 and 4: the options of /images/generations ------------------------------
SIZES = [
    "auto", "1024x1024", "1536x1024", "1024x1536", "2048x2048", "2048x1152", "3840x2160",
    "2160x3840",
    "3856x2160", "2160x3856", "3856x1296", "1296x3856",  # longest edge: one step past 3840
    "3840x1280", "1280x3840",  # at 3840 and 3:1
    "1024x1040", "1024x1032", "1025x1024", "1024x1023",  # multiples of 16
    "2880x960", "960x2880", "2896x960", "960x2896",  # the 3:1 ratio, at and past it
    "1024x640", "640x1024", "1024x624", "816x800", "832x800",  # 655,360 pixels, around it
    "2880x2880", "2896x2896", "3840x2176", "3824x2176",  # 8,294,400 pixels, around it
    "0x1024", "1024x0", "16x16", "99999x99999",
    "1024", "1024x", "x1024", "1024*1024", "-1024x1024", "1024x1024x3", "", "auto ",
    "1024X1024", " 1536x1024 ", "landscape", "4k", "1024×1024",  # the client's spellings
]
QUALITIES = ["low", "medium", "high", "auto", "LOW", "ultra", "", "hd", "standard"]
FORMATS = ["png", "jpeg", "webp", "jpg", "JPEG", "gif", "bmp", ""]
MODERATIONS = ["auto", "low", "high", "none", "LOW"]
RESPONSE_FORMATS = ["b64_json", "url", "URL", "base64", "b64"]
COMPRESSIONS = [(None, "png"), (None, "jpeg"), (0, "jpeg"), (100, "jpeg"), (101, "jpeg"),
                (-1, "jpeg"), (0, "webp"), (100, "webp"), (101, "webp"), (50, "png"),
                (0, "png")]


def generation_case(emulator: Emulator, prompt: str = "a fox", **raw: Any) -> None:
    """Client check, then the emulator: the client's body if accepted, else the raw one."""
    names = {"output_format": "output_format", "compression": "output_compression"}
    ok, built = client_accepts(lambda: (check_prompt(prompt), ImageOptions.build(**raw))[1])
    if ok:
        body = built.generation_body(prompt)
    else:
        body = {"model": "gpt-image-2", "prompt": prompt}
        body.update({names.get(k, k): v for k, v in raw.items() if v is not None})
    answer = httpx.post(f"{emulator.base_url}/images/generations", json=body, headers=KEY,
                        timeout=60)
    assert (answer.status_code == 200) == ok, verdicts(ok, answer)


@pytest.mark.parametrize("size", SIZES)
def test_sizes(gateway_emulator: Emulator, size: str) -> None:
    """Every size at and around each rule of section 4: both accept, or both refuse."""
    generation_case(gateway_emulator, size=size, quality="low", output_format="jpeg")


@pytest.mark.parametrize("quality", QUALITIES)
def test_qualities(gateway_emulator: Emulator, quality: str) -> None:
    """low, medium, high, auto, and values the gateway does not know."""
    generation_case(gateway_emulator, quality=quality)


@pytest.mark.parametrize("output_format", FORMATS)
def test_formats(gateway_emulator: Emulator, output_format: str) -> None:
    """png, jpeg, webp (and the client's jpg), and formats the gateway does not make."""
    generation_case(gateway_emulator, output_format=output_format)


@pytest.mark.parametrize(("compression", "output_format"), COMPRESSIONS)
def test_compressions(gateway_emulator: Emulator, compression: int | None,
                      output_format: str) -> None:
    """0-100, only with jpeg and webp."""
    generation_case(gateway_emulator, compression=compression, output_format=output_format)


@pytest.mark.parametrize("moderation", MODERATIONS)
def test_moderations(gateway_emulator: Emulator, moderation: str) -> None:
    """auto and low only."""
    generation_case(gateway_emulator, moderation=moderation)


@pytest.mark.parametrize("response_format", RESPONSE_FORMATS)
def test_response_formats(gateway_emulator: Emulator, response_format: str) -> None:
    """b64_json and url only."""
    generation_case(gateway_emulator, response_format=response_format)


@pytest.mark.parametrize("prompt", [
    "", " ", "\n\t", "x", "x" * 32_000, "x" * 32_001, " " * 31_999 + "x", "x" * 31_999 + "é",
    "一只水彩风格的水獭", "🦦", "水" * 32_000, "🦦" * 32_001,
], ids=lambda p: f"{len(p)}-chars-{p[:3]!r}")
def test_prompts(gateway_emulator: Emulator, prompt: str) -> None:
    """Non-empty, at most 32,000 characters (code points, not bytes)."""
    generation_case(gateway_emulator, prompt=prompt)


@pytest.mark.parametrize("size", ["1024x1024", "1536x1024", "1024x1536", "2048x2048",
                                  "2048x1152", "3840x2160", "1024x640", "2880x960"])
@pytest.mark.parametrize("quality", ["low", "medium", "high"])
def test_prices(size: str, quality: str) -> None:
    """Section 6: the client's estimate is the price the emulator bills tokens for."""
    width, height = (int(edge) for edge in size.split("x"))
    client = estimate_cost(Size(width, height), quality)
    emulated = gateway.image_price(gateway.Size(width, height), quality)
    assert client == pytest.approx(emulated, abs=1e-4)


# -- section 3: /images/edits -----------------------------------------------------------
def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def padded_png(total: int) -> bytes:
    """A valid PNG of exactly ``total`` bytes: a private ancillary chunk fills it up."""
    small = encoded(Image.new("RGB", (32, 32), "teal"))
    end = small.rindex(b"IEND") - 4
    length = total - len(small) - 12
    chunk = b"vbPd" + bytes(length)
    filler = struct.pack(">I", length) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = small[:end] + filler + small[end:]
    assert len(data) == total
    return data


def rgba(size: tuple[int, int] = (64, 48)) -> Image.Image:
    image = Image.new("RGBA", size, (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    return image


PHOTO = encoded(Image.new("RGB", (64, 48), "teal"))
PNG_CRC_BROKEN = PHOTO[:-5] + bytes([PHOTO[-5] ^ 0xFF]) + PHOTO[-4:]
with_palette_key = Image.new("P", (64, 48))
with_palette_key.info["transparency"] = 0

EDIT_CASES: dict[str, tuple[list[bytes], bytes | None]] = {
    "one png": ([PHOTO], None),
    "a jpeg and a webp": ([encoded(Image.new("RGB", (64, 48)), "JPEG"),
                           encoded(Image.new("RGB", (64, 48)), "WEBP")], None),
    "16 images": ([PHOTO] * 16, None),
    "17 images": ([PHOTO] * 17, None),
    "a gif": ([encoded(Image.new("RGB", (64, 48)), "GIF")], None),
    "a bmp": ([encoded(Image.new("RGB", (64, 48)), "BMP")], None),
    "text, not an image": ([b"this is not an image at all" * 4], None),
    "a png cut short": ([PHOTO[: len(PHOTO) // 2]], None),
    "a png whose checksum fails": ([PNG_CRC_BROKEN], None),
    "exactly 50,000,000 bytes": ([padded_png(gateway.MAX_FILE_BYTES)], None),
    "50,000,001 bytes": ([padded_png(gateway.MAX_FILE_BYTES + 1)], None),
    "rgba mask": ([PHOTO], encoded(rgba())),
    "LA mask": ([PHOTO], encoded(rgba().convert("LA"))),
    "L mask, no alpha": ([PHOTO], encoded(rgba().convert("L"))),
    "RGB mask, no alpha": ([PHOTO], encoded(rgba().convert("RGB"))),
    "palette mask with a transparent key": ([PHOTO], encoded(with_palette_key)),
    "mask of other dimensions": ([PHOTO], encoded(rgba((128, 96)))),
    "mask of another shape": ([PHOTO], encoded(rgba((64, 64)))),
    "webp mask with alpha": ([PHOTO], encoded(rgba(), "WEBP")),
    "jpeg image, png mask": ([encoded(Image.new("RGB", (64, 48)), "JPEG")], encoded(rgba())),
    "mask over several images": ([PHOTO, PHOTO, PHOTO], encoded(rgba())),
    "mask that is no image": ([PHOTO], b"not a mask, just bytes" * 4),
}


def media_type(data: bytes) -> str:
    fmt = gateway.sniff_format(data[:16])
    return gateway.MEDIA_TYPES.get(fmt or "", "image/png")


@pytest.mark.parametrize("case", list(EDIT_CASES))
def test_edit_inputs(gateway_emulator: Emulator, case: str) -> None:
    """Images (count, format, decodability, 50 MB) and masks (alpha, format, dimensions)."""
    images, mask = EDIT_CASES[case]
    sources = [SourceFile(f"in{i}.png", data) for i, data in enumerate(images)]
    mask_source = SourceFile("mask.png", mask) if mask is not None else None
    options = ImageOptions.build(size="1024x1024", quality="low")
    ok, built = client_accepts(
        lambda: build_edit_request("add a hat", sources, mask_source, options))
    if ok:
        form, files = built.form, built.files
    else:
        form = {"model": "gpt-image-2", "prompt": "add a hat", "size": "1024x1024"}
        files = [("image[]", (f"in{i}.png", data, media_type(data)))
                 for i, data in enumerate(images)]
        if mask is not None:
            files.append(("mask", ("mask.png", mask, media_type(mask))))
    answer = httpx.post(f"{gateway_emulator.base_url}/images/edits", data=form, files=files,
                        headers=KEY, timeout=120)
    assert (answer.status_code == 200) == ok, verdicts(ok, answer)


# -- section 5: /responses --------------------------------------------------------------
def image_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


TOOL_NAMES = {"action": "action", "partial_images": "partial_images", "size": "size",
              "quality": "quality", "output_format": "output_format",
              "compression": "output_compression"}


def responses_case(emulator: Emulator, prompt: str = "a fox", **raw: Any) -> httpx.Response:
    """Client check, then the emulator: the client's body if accepted, else a raw body
    built the same way with the refused value in place."""
    ok, built = client_accepts(lambda: ChatStreamRequest.build(prompt, **raw))
    if ok:
        body = built.body()
    else:
        body = {"model": raw.get("model", "gpt-5.5"),
                "instructions": raw.get("instructions", "Make images."),
                "input": [{"role": "user", "content": [
                    {"type": "input_text", "text": prompt},
                    *({"type": "input_image", "image_url": "data:image/png;base64,"
                       + base64.b64encode(Path(p).read_bytes()).decode()}
                      for p in raw.get("images", ()))]}],
                "stream": True,
                "tools": [{"type": "image_generation", **{
                    TOOL_NAMES[k]: v for k, v in raw.items() if k in TOOL_NAMES}}]}
    answer = httpx.post(f"{emulator.base_url}/responses", json=body, headers=KEY, timeout=120)
    assert (answer.status_code == 200) == ok, verdicts(ok, answer)
    return answer


@pytest.mark.parametrize("case", [
    {"action": "edit"}, {"action": "generate"}, {"action": "auto"}, {"action": "remix"},
    {"partial_images": -1}, {"partial_images": 0}, {"partial_images": 3},
    {"partial_images": 4}, {"instructions": ""}, {"instructions": "  "},
    {"instructions": "Draw."}, {"size": "1000x1000"}, {"size": "3840x2160"},
    {"quality": "ultra"}, {"output_format": "gif"}, {"compression": 50},
], ids=json.dumps)
def test_responses_options(gateway_emulator: Emulator, case: dict[str, Any]) -> None:
    """Tool options, actions, partial images and instructions of section 5."""
    responses_case(gateway_emulator, **case)


@pytest.mark.parametrize(("count", "data"), [
    (1, PHOTO), (16, PHOTO), (17, PHOTO), (1, PNG_CRC_BROKEN),
    (1, encoded(Image.new("RGB", (64, 48)), "GIF")),
], ids=["one", "sixteen", "seventeen", "broken-png", "gif"])
def test_responses_input_images(gateway_emulator: Emulator, tmp_path: Path, count: int,
                                data: bytes) -> None:
    """Input images: held to the edit limits (at most 16, png/jpeg/webp that decode)."""
    paths = [image_file(tmp_path, f"in{i}.png", data) for i in range(count)]
    responses_case(gateway_emulator, "make it blue", images=paths, action="edit")


@pytest.mark.parametrize(("prompt", "count"), [
    ("a fox", None), ("a fox", 1), ("a fox", 4), ("a fox", 10),
    ("Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle", None),
    ("make two images of a fox", None), ("Draw ten small square images of ducks", None),
    ("create 12 images of foxes", None), ("Generate 3 images of foxes", 1),
    ("Generate 3 images of foxes", 5), ("generate 0 images", None),
    ("Generate 3 pictures of a fox", None), ("Generate the 3 best images", None),
    ("an image of three foxes", None), ("一只水彩风格的水獭", 2), ("画三张图", None),
    ("画三张图", 1), ("画一只猫", 4), ("生成二十张图片", None), ("请画两幅画：①樱花 ②枫叶", None),
    ("画一张有三张照片的拼贴画", None), ("两个人的合照", None), ("3枚の猫の写真", None),
    *((prompt, None) for prompt, _, _ in PHRASINGS),  # the client's own table of phrasings
])
def test_image_counts(prompt: str, count: int | None) -> None:
    """The images the client expects are the image calls the emulated model makes."""
    request = ChatStreamRequest.build(prompt, count=count)
    assert image_calls(request.text) == request.expected_images, request.text
