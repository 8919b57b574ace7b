"""File names from prompts in any language: Unicode letters kept, or ASCII on request."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from pictures import photo, save

import vibeimg
from vibeimg.files.naming import SLUG_BYTES, slugify
from vibeimg.settings.resolve import config_path

OTTER = "一只水彩风格的水獭"
FAST = ("--size", "1024x1024", "--quality", "low")


@pytest.mark.parametrize(("prompt", "slug", "ascii_slug"), [
    (OTTER, OTTER, "yi-zhi-shui-cai-feng-ge-de-shui-ta"),
    ("straße", "straße", "strasse"),
    ("東京の夜景、雨上がり", "東京の夜景-雨上がり", "dong-jingno-ye-jing-yu-shanggari"),
    ("コーヒーを飲む猫", "コーヒーを飲む猫", "kohio-yinmu-mao"),  # kanji read as Chinese
    ("고양이 그림", "고양이-그림", "go-yang-i-geu-lim"),
    ("قطة في الحديقة", "قطة-في-الحديقة", "qth-fy-lhdyqh"),
    ("Привет, Мир!", "привет-мир", "privet-mir"),
    ("🦦", "otter", "otter"),
    ("🦦🎨", "otter-art", "otter-art"),
    ("一只🦦在河里", "一只-在河里", "yi-zhi-otter-zai-he-li"),
    ("a watercolor 水獭 at dawn", "a-watercolor-水獭-at-dawn",
     "a-watercolor-shui-ta-at-dawn"),
    ("Café crème", "café-crème", "cafe-creme"),
    ("ＡＢＣ　３只猫", "abc-3只猫", "abc-3-zhi-mao"),  # full-width forms, as IMEs type them
    ("नमस्ते दुनिया", "नमस्ते-दुनिया", "nmste-duniya"),  # vowel signs stay with their letters
])
def test_names_keep_the_prompts_letters_or_transliterate(prompt: str, slug: str,
                                                          ascii_slug: str) -> None:
    """Letters and digits of every script are kept; ASCII mode spells them in Latin."""
    assert slugify(prompt) == slug
    assert slugify(prompt, ascii_only=True) == ascii_slug
    assert ascii_slug.isascii()


@pytest.mark.parametrize("prompt", [
    "a/b\\c", "rm -rf $HOME; echo `id` > x", "a\x1b[31mred\x07", "left\u202eright",
    "'quotes' \"and\" (parens) [brackets] {braces} *?!&|<>#~=%", "x\u200by\ufe0fz",
])
def test_names_hold_only_letters_digits_and_dashes(prompt: str) -> None:
    """No path separator, control, bidi override or shell metacharacter gets into a name."""
    for ascii_only in (False, True):
        slug = slugify(prompt, ascii_only=ascii_only)
        assert slug and all(c == "-" or unicodedata.category(c)[0] in "LNM" for c in slug)
        assert not slug.startswith("-") and "--" not in slug


@pytest.mark.parametrize("prompt", ["!!!", "...", "→ ← ↑", "+-*/"])
def test_nothing_to_name_after_gives_a_hash_not_a_bare_image(prompt: str) -> None:
    """A prompt with no letters names its file by a short hash, different per prompt."""
    slug = slugify(prompt)
    assert slug.startswith("image-") and len(slug) == len("image-") + 8
    assert slug == slugify(prompt, ascii_only=True)
    assert slugify(prompt) != slugify(prompt + "?")


@pytest.mark.parametrize("unit", ["水", "é", "a", "𠀀", "ß", "ก่", "e\u0301"])
def test_long_prompts_stop_at_the_byte_limit_on_a_whole_character(unit: str) -> None:
    """A long prompt is cut at 48 UTF-8 bytes, never inside a character or before its mark."""
    slug = slugify(unit * 200)
    encoded = slug.encode()
    assert 0 < len(encoded) <= SLUG_BYTES
    assert len(encoded) > SLUG_BYTES - 4  # as long as whole characters allow
    assert not unicodedata.category(slug[-1]).startswith("Cf")
    text = unicodedata.normalize("NFC", unit * 200)
    assert unicodedata.normalize("NFC", slug) == slug and text.lower().startswith(slug)
    if unit == "ก่":  # a Thai consonant with its tone mark: never split from it
        assert slug.endswith("ก่")


def test_words_are_kept_whole_below_the_limit() -> None:
    """Words that fit are kept whole; the next one that would pass the limit is dropped."""
    prompt = "一只水彩风格的水獭，在河里游泳，夕阳西下"
    assert slugify(prompt) == "一只水彩风格的水獭-在河里游泳"
    assert len(slugify(prompt).encode()) <= SLUG_BYTES


def test_names_are_nfc() -> None:
    """A decomposed prompt (as macOS may type it) names the same file as a composed one."""
    assert slugify(unicodedata.normalize("NFD", "Café Straße")) == "café-straße"


def test_generate_saves_a_chinese_name_and_sends_the_prompt_unchanged(
        cli, emulator, tmp_path: Path) -> None:
    """generate "一只水彩风格的水獭" saves 一只水彩风格的水獭.png; the sidecar names it exactly."""
    first = cli("generate", OTTER, *FAST)
    second = cli("generate", OTTER, *FAST)
    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    assert first.stdout == f"{OTTER}.png\n" and second.stdout == f"{OTTER}-2.png\n"
    assert [r.json()["prompt"] for r in emulator.api_requests()] == [OTTER, OTTER]
    sidecar = json.loads((tmp_path / f"{OTTER}-2.json").read_text(encoding="utf-8"))
    assert sidecar["file"] == f"{OTTER}-2.png" and sidecar["prompt"] == OTTER
    assert f'"file": "{OTTER}-2.png"' in (tmp_path / f"{OTTER}-2.json").read_text("utf-8")


def test_json_document_names_the_file_exactly(cli, tmp_path: Path) -> None:
    """--json gives the Unicode path as it is on disk."""
    result = cli("generate", "straße im Regen", "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    [image] = json.loads(result.stdout)["images"]
    assert Path(image["path"]).name == "straße-im-regen.png"
    assert (tmp_path / "straße-im-regen.png").is_file()


def test_ascii_names_flag_env_and_config(cli, tmp_path: Path) -> None:
    """--ascii-names, VIBEIMG_ASCII_NAMES and 'config set ascii-names' transliterate;
    --unicode-names wins over both."""
    assert cli("generate", OTTER, "--ascii-names", *FAST).stdout == \
        "yi-zhi-shui-cai-feng-ge-de-shui-ta.png\n"
    assert cli("generate", "straße", *FAST,
               env={"VIBEIMG_ASCII_NAMES": "1"}).stdout == "strasse.png\n"
    assert cli("config", "set", "ascii-names", "true").exit_code == 0
    assert "ascii_names = true" in config_path().read_text()
    assert cli("generate", "🦦 and 水獭", *FAST).stdout == "otter-and-shui-ta.png\n"
    assert cli("generate", "水獭", "--unicode-names", *FAST).stdout == "水獭.png\n"
    listed = cli("config", "list", "--origin")
    assert "ascii-names" in listed.stdout and "config file" in listed.stdout


def test_a_bad_ascii_names_value_in_the_config_file_is_refused(cli) -> None:
    """ascii_names = "maybe" in the file stops the command, naming the key and the fix."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('ascii_names = "maybe"\n')
    result = cli("generate", "a fox", *FAST)
    assert result.exit_code == 2 and "ascii_names" in result.stderr


