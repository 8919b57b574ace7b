"""How many images a chat-stream prompt asks for, and each image's name, in any language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from vibeimg.emulator import Emulator
from vibeimg.files.naming import slugify
from vibeimg.jobs.chat.request import ChatStreamRequest, images_asked, prompt_for_count

FAST = ("--size", "1024x1024", "--quality", "low")

# (prompt, images asked for, the file names of the images, in order)
PHRASINGS = [
    # Chinese: numerals and digits with 张, 幅, 个; every style of numbered item.
    ("画三张图:1) 红色的圆 2) 蓝色的方块 3) 绿色三角形", 3,
     ["红色的圆-1", "蓝色的方块-2", "绿色三角形-3"]),
    ("画三张图：1）红色的圆 2）蓝色的方块 3）绿色三角形", 3,
     ["红色的圆-1", "蓝色的方块-2", "绿色三角形-3"]),
    ("生成3张图片:1) 猫 2) 狗 3) 鸟", 3, ["猫-1", "狗-2", "鸟-3"]),
    ("生成３张图片：（1）猫（2）狗（3）鸟", 3, ["猫-1", "狗-2", "鸟-3"]),
    ("请画两幅画：①春天的樱花 ②秋天的枫叶", 2, ["春天的樱花-1", "秋天的枫叶-2"]),
    ("给我画3张：1、山 2、海 3、云", 3, ["山-1", "海-2", "云-3"]),
    ("生成四张图片：1.春 2.夏 3.秋 4.冬", 4, ["春-1", "夏-2", "秋-3", "冬-4"]),
    ("三个不同的版本，1）红色 2）蓝色 3）绿色", 3, ["红色-1", "蓝色-2", "绿色-3"]),
    ("画3张图：1. 一只猫，2. 一只狗，和 3. 一只鸟", 3, ["一只猫-1", "一只狗-2", "一只鸟-3"]),
    ("1）红色的圆2）蓝色的方块，画两张图", 2, ["红色的圆-1", "蓝色的方块-2"]),
    ("画三张水彩风格的水獭图片", 3, ["水彩风格的水獭-1", "水彩风格的水獭-2", "水彩风格的水獭-3"]),
    ("生成两张照片，主题是雪山", 2, ["主题是雪山-1", "主题是雪山-2"]),
    ("一只猫，画三张", 3, ["一只猫-1", "一只猫-2", "一只猫-3"]),
    ("生成十张壁纸", 10, [f"生成十张壁纸-{n}" for n in range(1, 11)]),
    ("画五幅山水画", 5, [f"山水-{n}" for n in range(1, 6)]),
    ("一只水彩风格的水獭", 1, ["一只水彩风格的水獭"]),
    ("画一张有三张照片的拼贴画", 1, ["画一张有三张照片的拼贴画"]),  # one collage of three
    ("两个人的合照", 1, ["两个人的合照"]),  # one photo of two people
    ("画三张脸", 1, ["画三张脸"]),  # one picture of three faces
    ("第三张图要更亮", 1, ["第三张图要更亮"]),
    ("画一只猫和三只狗", 1, ["画一只猫和三只狗"]),
    # Japanese counts with 枚.
    ("3枚の猫の写真", 3, ["猫-1", "猫-2", "猫-3"]),
    # English: digits and words, and the picture nouns people use.
    ("Make 3 pictures of dogs", 3, ["dogs-1", "dogs-2", "dogs-3"]),
    ("Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle", 3,
     ["a-red-circle-1", "a-blue-square-2", "a-green-triangle-3"]),
    ("Generate three images: 1. a fox 2. a heron 3. a cat", 3,
     ["a-fox-1", "a-heron-2", "a-cat-3"]),
    ("please draw two photos: (1) a beach (2) a forest", 2, ["a-beach-1", "a-forest-2"]),
    ("I want 4 photos of the sea", 4, [f"the-sea-{n}" for n in range(1, 5)]),
    ("give me two drawings of a cat", 2, ["a-cat-1", "a-cat-2"]),
    ("Create five variations of this logo", 5, [f"this-logo-{n}" for n in range(1, 6)]),
    ("Make a set of 3 images of boats", 3, ["boats-1", "boats-2", "boats-3"]),
    ("3 illustrations of a lighthouse", 3,
     ["a-lighthouse-1", "a-lighthouse-2", "a-lighthouse-3"]),
    ("Paint 2 watercolor paintings of Paris", 2, ["watercolor-paris-1", "watercolor-paris-2"]),
    ("a photo of 3 dogs", 1, ["a-photo-of-3-dogs"]),  # one photo of three dogs
    ("Generate an image of 3 foxes", 1, ["generate-an-image-of-3-foxes"]),
    ("draw 3 dogs", 1, ["draw-3-dogs"]),
    ("a poster with 3 lines: 1) sale 2) today", 1, ["a-poster-with-3-lines-1-sale-2-today"]),
    # Mixed: an English count with Chinese items.
    ("Generate 2 images: 1) 一只猫 2) 一只狗", 2, ["一只猫-1", "一只狗-2"]),
]


@pytest.mark.parametrize(("prompt", "count", "names"), PHRASINGS)
def test_counts_and_item_names_in_english_and_chinese(prompt: str, count: int,
                                                      names: list[str]) -> None:
    """The count asked for, and each image named after its own item or the subject."""
    request = ChatStreamRequest.build(prompt)
    assert request.expected_images == count
    items = [slugify(text) for text in request.image_slug_texts]
    subject = slugify(request.slug_text)
    if count == 1:
        assert (items[:1] or [subject]) == names
    else:
        assert [f"{items[n - 1] if n <= len(items) else subject}-{n}"
                for n in range(1, count + 1)] == names


def test_the_table_holds_thirty_phrasings_in_both_languages() -> None:
    """At least 30 phrasings, English and Chinese both well represented."""
    chinese = [p for p, _, _ in PHRASINGS if any("\u4e00" <= c <= "\u9fff" for c in p)]
    assert len(PHRASINGS) >= 30 and len(chinese) >= 15 and len(PHRASINGS) - len(chinese) >= 12


@pytest.mark.parametrize(("prompt", "count"), [
    ("画十三张图", 13), ("生成二十张图片", 20), ("生成１２张图片", 12), ("Make twelve images", 12),
])
def test_counts_above_ten_are_read_and_capped_with_a_notice(prompt: str, count: int) -> None:
    """A count above 10 is read in full, then capped at 10 with a notice."""
    assert images_asked(prompt) == count
    request = ChatStreamRequest.build(prompt)
    assert request.expected_images == 10 and len(request.count_notices) == 1
    assert images_asked(request.text) == 10


def test_n_speaks_chinese_to_a_chinese_prompt() -> None:
    """-n N asks in Chinese for a Chinese prompt, and the words ask for N."""
    text = prompt_for_count("画一只猫", 3)
    assert text.startswith("请生成 3 张不同的图片") and text.endswith("画一只猫")
    assert images_asked(text) == 3
    one = prompt_for_count("画三张猫的图", 1)
    assert one.startswith("只生成 1 张图片") and images_asked(one) == 1
    assert prompt_for_count("東京の猫", 2).startswith("Generate 2 different images")


@pytest.fixture
def offline_emulators(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Emulator]]:
    """Every emulator that --offline starts, to read what it received."""
    started: list[Emulator] = []
    start = Emulator.start

    def recording_start(self: Emulator) -> Emulator:
        started.append(self)
        return start(self)

    monkeypatch.setattr(Emulator, "start", recording_start)
    yield started


@pytest.mark.parametrize(("prompt", "names"), [
    ("画三张图:1) 红色的圆 2) 蓝色的方块 3) 绿色三角形",
     ["红色的圆-1.png", "蓝色的方块-2.png", "绿色三角形-3.png"]),
    ("生成3张图片:1) 猫 2) 狗 3) 鸟", ["猫-1.png", "狗-2.png", "鸟-3.png"]),
    ("Make 3 pictures of dogs", ["dogs-1.png", "dogs-2.png", "dogs-3.png"]),
    ("请画两幅画：（1）春天（2）秋天", ["春天-1.png", "秋天-2.png"]),
])
def test_offline_chat_stream_saves_one_named_image_per_item(
        cli, offline_emulators: list[Emulator], tmp_path: Path, prompt: str,
        names: list[str]) -> None:
    """--offline: the prompt goes out as typed, the emulator makes each image asked for,
    and each file is named after its own item."""
    result = cli("chat-stream", prompt, "--offline", "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["requested"] == len(names) and document["received"] == len(names)
    assert [Path(image["path"]).name for image in document["images"]] == names
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(names)
    [emulator] = offline_emulators
    [request] = emulator.api_requests()
    assert request.path == "/responses"
    assert request.json()["input"][0]["content"] == [{"type": "input_text", "text": prompt}]
    for name in names:
        sidecar = json.loads((tmp_path / name).with_suffix(".json").read_text("utf-8"))
        assert sidecar["file"] == name and sidecar["prompt_sent"] == prompt


def test_offline_n_over_a_chinese_count(cli, offline_emulators: list[Emulator],
                                        tmp_path: Path) -> None:
    """-n 2 wins over 三张 with a notice; the emulator receives Chinese words asking for 2."""
    result = cli("chat-stream", "画三张图：1）红色的圆 2）蓝色的方块 3）绿色三角形", "-n", "2",
                 "--offline", *FAST)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["红色的圆-1.png", "蓝色的方块-2.png"]
    assert "-n 2 wins over the 3 images" in result.stderr
    [request] = offline_emulators[0].api_requests()
    text = request.json()["input"][0]["content"][0]["text"]
    assert text.startswith("请生成 2 张不同的图片") and images_asked(text) == 2
