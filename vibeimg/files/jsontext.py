"""JSON as vibeimg writes it, for sidecars and stdout alike (kept apart from the sidecar
code so that ``--dry-run`` and ``--json`` import only ``json``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from vibeimg.ui import json_controls_escaped, json_dumps


def json_text(document: Any) -> str:
    """``document`` as pretty JSON, readable UTF-8 where it can be.

    A file name that is not valid UTF-8 arrives as surrogate escapes (``out\udce9.png``),
    which UTF-8 cannot encode: then every non-ASCII character is written as a JSON
    escape instead, which is still valid JSON, and still the same text once read.
    """
    # JSON escapes C0 controls itself; DEL and C1 (U+009B is a terminal's CSI) too here.
    # NaN and Infinity are not JSON: such a number is written null.
    text = json_controls_escaped(json_dumps(document, indent=2, ensure_ascii=False, default=str))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json_dumps(document, indent=2, ensure_ascii=True, default=str)
    return text


class JsonArray:
    """A JSON array made by ``make`` each time it is read, and encoded one element at a
    time by :func:`json_pieces`: a batch's 10,000 outcomes are never all built at once."""

    def __init__(self, make: Callable[[], Iterable[Any]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Any]:
        return iter(self._make())


def json_pieces(document: Any) -> Iterator[str]:
    """``json_text(document)`` in pieces, the same text once joined. A dict whose values
    include :class:`JsonArray` s is written a value at a time, and such an array an
    element at a time (each element readable UTF-8 where it can be, as ``json_text``)."""
    if not isinstance(document, dict) or not any(
            isinstance(value, JsonArray) for value in document.values()):
        yield json_text(document)
        return
    if not document:
        yield "{}"
        return
    yield "{"
    for number, (key, value) in enumerate(document.items()):
        yield ("," if number else "") + "\n  " + json_text(key) + ": "
        if not isinstance(value, JsonArray):
            yield _nested(json_text(value), "  ")
            continue
        empty = True
        for element in value:
            yield ("[" if empty else ",") + "\n    " + _nested(json_text(element), "    ")
            empty = False
        yield "[]" if empty else "\n  ]"
    yield "\n}"


def _nested(text: str, indent: str) -> str:
    """Pretty JSON text moved in by ``indent``, as it reads inside a container."""
    return text.replace("\n", "\n" + indent)
