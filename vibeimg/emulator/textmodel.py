"""The text model of ``/responses``, played by a few deterministic rules.

On the gateway a text model (``gpt-5.5``) reads the request, calls the image tool
once per image asked for ("Generate 3 different images: 1) ... 2) ... 3) ...", SPEC.md
section 5) and rewrites each prompt (``revised_prompt``). Here: the count comes from
the first "generate|create|make|draw N [up to two words] image(s)" phrase (N in digits
or as a word up to ten), at least one and at most :data:`.contract.MAX_IMAGE_CALLS`;
a numbered list of as many items gives one subject per image; the rewrite is a fixed
sentence around the subject, so tests can expect it.
"""

from __future__ import annotations

import re

from vibeimg.emulator.contract import MAX_IMAGE_CALLS

VERBS = frozenset({"generate", "create", "make", "draw"})
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10}
WORDS_BETWEEN = 2  # "3 different images", "two small square images"
_WORD = re.compile(r"\w+")
_IMAGES = re.compile(r"images?\W*", re.IGNORECASE)
_ENUMERATED = re.compile(r"(?:^|\s)(\d{1,2})[).]\s+")


def _number(token: str) -> int | None:
    if token.isascii() and token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token.lower())


def _is_images(token: str) -> bool:
    """``image``/``images``, also followed by punctuation ("images:")."""
    return _IMAGES.fullmatch(token) is not None


def count_asked(text: str) -> int:
    """How many images the text asks for in its first "Generate N images" phrase."""
    tokens = text.split()
    for index, token in enumerate(tokens):
        verb = token.lstrip("\"'(").lower()
        if verb not in VERBS or index + 2 >= len(tokens):
            continue
        count = _number(tokens[index + 1])
        if count is None:
            continue
        for between in range(WORDS_BETWEEN + 1):
            position = index + 2 + between
            if position >= len(tokens):
                break
            if _is_images(tokens[position]):
                return max(1, count)
            if not _WORD.fullmatch(tokens[position]):
                break
    return 1


def image_calls(text: str) -> int:
    """How many times the text model calls the image tool for ``text``."""
    return min(count_asked(text), MAX_IMAGE_CALLS)


def subjects(text: str) -> list[str]:
    """One prompt per image: the enumerated items of "1) ... 2) ...", or the text again."""
    count = image_calls(text)
    parts = _ENUMERATED.split(text)
    numbered = [p.strip(" ,;.") for p in parts[2::2]]
    if count > 1 and len(numbered) == count and all(numbered):
        return numbered
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
