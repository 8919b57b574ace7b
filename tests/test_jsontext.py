"""JSON as vibeimg writes it: whole for sidecars, in pieces for big documents on stdout."""

from __future__ import annotations

import json

import pytest

from vibeimg.files.jsontext import JsonArray, json_pieces, json_text
from vibeimg.ui import json_line

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
