"""Building the /responses request: counts in words, tool options, input image checks."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from PIL import Image

from vibeimg.errors import UsageError
from vibeimg.jobs.chat.request import (
    DEFAULT_INSTRUCTIONS,
    ChatStreamRequest,
    check_chat_input_image,
    images_asked,
    prompt_for_count,
)


@pytest.mark.parametrize(
    ("prompt", "count"),
    [
        ("Generate 3 different images: 1) a red circle 2) a blue square", 3),
        ("please make two images of a cat", 2),
        ("Create 4 distinct watercolor images of boats", 4),
        ("a red fox", 1),
        ("generate an image of 3 foxes", 1),
    ],
)
def test_images_asked_reads_the_count_in_words(prompt: str, count: int) -> None:
    """The number of images a prompt asks for, as the emulator and the namer read it."""
    assert images_asked(prompt) == count


def test_prompt_for_count_asks_for_n_images() -> None:
    """-n N becomes words the text model acts on; -n 1 leaves the prompt as it is."""
    assert prompt_for_count("a fox", 1) == "a fox"
    text = prompt_for_count("a fox", 3)
    assert text.startswith("Generate 3 different images") and text.endswith("a fox")
    assert images_asked(text) == 3


def test_prompt_for_one_image_overrides_the_prompts_own_count() -> None:
    """-n 1 with a prompt asking for three: the words sent ask for one."""
    text = prompt_for_count("Generate 3 images of a fox", 1)
    assert text.startswith("Generate 1 image") and images_asked(text) == 1


@pytest.mark.parametrize(("prompt", "count", "sent"), [
    ("Make 2 pictures of dogs", 3, "Generate 3 different images, one image generation call "
     "per image, each a distinct take on this request: Make 3 pictures of dogs"),
    ("Make 2 pictures of dogs", 1, "Generate 1 image, with a single image generation call, "
     "for this request: Make 1 picture of dogs"),
    ("draw two sketches of a cat", 3, "Generate 3 different images, one image generation "
     "call per image, each a distinct take on this request: draw 3 sketches of a cat"),
    ("画两张猫的图", 3, "请生成 3 张不同的图片，每张图片各调用一次图像生成工具，每张都是对以下"
     "请求的不同诠释：画3张猫的图"),
    ("Generate 11 images of a fox", None, "Generate 10 different images, one image "
     "generation call per image, each a distinct take on this request: Generate 10 images "
     "of a fox"),
    ("a photo of 3 dogs", 2, "Generate 2 different images, one image generation call per "
     "image, each a distinct take on this request: a photo of 3 dogs"),
])
def test_the_prompt_sent_never_asks_for_two_counts(prompt: str, count: int | None,
                                                   sent: str) -> None:
    """-n 3 with "Make 2 pictures of dogs" sends "... Make 3 pictures of dogs": the prompt's
    own count of images is made the one asked for; a count of other things stays."""
    request = ChatStreamRequest.build(prompt, count=count)
    assert request.text == sent
    assert request.body()["input"][0]["content"][0]["text"] == sent


@pytest.mark.parametrize(
    ("prompt", "count", "expected", "notices"),
    [
        ("a fox", None, 1, 0),
        ("a fox", 3, 3, 0),
        ("Generate 3 images of a fox", None, 3, 0),
        ("Generate 3 images of a fox", 3, 3, 0),
        ("Generate 3 images of a fox", 2, 2, 1),
        ("Generate 11 images of a fox", None, 10, 1),
        ("Generate 11 images of a fox", 4, 4, 1),
    ],
)
def test_expected_images_is_what_the_prompt_sent_asks_for(prompt: str, count: int | None,
                                                          expected: int, notices: int) -> None:
    """-n wins over the prompt's words; the prompt's count is capped, with a notice."""
    request = ChatStreamRequest.build(prompt, count=count)
    assert request.expected_images == expected
    assert images_asked(request.text) == expected
    assert len(request.count_notices) == notices


def test_body_follows_the_gateway_rules() -> None:
    """stream true, instructions always, input as a one-message list, tool options."""
    request = ChatStreamRequest.build("a fox", size="landscape", quality="low",
                                      output_format="webp", compression=50, action="generate",
                                      partial_images=1)
    body = request.body()
    assert body["stream"] is True and body["instructions"] == DEFAULT_INSTRUCTIONS
    assert body["input"] == [{"role": "user",
                              "content": [{"type": "input_text", "text": "a fox"}]}]
    assert body["tools"] == [{"type": "image_generation", "size": "1536x1024",
                              "quality": "low", "output_format": "webp", "moderation": "auto",
                              "output_compression": 50, "action": "generate",
                              "partial_images": 1}]
    assert set(body) == {"model", "instructions", "input", "stream", "tools"}


@pytest.mark.parametrize(("prompt", "items"), [
    ("Generate 3 images: 1) a red fox 2) a heron, 3) a cat.", ["a red fox", "a heron", "a cat"]),
    ("Make two images:\n1. A lighthouse at night.\n2. A harbour at noon.",
     ["A lighthouse at night", "A harbour at noon"]),
    ("a poster with 3 lines: 1) sale", []),  # one number is no list
    ("draw 2) a fox 3) a heron", []),  # a list counts from 1
    ("1) a fox 3) a heron", []),  # ...without gaps
    ("a 1024x1024 image of 2 cats", []),
])
def test_numbered_prompts_name_each_image(prompt: str, items: list[str]) -> None:
    """Image n is named after the prompt's n-th item, when the prompt numbers them."""
    assert ChatStreamRequest.build(prompt).image_slug_texts == items


def test_slug_text_drops_the_counting_words() -> None:
    """Files are named after what is drawn, not after 'Generate 3 images'."""
    request = ChatStreamRequest.build("Generate 2 images of a red fox")
    assert request.slug_text == "a red fox" and request.expected_images == 2


@pytest.mark.parametrize(("fmt", "media"), [("PNG", "png"), ("JPEG", "jpeg"),
                                             ("WEBP", "webp")])
def test_input_image_formats_become_data_uris(tmp_path: Path, fmt: str, media: str) -> None:
    """png, jpeg and webp are accepted by their bytes, whatever the file is called."""
    path = tmp_path / "picture.bin"
    Image.new("RGB", (40, 30), "red").save(path, fmt)
    image = check_chat_input_image(path)
    assert (image.format, image.width, image.height) == (media, 40, 30)
    prefix, data = image.data_uri().split(",", 1)
    assert prefix == f"data:image/{media};base64" and base64.b64decode(data) == path.read_bytes()


def test_a_folder_is_not_an_input_image(tmp_path: Path) -> None:
    """-i with a folder is a usage error naming it."""
    with pytest.raises(UsageError, match="not a file"):
        check_chat_input_image(tmp_path)
