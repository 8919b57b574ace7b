"""Size, quality, format and compression rules of SPEC.md sections 2 and 4."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vibeimg.errors import UsageError
from vibeimg.params import (
    MAX_PIXELS,
    MIN_PIXELS,
    ImageOptions,
    Size,
    check_prompt,
    parse_size,
    size_problem,
)


@pytest.mark.parametrize(
    "text", ["1024x1024", "1536x1024", "1024x1536", "2048x2048", "2048x1152", "3840x2160",
             "2160x3840"],
)
def test_common_sizes_are_valid(text: str) -> None:
    """Every common size listed in SPEC section 4 parses."""
    assert str(parse_size(text)) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("4096x1024", "at most 3840"),
        ("1000x1000", "multiples of 16"),
        ("3840x1248", "3 times"),
        ("800x800", "at least 655,360"),
        ("3840x2176", "at most 8,294,400"),
        ("big", "WIDTHxHEIGHT"),
        ("1024x", "WIDTHxHEIGHT"),
    ],
)
def test_each_size_rule_is_named_in_the_error(text: str, rule: str) -> None:
    """A refused size says which rule it breaks and suggests a valid one."""
    with pytest.raises(UsageError) as caught:
        parse_size(text)
    assert rule in caught.value.one_line()
    assert "try" in caught.value.one_line() or "use auto" in caught.value.one_line()


def test_aliases_and_auto() -> None:
    """Readable aliases map to SPEC's common sizes; auto means no explicit size."""
    assert parse_size("auto") is None
    assert parse_size("square") == Size(1024, 1024)
    assert parse_size("Landscape") == Size(1536, 1024)
    assert parse_size("4k") == Size(3840, 2160)


def test_experimental_above_2k() -> None:
    """Sizes above 2560x1440 pixels are flagged experimental, not refused."""
    assert parse_size("2048x2048").experimental  # type: ignore[union-attr]
    assert not parse_size("2560x1440").experimental  # type: ignore[union-attr]


@given(st.integers(1, 5000), st.integers(1, 5000))
def test_parser_agrees_with_the_rules(width: int, height: int) -> None:
    """parse_size accepts exactly the sizes that satisfy all four rules of SPEC section 4."""
    valid = (
        max(width, height) <= 3840
        and width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= 3 * min(width, height)
        and MIN_PIXELS <= width * height <= MAX_PIXELS
    )
    if valid:
        assert parse_size(f"{width}x{height}") == Size(width, height)
    else:
        with pytest.raises(UsageError) as caught:
            parse_size(f"{width}x{height}")
        hint = caught.value.hint or ""
        if hint.startswith("try ") and "x" in hint:
            suggested = parse_size(hint.removeprefix("try "))
            assert suggested is not None and size_problem(suggested) is None


def test_compression_only_for_jpeg_and_webp() -> None:
    """--compression with png, or out of 0-100, is refused before sending."""
    with pytest.raises(UsageError, match="only applies to jpeg and webp"):
        ImageOptions.build(output_format="png", compression=50)
    with pytest.raises(UsageError, match="between 0 and 100"):
        ImageOptions.build(output_format="jpeg", compression=101)
    assert ImageOptions.build(output_format="webp", compression=0).compression == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("quality", "ultra"), ("output_format", "gif"), ("moderation", "none"),
     ("response_format", "link")],
)
def test_choices_are_checked(field: str, value: str) -> None:
    """Values outside SPEC's lists are refused with the list of choices."""
    with pytest.raises(UsageError) as caught:
        ImageOptions.build(**{field: value})
    assert "choose one of" in caught.value.one_line()


def test_prompt_rules() -> None:
    """An empty or blank prompt, or one over 32,000 characters, is refused."""
    with pytest.raises(UsageError, match="empty"):
        check_prompt("   ")
    with pytest.raises(UsageError, match="32,000"):
        check_prompt("x" * 32_001)
    assert check_prompt("x" * 32_000)


def test_generation_body_sends_only_what_the_gateway_knows() -> None:
    """The JSON body has SPEC section 2's fields, compression only when set, never n."""
    body = ImageOptions.build(size="square", quality="low", output_format="jpeg",
                              compression=40).generation_body("fox")
    assert body == {
        "model": "gpt-image-2", "prompt": "fox", "size": "1024x1024", "quality": "low",
        "output_format": "jpeg", "moderation": "auto", "output_compression": 40,
        "response_format": "b64_json",
    }
