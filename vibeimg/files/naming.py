"""Output names: prompts to file-name stems, and ``-o`` templates such as ``{slug}-{n}.{ext}``.

A name is planned before anything is sent, so a template that could never fit is refused
first; the extension follows the bytes that arrive, not what was asked.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from vibeimg.errors import UsageError
from vibeimg.files.formats import EXTENSIONS, KNOWN_SUFFIXES

TEMPLATE_FIELDS = ("slug", "n", "date", "time", "ext", "format", "model", "quality", "size")
_FIELD = re.compile(r"{(\w*)}")


SLUG_BYTES = 48  # UTF-8 bytes: file names are limited in bytes (NAME_MAX), not characters
# Full-width forms of ASCII (U+FF01-FF5E), as Chinese and Japanese input methods type them:
# the same letters and digits, so "ＡＢＣ３" names a file "abc3".
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
# Transliterated syllables of caseless scripts come capitalised ("水獭" -> "ShuiTa").
_VARIATION_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]").match
_SYLLABLE = re.compile(r"(?<=[A-Za-z0-9])(?=[A-Z])")


def slugify(text: str, max_bytes: int = SLUG_BYTES, *, ascii_only: bool = False) -> str:
    """A short file name stem from a prompt, safe to type in a shell unquoted.

    Words of letters and digits in any script, lowercased where the script has case,
    joined by ``-`` and at most ``max_bytes`` UTF-8 bytes (never half a character):
    ``一只水彩风格的水獭``, ``straße``, ``a-red-fox``. Punctuation, symbols, controls,
    path separators and invisible format characters (bidi overrides) never get in.
    ``ascii_only`` transliterates instead (``yi-zhi-shui-cai...``, ``strasse``). Emoji
    alone are named in words (``otter``); when nothing is left, a short hash of the
    prompt (``image-1a2b3c4d``) keeps names of different prompts apart.
    """
    folded = unicodedata.normalize("NFC", text).translate(_FULL_WIDTH).lower()
    words = _ascii_words(folded) if ascii_only else _unicode_words(folded)
    if not words and not ascii_only and not folded.isascii():
        words = _ascii_words(folded)  # emoji and symbols alone: their names
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate.encode()) > max_bytes:
            break
        slug = candidate
    if not slug and words:
        slug = _cut(words[0], max_bytes)
    if not slug:
        digest = hashlib.sha256(unicodedata.normalize("NFC", text).encode()).hexdigest()
        slug = f"image-{digest[:8]}"
    return slug


def _unicode_words(text: str) -> list[str]:
    """Runs of letters, digits and the marks that belong to them (vowel signs, accents)."""
    words: list[str] = []
    word: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "L" or category in ("Nd", "Nl") or (
                category[0] == "M" and word and not _VARIATION_SELECTOR(char)):
            word.append(char)
        elif category == "Cf":  # invisible: a bidi override, a zero-width joiner
            continue
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


def _ascii_words(text: str) -> list[str]:
    """ASCII words from any script: pinyin for Chinese, romanisation for Japanese kana,
    Korean, Cyrillic, Arabic..., names for emoji (``:otter:``)."""
    from anyascii import anyascii  # noqa: PLC0415 - 25 ms of tables, only for these names

    return re.findall(r"[a-z0-9]+", _SYLLABLE.sub(" ", anyascii(text)).lower())


def _cut(word: str, max_bytes: int) -> str:
    """The longest start of ``word`` within ``max_bytes`` that ends on a whole character
    (with its combining marks)."""
    size = end = 0
    for index, char in enumerate(word):
        size += len(char.encode())
        if size > max_bytes:
            break
        end = index + 1
    while 0 < end < len(word) and unicodedata.category(word[end])[0] == "M":
        end -= 1
    return word[:end]


@dataclass(frozen=True)
class NamePlan:
    """How output files are named: a folder and a template such as ``{slug}-{n}.{ext}``."""

    directory: Path
    template: str
    force: bool = False
    literal_format: str | None = None  # the format a literal extension in -o named
    literal_ext: str | None = None  # that extension as written (``jpeg``, ``JPG``)
    # A folder no image may leave, even through a symbolic link (a batch's --out-dir).
    root: Path | None = None
    # The names --force must not replace (a batch's: what it saved, what it finished).
    claims: NameClaims | None = field(default=None, compare=False)

    @classmethod
    def build(
        cls, output: str | None, out_dir: Path | None, *, count: int, force: bool = False,
        root: Path | None = None, claims: NameClaims | None = None, sidecar: bool = True,
    ) -> NamePlan:
        """From ``-o`` and ``--out-dir``: add ``{ext}`` and, for several images, ``{n}``.

        ``sidecar``: whether a ``NAME.json`` goes beside each image, whose name must fit
        too; without one (``--no-sidecar``) only the image's own name must.
        """
        template = output or ("{slug}-{n}.{ext}" if count > 1 else "{slug}.{ext}")
        for named in _FIELD.findall(template):
            if named not in TEMPLATE_FIELDS:
                raise UsageError(
                    f"unknown field {{{named}}} in the output name {template!r}",
                    hint=f"use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}",
                )
        if "{" in _FIELD.sub("", template) or "}" in _FIELD.sub("", template):
            raise UsageError(f"the output name {template!r} has a {{ or }} that is no field",
                             hint="fields look like {slug} or {n}; a name cannot hold "
                             "other braces")
        head, tail = os.path.split(template)
        if tail in ("", ".", ".."):  # it would have saved a hidden '..png' in it
            raise UsageError(f"the output name {template!r} names a folder, not a file",
                             hint=f"use --out-dir {template} to save in it, or a file name "
                                  f"such as -o {PurePath(head, 'NAME.png')}")
        if not tail.strip("."):
            raise UsageError(f"the output name {template!r} is only dots: the image would "
                             "be a hidden file",
                             hint=f"choose a file name such as -o {PurePath(head, 'NAME.png')}")
        stem, suffix = os.path.splitext(tail)
        literal_format = literal_ext = None
        if "{ext}" not in tail and not tail.endswith(".{format}"):
            # The extension follows the bytes received, so a literal one becomes {ext}
            # (kept as written when the bytes are of its format: out.jpeg stays .jpeg).
            if suffix.lower() in KNOWN_SUFFIXES:
                literal_format, literal_ext = KNOWN_SUFFIXES[suffix.lower()], suffix[1:]
                tail = stem + ".{ext}"
            else:
                stem, tail = tail, tail + ".{ext}"
        # The least the image's name and its sidecar's (stem + .json) can come to.
        literal = os.fsencode(_FIELD.sub("", tail))
        shortest = len(literal) + (3 if "{ext}" in tail else 0)
        if sidecar:
            shortest = max(shortest,
                           len(os.fsencode(_FIELD.sub("", os.path.splitext(tail)[0]))) + 5)
        if shortest > NAME_MAX:
            raise UsageError(f"the output name is at least {shortest} bytes long; file names "
                             f"hold at most {NAME_MAX}", hint="choose a shorter name with -o")
        if count > 1 and "{n}" not in template:
            mark = ".{ext}" if ".{ext}" in tail else ".{format}"
            tail = tail.replace(mark, "-{n}" + mark, 1) if mark in tail else tail + "-{n}"
        # Folders up to the first one with a field are fixed; the rest are rendered too.
        parts = PurePath(head).parts if head else ()
        fixed = next((i for i, part in enumerate(parts) if "{" in part), len(parts))
        directory = Path(out_dir) if out_dir else Path()
        if fixed:
            directory = directory.joinpath(*parts[:fixed])
        template = "/".join([*parts[fixed:], tail])
        return cls(directory=directory, template=template, force=force,
                   literal_format=literal_format, literal_ext=literal_ext, root=root,
                   claims=claims)

    def extension(self, fmt: str) -> str:
        """The file extension for an image of format ``fmt``."""
        if self.literal_ext and fmt == self.literal_format:
            return self.literal_ext
        return EXTENSIONS[fmt]

    def render(self, fields: dict[str, Any]) -> str:
        """The file name, below ``directory``: ``fox.png``, or ``2026-11-27/fox.png`` for
        a template with fields in its folders. A value never adds a folder of its own."""
        values = dict.fromkeys(TEMPLATE_FIELDS, "")
        if "{date}" in self.template or "{time}" in self.template:
            now = datetime.now()
            values.update(date=now.strftime("%Y-%m-%d"), time=now.strftime("%H%M%S"))
        values.update({k: str(v).replace("/", "-").replace(os.sep, "-")
                       for k, v in fields.items()})
        parts = [_FIELD.sub(lambda m: values[m.group(1)], part)
                 for part in self.template.split("/")]
        # A folder a field made too long is cut (the file's own name is fitted when it is
        # saved, with its -2 and its sidecar's .json): an image bought is never lost to it.
        parts[:-1] = [fit_bytes(part, NAME_MAX) for part in parts[:-1]]
        return "/".join(part if part not in ("", ".", "..") else "_" for part in parts)


NAME_MAX = 255  # bytes in a file name on the usual filesystems


def fit_bytes(text: str, room: int) -> str:
    """``text`` itself when its file-system bytes fit in ``room``, else its longest start
    that does, ending on a whole character (with its combining marks). A byte of a name
    that is not UTF-8 (a surrogate escape) counts as the one byte it is."""
    if len(os.fsencode(text)) <= room:
        return text
    size = end = 0
    for index, char in enumerate(text):
        size += len(os.fsencode(char))
        if size > room:
            break
        end = index + 1
    while 0 < end < len(text) and unicodedata.category(text[end])[0] == "M":
        end -= 1
    return text[:end]


class NameClaims:
    """The file names one run holds, so that its ``--force`` replaces only what was there
    before it: each image (and its sidecar) is claimed before it is saved, and a name
    claimed already, by an image saved earlier in the run or by one held from the start
    (a batch's finished images), is passed over like a name taken without ``--force``.
    Thread-safe: a batch's workers claim at once."""

    def __init__(self, held: dict[Path, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._held = {path.absolute(): why for path, why in (held or {}).items()}

    def claim(self, *paths: Path) -> str | None:
        """Claim every one of ``paths`` for this run; or, when one is held already,
        claim none and return why it is held (``out.png was saved by this run``)."""
        keys = [path.absolute() for path in paths]
        with self._lock:
            for key in keys:
                why = self._held.get(key)
                if why is not None:
                    return f"{key.name} {why}"
            for key in keys:
                self._held[key] = "was saved by this run"
        return None
