"""What a history search looks for: the terms of the text, in any script."""

from __future__ import annotations

import unicodedata

TRIGRAM = 3  # characters: shorter terms are not in the index


def search_terms(text: str) -> list[str]:
    """What to look for: the runs of characters between spaces and punctuation, in NFC,
    without emoji variation selectors; the text itself when it is punctuation alone."""
    text = unicodedata.normalize("NFC", text).replace("\ufe0f", "").replace("\ufe0e", "")
    terms: list[str] = []
    term: list[str] = []
    for char in text:
        if char.isspace() or unicodedata.category(char)[0] in "PC":
            if term:
                terms.append("".join(term))
                term = []
        else:
            term.append(char)
    if term:
        terms.append("".join(term))
    stripped = " ".join(text.split())
    return terms or ([stripped] if stripped else [])