def test_edit_names_from_a_chinese_prompt(cli, emulator, tmp_path: Path) -> None:
    """edit names its image after the Chinese prompt, or its pinyin with --ascii-names."""
    save(tmp_path / "otter.png", photo())
    result = cli("edit", "加一条红围巾", "-i", "otter.png", *FAST)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "加一条红围巾.png\n"
    ascii_run = cli("edit", "加一条红围巾", "-i", "otter.png", "--ascii-names", *FAST)
    assert ascii_run.stdout == "jia-yi-tiao-hong-wei-jin.png\n"
    assert [r.form["prompt"] for r in emulator.api_requests()] == [["加一条红围巾"]] * 2


def test_chat_stream_names_each_item_in_its_language(cli, emulator, tmp_path: Path) -> None:
    """chat-stream names each numbered item's image after it, in Unicode or in ASCII."""
    prompt = "画三张图：1）红色的圆 2）蓝色的方块 3）绿色三角形"
    result = cli("chat-stream", prompt, *FAST)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["红色的圆-1.png", "蓝色的方块-2.png", "绿色三角形-3.png"]
    again = cli("chat-stream", prompt, "--ascii-names", *FAST)
    assert again.stdout.split() == ["hong-se-de-yuan-1.png", "lan-se-de-fang-kuai-2.png",
                                    "lu-se-san-jiao-xing-3.png"]
    sidecar = json.loads((tmp_path / "蓝色的方块-2.json").read_text("utf-8"))
    assert sidecar["file"] == "蓝色的方块-2.png" and sidecar["prompt"] == prompt


def test_batch_names_in_any_language_and_resumes_whatever_the_names(
        cli, emulator, tmp_path: Path) -> None:
    """Batch names files from Chinese prompts; a rerun with --ascii-names finds them and
    sends nothing."""
    (tmp_path / "p.txt").write_text(f"{OTTER}\n🦦\nstraße\n", encoding="utf-8")
    first = cli("batch", "p.txt", "-d", "out", *FAST)
    assert first.exit_code == 0, first.stderr
    names = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert names == [f"0001-{OTTER}.png", "0002-otter.png", "0003-straße.png"]
    manifest = (tmp_path / "out" / "vibeimg-manifest.jsonl").read_text("utf-8")
    assert f"0001-{OTTER}.png" in manifest
    sent = len(emulator.api_requests())
    again = cli("batch", "p.txt", "-d", "out", "--ascii-names", *FAST)
    assert again.exit_code == 0, again.stderr
    assert len(emulator.api_requests()) == sent
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == names
    fresh = cli("batch", "p.txt", "-d", "ascii", "--ascii-names", *FAST)
    assert fresh.exit_code == 0, fresh.stderr
    assert sorted(p.name for p in (tmp_path / "ascii").glob("*.png")) == [
        "0001-yi-zhi-shui-cai-feng-ge-de-shui-ta.png", "0002-otter.png", "0003-strasse.png"]


def test_python_api_names_files_as_the_command_line_does(emulator, tmp_path: Path) -> None:
    """vibeimg.Client keeps the prompt's letters, or spells them in ASCII when asked."""
    with vibeimg.Client(api_key="sk-test-0123456789abcdef", base_url=emulator.base_url,
                        out_dir=tmp_path) as client:
        [image] = client.generate(OTTER, size="1024x1024", quality="low")
        [streamed, _] = client.chat_stream("画两张图：1）猫 2）狗", quality="low")
    assert (image.path.name, streamed.path.name) == (f"{OTTER}.png", "猫-1.png")
    with vibeimg.Client(api_key="sk-test-0123456789abcdef", base_url=emulator.base_url,
                        out_dir=tmp_path, ascii_names=True) as client:
        [image] = client.generate(OTTER, size="1024x1024", quality="low")
    assert image.path.name == "yi-zhi-shui-cai-feng-ge-de-shui-ta.png"
