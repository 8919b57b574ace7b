"""How many images a prompt asks for, and its numbered items, in English and Chinese.

The gateway has no ``n`` on ``/responses`` (SPEC.md section 5): several images are asked
for in words, and the text model calls the image tool once per image. vibeimg reads those
words to know how many images to expect and to name each file after its own item:

- English: a verb, a count (digits or words) and a picture noun: "Generate 3 different
  images", "make two pictures", "draw 4 sketches". A count that is not of pictures is
  not one: "a photo of 3 dogs" is one image of three dogs.
- Chinese (and the Japanese 枚): a count in digits (full-width too) or numerals
  (一二两三...十) with a measure word (张, 幅, 枚; 个 and 份 only before a picture noun)
  and a picture noun (图, 图片, 照片, 插画, 版本...): "画三张图", "生成3张不同风格的图片",
  "两幅画"; or 张/幅/枚 ending a clause ("给我画3张："). A count after 有/含/带 ("一张有三张
  照片的拼贴画") or 第/每 is not the number of images.
- Numbered items: ``1)``, ``1.``, ``1、``, ``1:``, ``(1)`` and full-width ``（1）``, ``1）``,
  ``１．``, or ``①``, counting 1, 2, 3... from the start.

The first count in the prompt wins, so words put before it ("Generate 1 image ...")
decide for the whole prompt.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4,
               "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
               "eleven": 11, "twelve": 12}
_EN_VERBS = ("generate", "create", "make", "draw", "render", "paint", "produce", "design",
             "sketch", "illustrate", "imagine", "give", "show", "send", "want", "need", "like")
_EN_NOUNS = ("images?", "pictures?", "pics?", "photos?", "photographs?", "drawings?",
             "illustrations?", "paintings?", "sketch(?:es)?", "renders?", "renderings?",
             "variations?", "versions?", "variants?", "artworks?", "wallpapers?",
             "posters?", "portraits?")
# Words between the count and the noun that say nothing of what is drawn.
_EN_MODIFIERS = frozenset({"different", "distinct", "unique", "separate", "more", "new",
                           "other", "varied", "various", "random", "similar", "alternative",
                           "individual"})
_ASKED_EN = re.compile(
    r"(?:\b(?:" + "|".join(_EN_VERBS) + r")\s+(?:me\s+|us\s+)?"
    r"(?:a\s+(?:set|series|batch|grid)\s+of\s+)?|^\s*)"
    r"(?P<count>\d{1,3}|" + "|".join(_EN_NUMBERS) + r")\s+"
    r"(?P<filler>(?:[\w'-]+\s+){0,3}?)(?P<noun>" + "|".join(_EN_NOUNS) + r")\b",
    re.IGNORECASE,
)

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUMERAL = "[" + "".join(_ZH_DIGITS) + "十]{1,3}"
_ZH_NOUNS = ("图片", "图像", "图画", "画作", "画像", "画儿", "照片", "相片", "插画", "插图",
             "海报", "壁纸", "头像", "图标", "版本", "变体", "草图", "素描", "作品", "图", "画",
             "画像", "写真", "イラスト", "絵")
_PUNCTUATION = r"\s,，.。:：;；!！?？、"
# 个 and 份 count anything (两个人的照片 is one photo of two people): only with a noun
# right after, or a word that says the images differ.
_ZH_COUNTED = (r"(?P<measure>[张幅枚])\s*"
               r"(?P<filler>[^" + _PUNCTUATION + r"0-9０-９张幅个份枚]{0,12}?)"
               r"|(?P<any>[个份])\s*(?P<modifier>(?:不同|不一样|各异|各不相同|独特|新|其他|别的)的?)?")
_ASKED_ZH = re.compile(
    r"(?<![有含带第每0-9０-９" + "".join(_ZH_DIGITS) + r"十])"
    r"(?P<count>[0-9０-９]{1,3}|" + _ZH_NUMERAL + r")\s*"
    r"(?:(?:" + _ZH_COUNTED + r")(?P<noun>" + "|".join(_ZH_NOUNS) + r")"
    r"|(?P<bare>[张幅枚])(?=\s*(?:[" + _PUNCTUATION + r"]|$)))"
)
_ZH_MODIFIER = re.compile(r"^(?:不同|不一样|各异|各不相同|独特|新|其他|别的)?(?:风格)?的?")


@dataclass(frozen=True)
class CountWords:
    """Where a prompt asks for a number of images, and what it says is drawn."""

    count: int
    start: int  # the words' span in the prompt
    end: int
    subject: str  # words inside the phrase that name what is drawn ("水彩风格的水獭")
    number: tuple[int, int] = (0, 0)  # the span of the count itself ("2", "two", "三")
    noun: tuple[int, int] | None = None  # the English picture noun's span ("pictures")


def _zh_number(text: str) -> int | None:
    if text.isdecimal():
        return int(text)  # full-width digits too
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1 or "十" in ones:
            return None
        return (_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0)
    return _ZH_DIGITS[text] if len(text) == 1 else None


def count_words(prompt: str) -> CountWords | None:
    """The first place the prompt asks for a number of images, or None."""
    found: list[CountWords] = []
    english = _ASKED_EN.search(prompt)
    if english is not None:
        word = english.group("count").lower()
        count = int(word) if word.isdigit() else _EN_NUMBERS[word]
        subject = " ".join(w for w in english.group("filler").split()
                           if w.lower() not in _EN_MODIFIERS)
        found.append(CountWords(count, english.start(), english.end(), subject,
                                english.span("count"), english.span("noun")))
    for chinese in _ASKED_ZH.finditer(prompt):
        number = _zh_number(chinese.group("count"))
        if not number:
            continue
        filler = _ZH_MODIFIER.sub("", chinese.group("filler") or "").strip("的の")
        found.append(CountWords(number, chinese.start(), chinese.end(), filler,
                                chinese.span("count")))
        break
    return min(found, key=lambda c: c.start) if found else None


def with_count(prompt: str, count: int) -> str:
    """``prompt`` with its own count of images made ``count`` ("Make 2 pictures of dogs",
    3: "Make 3 pictures of dogs"; "画两张图", 3: "画3张图"), so that a prompt sent asking
    for ``count`` never also asks for another number; as it is when it names no number
    of several images ("a photo of a dog" sent as three takes asks for nothing else)."""
    words = count_words(prompt)
    if words is None or words.count <= 1 or words.count == count:
        return prompt
    start, end = words.number
    if words.noun is not None:  # English: the noun agrees with the new count
        noun_start, noun_end = words.noun
        noun = prompt[noun_start:noun_end]
        if count == 1 and noun.lower().endswith("s"):
            noun = noun[:-2] if noun.lower().endswith("ches") else noun[:-1]
        elif count > 1 and not noun.lower().endswith("s"):
            noun += "es" if noun.lower().endswith("ch") else "s"
        return prompt[:start] + str(count) + prompt[end:noun_start] + noun + prompt[noun_end:]
    return prompt[:start] + str(count) + prompt[end:]


def images_asked(prompt: str) -> int:
    """How many images a prompt asks for ("Generate 3 different images: ...", "画三张图"),
    at least 1."""
    words = count_words(prompt)
    return max(1, words.count) if words else 1


_VERBS = re.compile(r"^(?:(?:please|" + "|".join(_EN_VERBS) + r")\s+(?:me\s+|us\s+)?"
                    r"|请|帮我|给我|麻烦|为我|画|生成|制作|创作|做|来|出|描绘|绘制)+"
                    r"|(?:\s+(?:" + "|".join(_EN_VERBS) + r")|请|画|生成|制作|做|来|描绘|绘制)+$",
                    re.IGNORECASE)
_SEPARATORS = " \t\n:：,，.。;；、-—"


def subject_text(prompt: str) -> str:
    """The words to name several images after: the prompt without "Generate 3 images of"
    or "画三张...图："; the prompt itself for one image, or when nothing else is left."""
    words = count_words(prompt)
    if words is None or words.count <= 1:
        return prompt
    rest = prompt[words.end:].lstrip(_SEPARATORS)
    rest = re.sub(r"^(?:of|showing|with|for)\s+", "", rest, flags=re.IGNORECASE)
    subject = " ".join(part for part in (words.subject, rest) if part)
    if subject:
        return subject
    before = _VERBS.sub("", prompt[:words.start].strip(_SEPARATORS)).strip(_SEPARATORS)
    return before or prompt


# Full-width forms of the list marks' characters, mapped one to one so that positions
# in the folded text are positions in the prompt.
_MARK_FOLD = str.maketrans("０１２３４５６７８９（）．：", "0123456789().:")
_CIRCLED = "\u2460-\u2473\u2474-\u2487\u2776-\u277f\u2780-\u2789\u278a-\u2793"
_MARK_STYLES = (
    re.compile(r"\((\d{1,2})\)"),  # (1) （1）
    re.compile(r"(?<![0-9A-Za-z(])(\d{1,2})\)"),  # 1) 1）
    re.compile(r"(?<![0-9A-Za-z.])(\d{1,2})\.(?!\d)"),  # 1. １．
    re.compile(r"(?<![0-9A-Za-z])(\d{1,2})、"),  # 1、
    re.compile(r"(?<![0-9A-Za-z:])(\d{1,2}):(?=\s)"),  # 1: with a space after
    re.compile(f"([{_CIRCLED}])"),  # ① ⑴ ❶
)
_ITEM_ENDS = re.compile(r"(?:\s+(?:and|or)|和|以及|及|还有|与)$", re.IGNORECASE)
_ITEM_STRIP = " \t\n;,.；，。、：:"


def _mark_number(text: str) -> int:
    return int(text) if text.isdecimal() else int(unicodedata.numeric(text))


def numbered_items(text: str) -> list[str]:
    """The items of a numbered list ("1) a fox 2) a heron", "（1）猫（2）狗", "①猫 ②狗"),
    in order; empty unless the marks of one style count 1, 2, 3... from the start."""
    folded = text.translate(_MARK_FOLD)
    best: list[str] = []
    for style in _MARK_STYLES:
        marks = list(style.finditer(folded))
        numbers = [_mark_number(m.group(1)) for m in marks]
        if len(marks) < 2 or numbers != list(range(1, len(marks) + 1)):
            continue
        ends = [m.start() for m in marks[1:]] + [len(text)]
        items = [_ITEM_ENDS.sub("", text[m.end():end].strip(_ITEM_STRIP)).strip(_ITEM_STRIP)
                 for m, end in zip(marks, ends, strict=True)]
        if all(items) and len(items) > len(best):
            best = items
    return best
