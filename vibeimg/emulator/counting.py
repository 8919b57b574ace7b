"""How many images the emulated text model reads a prompt as asking for.

A real text model understands "Generate 3 different images", "make two pictures of
dogs" or "画三张图" alike, and calls the image tool once per image (SPEC.md section 5).
The emulator reads the first such phrase of a prompt, in English or Chinese (and the
Japanese 枚), by these rules of its own:

- English: a verb of asking or making (generate, make, draw, give me, show us, I want...),
  or the very start of the prompt, then a count (digits, or a word from "a" to
  "twelve"), at most three more words, and a noun for pictures (images, pictures,
  photos, drawings, variations...). "a photo of 3 dogs" asks for one photo.
- Chinese: a count (digits, full-width digits or numerals 一二两三...十) with a measure
  word 张/幅/枚 and, within a few characters, a noun for pictures (图, 图片, 照片, 画...),
  or a 张/幅/枚 that ends the clause ("画3张："); 个/份 count only right before such a
  noun ("三个不同的版本"). A count after 有/含/带/第/每 is not one: "一张有三张照片的拼贴画"
  is one collage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

ENGLISH_COUNTS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4,
                  "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                  "eleven": 11, "twelve": 12}
ENGLISH_VERBS = frozenset({
    "generate", "create", "make", "draw", "render", "paint", "produce", "design", "sketch",
    "illustrate", "imagine", "give", "show", "send", "want", "need", "like"})
PICTURE_NOUN = re.compile(
    r"(?:image|picture|pic|photo|photograph|drawing|illustration|painting|sketch|render"
    r"|rendering|variation|version|variant|artwork|wallpaper|poster|portrait)(?:s|es)?\b",
    re.IGNORECASE)
WORDS_BETWEEN = 3
_WORD = re.compile(r"[\w'-]+")

CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
                  "六": 6, "七": 7, "八": 8, "九": 9}
CHINESE_NOUNS = ("图片", "图像", "图画", "画作", "画像", "画儿", "照片", "相片", "插画", "插图",
                 "海报", "壁纸", "头像", "图标", "版本", "变体", "草图", "素描", "作品", "写真",
                 "イラスト", "絵", "图", "画")
PICTURE_MEASURES = "张幅枚"
ANY_MEASURES = "个份"  # they count anything: only right before a picture noun
MODIFIERS = ("不同", "不一样", "各异", "各不相同", "独特", "新", "其他", "别的")
NOT_A_COUNT_AFTER = "有含带第每"
CLAUSE_ENDS = " \t\n,，.。:：;；!！?？、"
MAX_FILLER = 12  # characters between the measure word and the noun ("不同风格的")
_NUMERAL = re.compile(r"[0-9０-９]{1,3}|[零〇一二两三四五六七八九十]{1,3}")


# -- English --------------------------------------------------------------------------
def _english_count(word: str) -> int | None:
    if word.isascii() and word.isdigit() and len(word) <= 3:
        return int(word)
    return ENGLISH_COUNTS.get(word.lower())


def _asked_before(words: list[re.Match[str]], index: int, text: str) -> bool:
    """Whether the count at ``words[index]`` follows a verb (or starts the prompt)."""
    if not text[: words[index].start()].strip():
        return True
    position = index - 1
    lowered = [w.group().lower() for w in words]
    if position >= 2 and lowered[position] == "of" and lowered[position - 2] == "a" and (
            lowered[position - 1] in ("set", "series", "batch", "grid")):
        position -= 3  # "make a set of 3 images"
    if position >= 0 and lowered[position] in ("me", "us"):
        position -= 1
    return position >= 0 and lowered[position] in ENGLISH_VERBS


def _spaced(text: str, first: re.Match[str], second: re.Match[str]) -> bool:
    between = text[first.end(): second.start()]
    return bool(between) and not between.strip()


def english_count(text: str) -> tuple[int, int] | None:
    """The first English phrase asking for images: (its position, the count)."""
    words = list(_WORD.finditer(text))
    lowered = [w.group().lower() for w in words]
    for index, word in enumerate(words):
        count = _english_count(word.group())
        if count is None or not _asked_before(words, index, text):
            continue
        if lowered[index] in ("a", "an") and lowered[index + 1: index + 3] in (
                ["set", "of"], ["series", "of"], ["batch", "of"], ["grid", "of"]):
            continue  # "make a set of 3 images": the count is the 3
        for step in range(1, WORDS_BETWEEN + 2):
            if index + step >= len(words) or not _spaced(
                    text, words[index + step - 1], words[index + step]):
                break
            if PICTURE_NOUN.match(words[index + step].group()):
                return word.start(), count
    return None


# -- Chinese --------------------------------------------------------------------------
def chinese_number(text: str) -> int | None:
    if text.isdecimal():
        return int(text)  # int() reads full-width digits too
    if "十" not in text:
        return CHINESE_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (CHINESE_DIGITS[tens] if tens else 1) * 10 + (CHINESE_DIGITS[ones] if ones else 0)


def _noun_at(text: str, position: int) -> bool:
    return any(text.startswith(noun, position) for noun in CHINESE_NOUNS)


def _counts_pictures(text: str, position: int) -> bool:
    """Whether what follows a count at ``position`` says it counts pictures."""
    while position < len(text) and text[position].isspace():
        position += 1
    if position >= len(text):
        return False
    measure = text[position]
    rest = position + 1
    if measure in ANY_MEASURES:
        for modifier in MODIFIERS:
            if text.startswith(modifier, rest):
                rest += len(modifier)
                break
        rest += 1 if text.startswith("的", rest) else 0
        return _noun_at(text, rest)
    if measure not in PICTURE_MEASURES:
        return False
    after = rest
    while after < len(text) and text[after].isspace():
        after += 1
    if after >= len(text) or text[after] in CLAUSE_ENDS:
        return True  # "画3张：", "一只猫，画三张"
    for filler in range(MAX_FILLER + 1):
        if _noun_at(text, rest + filler):
            return True
        char = text[rest + filler: rest + filler + 1]
        if not char or char in CLAUSE_ENDS or char.isdecimal() or char in (
                PICTURE_MEASURES + ANY_MEASURES):
            return False
    return False


def _numerals(text: str) -> Iterator[re.Match[str]]:
    """Whole numerals: never the tail of a longer one, nor after 有/含/带/第/每."""
    for match in _NUMERAL.finditer(text):
        before = text[match.start() - 1: match.start()]
        if before and (before in NOT_A_COUNT_AFTER or _NUMERAL.fullmatch(before)):
            continue
        yield match


def chinese_count(text: str) -> tuple[int, int] | None:
    """The first Chinese (or Japanese 枚) phrase asking for images: (position, count)."""
    for match in _numerals(text):
        number = chinese_number(match.group())
        if number and _counts_pictures(text, match.end()):
            return match.start(), number
    return None


def count_asked(text: str) -> int:
    """How many images ``text`` asks for in its first phrase that asks (at least one)."""
    found = [c for c in (english_count(text), chinese_count(text)) if c is not None]
    return max(1, min(found)[1]) if found else 1
