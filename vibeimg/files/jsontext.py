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
    try:
        text = _pretty(document)
    except (ValueError, TypeError):  # NaN or infinity; a key that is not a string
        text = json_dumps(document, indent=2, ensure_ascii=False, default=str)
    text = json_controls_escaped(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json_dumps(document, indent=2, ensure_ascii=True, default=str)
    return text


def _pretty(document: Any) -> str:
    """``json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False,
    default=str)``, the same text, made about half again as fast: with ``indent`` the
    standard library encodes in Python a piece at a time, where this joins the pieces
    that the C string encoder makes (a batch writes one sidecar per image). ValueError
    for NaN or infinity, TypeError for a key that is not a string."""
    from json.encoder import encode_basestring  # noqa: PLC0415 - C where Python has it

    out: list[str] = []
    append = out.append

    def encode(value: Any, indent: str) -> None:
        if isinstance(value, str):
            append(encode_basestring(value))
        elif value is None:
            append("null")
        elif value is True:
            append("true")
        elif value is False:
            append("false")
        elif isinstance(value, int):
            append(int.__repr__(value))
        elif isinstance(value, float):
            if value - value != 0:  # inf - inf and NaN are NaN
                raise ValueError("Out of range float values are not JSON compliant")
            append(float.__repr__(value))
        elif isinstance(value, (list, tuple)):
            if not value:
                append("[]")
                return
            inner = indent + "  "
            opening = "[\n" + inner
            for item in value:
                append(opening)
                opening = ",\n" + inner
                encode(item, inner)
            append("\n" + indent + "]")
        elif isinstance(value, dict):
            if not value:
                append("{}")
                return
            inner = indent + "  "
            opening = "{\n" + inner
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"a key of {type(key).__name__}")
                append(opening + encode_basestring(key) + ": ")
                opening = ",\n" + inner
                encode(item, inner)
            append("\n" + indent + "}")
        else:
            append(encode_basestring(str(value)))

    encode(document, "")
    return "".join(out)


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
