"""JSON as vibeimg writes it: whole for sidecars, in pieces for big documents on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibeimg.files.jsontext import JsonArray, json_pieces, json_text
from vibeimg.ui import json_controls_escaped, json_line

OUTCOMES = [{"n": n, "prompt": "ü otter", "path": None, "usage": {"a": [1, {}]}}
            for n in range(300)]


@pytest.mark.parametrize(("document", "whole"), [
    ({"command": "batch", "outcomes": JsonArray(lambda: iter(OUTCOMES)), "error": None,
      "nested": {"a": [1, 2]}, "none": JsonArray(list)},
     {"command": "batch", "outcomes": OUTCOMES, "error": None, "nested": {"a": [1, 2]},
      "none": []}),
    ({"path": "out\udce9.png", "prompt": "é"}, None),  # an undecodable name: all ASCII
    ([], None), ({}, None), ("x", None),
])
def test_pieces_join_to_the_same_text(document, whole) -> None:
    """A document written in pieces reads exactly as the whole text would, the
    all-ASCII fallback for undecodable names included."""
    pieces = list(json_pieces(document))
    assert "".join(pieces) == json_text(document if whole is None else whole)


def test_an_array_is_written_an_element_at_a_time() -> None:
    """Each element is encoded when its turn comes, not before."""
    made: list[int] = []

    def elements():
        for n in range(3):
            made.append(n)
            yield {"n": n}

    pieces = json_pieces({"outcomes": JsonArray(elements)})
    assert next(pieces) == "{" and made == []
    next(pieces), next(pieces)
    assert made == [0]


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_no_document_holds_nan_or_infinity(number: float) -> None:
    """A NaN or infinite number anywhere in a document is written null: always valid JSON."""
    document = {"max_cost_usd": number, "items": [{"cost": number}, (number, 1.5)],
                "outcomes": JsonArray(lambda: [{"cost": number}])}
    text = "".join(json_pieces(document))
    assert _strict(text) == {"max_cost_usd": None, "items": [{"cost": None}, [None, 1.5]],
                             "outcomes": [{"cost": None}]}
    assert _strict(json_line({"cost": number})) == {"cost": None}


_scalars = (st.none() | st.booleans() | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False) | st.text())
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(document=_documents)
def test_json_text_is_the_standard_librarys_pretty_json(document: object) -> None:
    """The fast encoder writes exactly what json.dumps(indent=2) writes, whatever the
    nesting, the numbers (floats' shortest form, big integers) or the text."""
    expected = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    try:
        expected.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: json_text escapes everything then
        expected = json.dumps(document, indent=2, ensure_ascii=True)
    assert json_text(document) == json_controls_escaped(expected)


def test_json_text_of_what_json_cannot_take_as_it_is() -> None:
    """NaN becomes null, a number key a string key, a path its text: as before."""
    document = {"cost": float("nan"), 2: "two", "path": Path("a/b.png"), "big": [float("inf")]}
    assert json.loads(json_text(document)) == {"cost": None, "2": "two", "path": "a/b.png",
                                               "big": [None]}
