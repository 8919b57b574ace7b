"""Parsing and validating a batch file: items, defaults, keys, and every bad line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from vibeimg.batch.items import BatchDefaults, BatchInputError, detect_format, parse_batch
from vibeimg.batch.plan import Shard
from vibeimg.batch.requests import build_request
from vibeimg.errors import UsageError


def parse(text: str, tmp_path: Path, source: str = "p.jsonl", **defaults: object):
    return parse_batch(text, source=source, base_dir=tmp_path,
                       defaults=BatchDefaults(**defaults))  # type: ignore[arg-type]


def png(path: Path, size: tuple[int, int] = (64, 64)) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_format_detection() -> None:
    """The suffix decides, then the first non-blank line; an explicit choice wins."""
    assert detect_format("a fox", "p.jsonl") == "jsonl"
    assert detect_format('{"prompt": "x"}', "p.txt") == "text"
    assert detect_format('\n {"prompt": "x"}', "<stdin>") == "jsonl"
    assert detect_format("a fox", "prompts") == "text"
    assert detect_format("a fox", "p.jsonl", "text") == "text"


def test_aliases_and_defaults(tmp_path: Path) -> None:
    """format/compression are aliases; flags fill what a line leaves out."""
    (item,) = parse('{"prompt": "fox", "format": "webp", "compression": 30}', tmp_path,
                    quality="low")
    assert item.options.output_format == "webp" and item.options.compression == 30
    assert item.options.quality == "low" and item.kind == "generate"
    assert item.name == "0001-{slug}.{ext}"


def test_a_default_compression_does_not_follow_a_line_to_png(tmp_path: Path) -> None:
    """--format jpeg --compression 80 as defaults; a png line simply has no compression."""
    items = parse('{"prompt": "a"}\n{"prompt": "b", "format": "png"}', tmp_path,
                  output_format="jpeg", compression=80)
    assert [i.options.compression for i in items] == [80, None]


def test_keys_are_stable_and_independent_of_position(tmp_path: Path) -> None:
    """The same work has the same key wherever it sits; repeats get distinct keys."""
    first = parse('{"prompt": "fox"}\n{"prompt": "heron"}', tmp_path)
    moved = parse('{"prompt": "owl"}\n{"prompt": "heron"}\n{"prompt": "fox"}', tmp_path)
    assert {i.prompt: i.key for i in first}["fox"] == {i.prompt: i.key for i in moved}["fox"]
    repeated = parse('{"prompt": "fox"}\n{"prompt": "fox"}', tmp_path)
    assert repeated[0].key == first[0].key and repeated[1].key != repeated[0].key
    copies = parse('{"prompt": "fox", "n": 2}', tmp_path)
    assert [i.key for i in copies] == [i.key for i in repeated]


def test_keys_follow_options_and_input_content(tmp_path: Path) -> None:
    """Another quality, or other bytes in an input image, make another key."""
    low = parse('{"prompt": "fox"}', tmp_path, quality="low")[0].key
    high = parse('{"prompt": "fox"}', tmp_path, quality="high")[0].key
    assert low != high
    assert parse('{"prompt": "fox", "output": "x.png"}', tmp_path, quality="low")[0].key == low


def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    """All problems at once, each with its line number; good lines are not listed."""
    text = "\n".join([
        '{"prompt": "ok"}',
        '{"prompt": 3}',
        '{"prompt": "x", "n": 0}',
        '{"prompt": "x", "n": true}',
        '{"prompt": "x", "quality": "ultra"}',
        '{"prompt": "x", "format": "png", "compression": 50}',
        '{"prompt": "x", "output": "../escape.png"}',
        '{"prompt": "x", "output": "{nope}.png"}',
        '{"prompt": "x", "mask": "m.png"}',
        '{"prompt": "x", "format": "jpeg", "output_format": "png"}',
        '{"prompt": "   "}',
        '{"prompt": "x", "size": 1024}',
    ])
    with pytest.raises(BatchInputError) as caught:
        parse(text, tmp_path)
    problems = {p.line: p.message for p in caught.value.problems}
    assert sorted(problems) == list(range(2, 13))
    assert problems[2] == "prompt must be a string"
    assert "n must be between 1 and 100" in problems[3]
    assert "n must be a whole number" in problems[4]
    assert problems[5].startswith("invalid quality 'ultra'")
    assert "only applies to jpeg and webp" in problems[6]
    assert "inside the output folder" in problems[7]
    assert "unknown field {nope}" in problems[8]
    assert problems[9].startswith("a mask needs images")
    assert "given twice" in problems[10]
    assert problems[11].startswith("the prompt is empty")
    assert problems[12].startswith("size must be a string")
    assert caught.value.message == "11 bad lines in p.jsonl; nothing was sent"


def test_edit_inputs_are_read_relative_to_the_file(tmp_path: Path) -> None:
    """images and mask paths start from the batch file's folder and must be images."""
    png(tmp_path / "in.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BatchInputError) as caught:
        parse_batch('{"prompt": "x", "images": ["notes.txt"]}\n'
                    '{"prompt": "x", "images": "in.png", "mask": ["a.png", "b.png"]}\n'
                    '{"prompt": "x", "images": "in.png", "resize_mask": true}\n'
                    '{"prompt": "ok", "images": "in.png"}',
                    source="p.jsonl", base_dir=tmp_path, defaults=BatchDefaults(),
                    check=build_request)
    messages = [p.message for p in caught.value.problems]
    assert "is not a png, jpeg or webp file" in messages[0]  # the edit builder's words
    assert messages[1] == "mask must be one file path"
    assert messages[2] == "convert_mask and resize_mask need a mask"
    assert len(messages) == 3


def test_a_check_runs_once_per_line(tmp_path: Path) -> None:
    """The request builder's own refusals become line problems too."""
    seen: list[int] = []

    def check(item) -> None:
        seen.append(item.line)
        if item.prompt == "bad":
            raise UsageError("refused by the builder")

    with pytest.raises(BatchInputError) as caught:
        parse_batch('{"prompt": "ok", "n": 3}\n{"prompt": "bad"}', source="p.jsonl",
                    base_dir=tmp_path, defaults=BatchDefaults(), check=check)
    assert seen == [1, 2]
    assert caught.value.problems[0].describe("p.jsonl") == "p.jsonl:2: refused by the builder"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    """A file with no prompt at all is a usage error, not an empty success."""
    with pytest.raises(UsageError, match="has no prompts"):
        parse("\n  \n", tmp_path, source="p.txt")


def test_text_lines_are_prompts(tmp_path: Path) -> None:
    """In a text file, a line starting with { is a prompt like any other."""
    items = parse('{not json}\na fox\n', tmp_path, source="p.txt")
    assert [i.prompt for i in items] == ["{not json}", "a fox"]
    assert [i.line for i in items] == [1, 2]


@pytest.mark.parametrize("total", [1, 2, 3, 5])
def test_shards_partition_the_keys(tmp_path: Path, total: int) -> None:
    """Each key belongs to exactly one shard of N."""
    items = parse("\n".join(f"prompt {i}" for i in range(40)), tmp_path, source="p.txt")
    for item in items:
        owners = [k for k in range(1, total + 1) if Shard(k, total).holds(item.key)]
        assert len(owners) == 1
