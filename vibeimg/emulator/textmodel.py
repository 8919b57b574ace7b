"""The text model of ``/responses``, played by a few deterministic rules.

On the gateway a text model (``gpt-5.5``) reads the request, calls the image tool
once per image asked for ("Generate 3 different images: 1) ... 2) ... 3) ...", SPEC.md
section 5) and rewrites each prompt (``revised_prompt``). Here: the count is read by
:mod:`.counting` (English and Chinese), at most :data:`.contract.MAX_IMAGE_CALLS`; a
numbered list of as many items gives one subject per image; the rewrite is a fixed
sentence around the subject, so tests can expect it.
"""

from __future__ import annotations

import re

from vibeimg.emulator.contract import MAX_IMAGE_CALLS
from vibeimg.emulator.counting import count_asked

_MARKS = (  # numbered items: 1) 1） (1) （1） 1. １． 1、 ①
    re.compile(r"[(（](\d{1,2})[)）]\s*"),
    re.compile(r"(?:^|(?<=[\s,，;；:：。\u4e00-\u9fff]))(\d{1,2})[)）]\s*"),
    re.compile(r"(?:^|(?<=[\s,，;；:：。]))(\d{1,2})[.．](?!\d)\s*"),
    re.compile(r"(?:^|(?<=[\s,，;；:：。]))(\d{1,2})、\s*"),
    re.compile(r"([\u2460-\u2473])\s*"),
)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def image_calls(text: str) -> int:
    """How many times the text model calls the image tool for ``text``."""
    return min(count_asked(text), MAX_IMAGE_CALLS)


def numbered(text: str) -> list[str]:
    """The items of a numbered list counting 1, 2, 3... from its first mark, or []."""
    folded = text.translate(_FULL_WIDTH_DIGITS)
    for mark in _MARKS:
        found = list(mark.finditer(folded))
        numbers = [int(m.group(1)) if m.group(1).isdecimal() else ord(m.group(1)) - 0x245F
                   for m in found]
        if len(found) < 2 or numbers != list(range(1, len(found) + 1)):
            continue
        ends = [m.start() for m in found[1:]] + [len(text)]
        items = [re.sub(r"(?:\s+(?:and|or)|和|以及|还有)$", "",
                        text[m.end():end].strip(" \t\n,，;；.。、:：")).strip(" ,，;；.。、")
                 for m, end in zip(found, ends, strict=True)]
        if all(items):
            return items
    return []


def subjects(text: str) -> list[str]:
    """One prompt per image: the enumerated items of "1) ... 2) ...", or the text again."""
    count = image_calls(text)
    items = numbered(text)
    if count > 1 and len(items) == count:
        return items
    subject = text.split(":", 1)[1].strip() if count > 1 and ":" in text else text
    if count == 1:
        return [subject]
    return [f"{subject} (variation {i} of {count})" for i in range(1, count + 1)]


def revise(subject: str) -> str:
    """The text model's rewrite: deterministic, so tests can expect it."""
    words = " ".join(subject.split())[:500]
    words = words[:1].upper() + words[1:]
    return (f"{words.rstrip('.')}, rendered as a clean, detailed illustration with balanced "
            "composition and soft, even lighting.")
