"""Edit lines in a batch: mixed with generate lines, checked first, keyed by their inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pictures import alpha_mask, bw_mask, photo, save
from PIL import Image

from vibeimg.errors import ExitCode


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Pictures beside the batch file, in a folder of their own."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    return {
        "otter": save(folder / "otter.png", photo()),
        "soap": save(folder / "soap.jpg", photo(colour=(10, 10, 200))),
        "mask": save(folder / "mask.png", alpha_mask()),
        "bw": save(folder / "scribble.png", bw_mask()),
    }


def write_lines(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def test_mixed_generate_and_edit_lines(cli, emulator, inputs, tmp_path: Path) -> None:
    """Generate and edit lines run side by side; edits send their images and mask."""
    write_lines(tmp_path / "prompts" / "batch.jsonl",
                {"prompt": "a red fox"},
                {"prompt": "a gift basket", "images": ["otter.png", "soap.jpg"]},
                {"prompt": "a flamingo", "images": "otter.png", "mask": "mask.png"},
                {"prompt": "a heron", "format": "jpeg"})
    result = cli("batch", "prompts/batch.jsonl", "-d", "out", "--quality", "low",
                 "--size", "1024x1024")
    assert result.exit_code == 0, result.stderr
    sent = {r.json()["prompt"] if r.path == "/images/generations" else r.form["prompt"][0]: r
            for r in emulator.api_requests()}
    assert sent["a red fox"].path == sent["a heron"].path == "/images/generations"
    basket, flamingo = sent["a gift basket"], sent["a flamingo"]
    assert basket.path == flamingo.path == "/images/edits"
    assert basket.files["image[]"] == [
        ("otter.png", "image/png", inputs["otter"].read_bytes()),
        ("soap.jpg", "image/jpeg", inputs["soap"].read_bytes()),
    ]
    assert "mask" not in basket.files
    assert flamingo.files["mask"] == [("mask.png", "image/png", inputs["mask"].read_bytes())]
    assert basket.form["quality"] == ["low"] and basket.form["size"] == ["1024x1024"]
    out = tmp_path / "out"
    for name in ("0001-a-red-fox.png", "0002-a-gift-basket.png", "0003-a-flamingo.png",
                 "0004-a-heron.jpg"):
        assert Image.open(out / name).size == (1024, 1024)
    sidecar = json.loads((out / "0003-a-flamingo.json").read_text())
    assert sidecar["endpoint"] == "images/edits" and sidecar["mask"]["path"].endswith("mask.png")
    assert sidecar["batch"]["line"] == 3
    summary = json.loads(result.stdout)
    assert [o["kind"] for o in summary["outcomes"]] == ["generate", "edit", "edit", "generate"]
    assert {o["status"] for o in summary["outcomes"]} == {"done"}


def test_a_bad_mask_stops_the_whole_batch(cli, emulator, inputs, tmp_path: Path) -> None:
    """A mask without alpha on one line: the line is named, nothing at all is sent."""
    write_lines(tmp_path / "prompts" / "batch.jsonl",
                {"prompt": "a red fox"},
                {"prompt": "a flamingo", "images": "otter.png", "mask": "scribble.png"},
                {"prompt": "a basket", "images": "missing.png"})
    result = cli("batch", "prompts/batch.jsonl", "-d", "out")
    assert result.exit_code == ExitCode.USAGE
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: prompts/batch.jsonl:2: the mask ")
    assert "no alpha channel" in lines[0] and "add \"convert_mask\": true" in lines[0]
    assert lines[1].startswith("error: prompts/batch.jsonl:3: cannot read images file")
    assert emulator.api_requests() == []


def test_convert_mask_on_a_line(cli, emulator, inputs, tmp_path: Path) -> None:
    """convert_mask: true turns a black-and-white mask into alpha, and says so on stderr."""
    write_lines(tmp_path / "prompts" / "batch.jsonl",
                {"prompt": "a flamingo", "images": "otter.png", "mask": "scribble.png",
                 "convert_mask": True})
    result = cli("batch", "prompts/batch.jsonl", "-d", "out", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert "prompts/batch.jsonl:1: mask " in result.stderr
    [sent] = emulator.api_requests()
    _name, media, data = sent.files["mask"][0]
    assert media == "image/png" and data != inputs["bw"].read_bytes()


def test_new_input_bytes_are_new_work(cli, emulator, inputs, tmp_path: Path) -> None:
    """Replacing an input image makes its edit line new work; the other lines stay done."""
    batch = write_lines(tmp_path / "prompts" / "batch.jsonl",
                        {"prompt": "a red fox"},
                        {"prompt": "a gift basket", "images": ["otter.png"]})
    assert cli("batch", str(batch), "-d", "out", "--quality", "low").exit_code == 0
    assert cli("batch", str(batch), "-d", "out", "--quality", "low").exit_code == 0
    assert len(emulator.api_requests()) == 2
    save(inputs["otter"], photo(colour=(250, 250, 0)))
    result = cli("batch", str(batch), "-d", "out", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert [r.path for r in emulator.api_requests()[2:]] == ["/images/edits"]


def test_dry_run_shows_the_multipart_parts(cli, emulator, inputs, tmp_path: Path) -> None:
    """--dry-run lists an edit's form fields and each file part's size and SHA-256."""
    write_lines(tmp_path / "prompts" / "batch.jsonl",
                {"prompt": "a flamingo", "images": "otter.png", "mask": "mask.png",
                 "quality": "low"})
    result = cli("batch", "prompts/batch.jsonl", "--dry-run")
    assert result.exit_code == 0, result.stderr
    [item] = json.loads(result.stdout)["items"]
    assert item["endpoint"] == "images/edits"
    parts = item["request"]["multipart"]
    assert parts["prompt"] == "a flamingo"
    assert [f["field"] for f in parts["files"]] == ["image[]", "mask"]
    assert emulator.api_requests() == []
