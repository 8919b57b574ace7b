"""The size recorded for an image is its own, read from the saved file's header."""

from __future__ import annotations

import json
from pathlib import Path

from pictures import photo, save
from PIL import Image

SMALL = ("--size", "1024x1024", "--quality", "low")


def _sidecar(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_agreeing_sizes_are_recorded_once(cli, tmp_path: Path) -> None:
    """The gateway's size matches the image: size as before, no size_reported."""
    result = cli("generate", "a fox", *SMALL, "--json")
    [image] = json.loads(result.stdout)["images"]
    assert image["size"] == "1024x1024" and "size_reported" not in image
    side = _sidecar(tmp_path / "a-fox.json")
    assert side["size"] == "1024x1024" and "size_reported" not in side


def test_a_disagreeing_gateway_is_kept_as_size_reported(make_cli, tmp_path: Path) -> None:
    """An image of another size than the gateway says: the real WxH, the claim kept apart."""
    served = save(tmp_path / "served.png", photo((320, 240)))
    cli = make_cli(image_file=served)
    result = cli("generate", "a fox", *SMALL, "-o", "fox-{size}.png", "--json")
    assert result.exit_code == 0, result.stderr
    [image] = json.loads(result.stdout)["images"]
    assert (image["path"], image["size"], image["size_reported"]) == (
        "fox-320x240.png", "320x240", "1024x1024")
    assert Image.open(tmp_path / "fox-320x240.png").size == (320, 240)
    side = _sidecar(tmp_path / "fox-320x240.json")
    assert (side["size"], side["size_reported"]) == ("320x240", "1024x1024")
    assert image["estimated_cost_usd"] == 0.006  # priced as the gateway billed it


def test_missing_metadata_records_the_image_size(cli, emulator, tmp_path: Path) -> None:
    """An answer with only created and data: the size comes from the image itself."""
    emulator.add_fault("no-metadata")
    result = cli("generate", "a heron", "--size", "1536x1024", "--quality", "low", "--json")
    assert result.exit_code == 0, result.stderr
    [image] = json.loads(result.stdout)["images"]
    assert image["size"] == "1536x1024" and "size_reported" not in image
    assert image["usage"] is None
    side = _sidecar(tmp_path / "a-heron.json")
    assert side["size"] == "1536x1024" and "size_reported" not in side


def test_edit_records_the_size_of_a_webp(make_cli, tmp_path: Path) -> None:
    """edit saves through the same path: a WebP's size is read from its header too."""
    served = save(tmp_path / "served.webp", photo((400, 304)))
    save(tmp_path / "otter.png", photo())
    cli = make_cli(image_file=served)
    result = cli("edit", "a hat", "-i", "otter.png", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-hat.webp\n"
    side = _sidecar(tmp_path / "a-hat.json")
    assert (side["format"], side["size"], side["size_reported"]) == (
        "webp", "400x304", "1024x1024")


def test_chat_stream_records_the_size_of_the_image_itself(make_cli, tmp_path: Path) -> None:
    """A streamed image of another size than its event says: the same rule as generate."""
    served = save(tmp_path / "served.png", photo((320, 240)))
    cli = make_cli(image_file=served)
    result = cli("chat-stream", "a fox", *SMALL, "--json")
    assert result.exit_code == 0, result.stderr
    [image] = json.loads(result.stdout)["images"]
    assert (image["size"], image["size_reported"]) == ("320x240", "1024x1024")
    side = _sidecar(tmp_path / image["sidecar"])
    assert (side["size"], side["size_reported"]) == ("320x240", "1024x1024")
    assert "(320x240, " in result.stderr  # the saved line shows the real size


def test_chat_stream_agreeing_sizes_are_recorded_once(cli, tmp_path: Path) -> None:
    """The emulator's image matches its event: size only."""
    result = cli("chat-stream", "a fox", *SMALL, "--json")
    [image] = json.loads(result.stdout)["images"]
    assert image["size"] == "1024x1024" and "size_reported" not in image
    assert "size_reported" not in _sidecar(tmp_path / "a-fox.json")
