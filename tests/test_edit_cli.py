"""``vibeimg edit`` end to end against the emulator: the parts it sends, what it refuses."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from pictures import alpha_mask, alpha_of, bw_mask, encoded, photo, save, with_dimensions
from PIL import Image

from vibeimg.errors import ExitCode


@pytest.fixture
def shots(tmp_path: Path) -> dict[str, Path]:
    """Input files in the CLI's working folder."""
    return {
        "otter": save(tmp_path / "otter.png", photo()),
        "soap": save(tmp_path / "soap.jpg", photo(colour=(10, 10, 200))),
        "candle": save(tmp_path / "candle.webp", photo(colour=(10, 200, 10))),
        "mask": save(tmp_path / "mask.png", alpha_mask()),
        "bw": save(tmp_path / "scribble.png", bw_mask()),
    }


def test_edit_sends_every_image_as_image_array_parts(cli, emulator, shots, tmp_path) -> None:
    """Three inputs: three image[] parts with the files' names, types and exact bytes."""
    result = cli("edit", "a gift basket", "-i", "otter.png", "-i", "soap.jpg",
                 "-i", "candle.webp", "--size", "1024x1024", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-gift-basket.png\n"
    assert Image.open(tmp_path / "a-gift-basket.png").size == (1024, 1024)
    [sent] = emulator.api_requests()
    assert sent.path == "/images/edits"
    assert sent.files["image[]"] == [
        ("otter.png", "image/png", shots["otter"].read_bytes()),
        ("soap.jpg", "image/jpeg", shots["soap"].read_bytes()),
        ("candle.webp", "image/webp", shots["candle"].read_bytes()),
    ]
    assert "mask" not in sent.files
    assert {k: v[0] for k, v in sent.form.items()} == {
        "model": "gpt-image-2", "prompt": "a gift basket", "size": "1024x1024",
        "quality": "low", "output_format": "png", "response_format": "b64_json",
    }


def test_masked_edit_sends_the_mask_part(cli, emulator, shots) -> None:
    """--mask adds a 'mask' part with the mask's bytes."""
    result = cli("edit", "a flamingo", "-i", "otter.png", "--mask", "mask.png")
    assert result.exit_code == 0, result.stderr
    [sent] = emulator.api_requests()
    assert sent.files["mask"] == [("mask.png", "image/png", shots["mask"].read_bytes())]
    assert sent.status == 200


def test_sidecar_records_inputs_and_mask(cli, shots, tmp_path) -> None:
    """The sidecar lists each input and the mask with path, size and SHA-256."""
    assert cli("edit", "a flamingo", "-i", "otter.png", "-i", "soap.jpg", "--mask",
               "mask.png", "-o", "out.png").exit_code == 0
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["endpoint"] == "images/edits" and record["prompt"] == "a flamingo"
    inputs = {i["path"]: i for i in record["inputs"]}
    assert inputs["otter.png"]["bytes"] == shots["otter"].stat().st_size
    assert inputs["soap.jpg"]["sha256"] == hashlib.sha256(
        shots["soap"].read_bytes()).hexdigest()
    assert record["mask"]["path"] == "mask.png"
    assert record["mask"]["sha256"] == hashlib.sha256(shots["mask"].read_bytes()).hexdigest()
    assert "prompt" not in record["parameters"] and record["parameters"]["model"]


def test_options_of_generate_apply(cli, emulator, shots, tmp_path) -> None:
    """Format, compression, -n, --out-dir and --json work as for generate."""
    result = cli("edit", "winter", "-i", "otter.png", "--format", "webp", "--compression",
                 "30", "-n", "2", "--out-dir", "out", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["command"] == "edit" and len(document["images"]) == 2
    assert sorted(p.name for p in (tmp_path / "out").glob("*.webp")) == [
        "winter-1.webp", "winter-2.webp"]
    assert len(emulator.api_requests()) == 2
    assert emulator.api_requests()[0].form["output_compression"] == ["30"]


def test_image_from_stdin(cli, emulator, shots) -> None:
    """-i - reads one image from stdin."""
    data = shots["candle"].read_bytes()
    result = cli("edit", "winter", "-i", "-", "-i", "otter.png", input=data)
    assert result.exit_code == 0, result.stderr
    assert emulator.api_requests()[0].files["image[]"][0] == ("stdin.webp", "image/webp", data)


def test_dry_run_sends_nothing(cli, emulator, shots) -> None:
    """--dry-run prints the parts (sizes and hashes) and the cost, and sends nothing."""
    result = cli("edit", "winter", "-i", "otter.png", "--mask", "mask.png", "--dry-run")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    files = document["request"]["body"]["files"]
    assert [f["field"] for f in files] == ["image[]", "mask"]
    assert files[0]["sha256"] == hashlib.sha256(shots["otter"].read_bytes()).hexdigest()
    assert document["inputs"][0]["path"] == "otter.png"
    assert emulator.requests == []


def test_offline(cli, shots, tmp_path) -> None:
    """--offline runs the edit against the in-process emulator with no key."""
    result = cli("edit", "winter", "-i", "otter.png", "--mask", "mask.png", "--offline",
                 key=None, connect=False)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "winter.png").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["-i", "missing.png"], "does not exist"),
    (["-i", "notes.png"], "not a png, jpeg or webp file"),
    (["-i", "anim.gif"], "is a GIF file"),
    (["-i", "cut.png"], "truncated or corrupt"),
    (["-i", "bomb.png"], "decompression bomb"),
    (["-i", "huge.png"], "the gateway accepts at most 50.0 MB"),
    (["-i", "otter.png"] * 17, "at most 16"),
    (["-i", "otter.png", "--mask", "scribble.png"], "has no alpha channel"),
    (["-i", "otter.png", "--mask", "small-mask.png"], "32x24 but the first image is 64x48"),
    (["-i", "otter.png", "--mask", "square-mask.png", "--resize-mask"], "aspect ratios differ"),
    (["-i", "otter.png", "--mask", "missing.png"], "does not exist"),
    (["-i", "otter.png", "--size", "100x100"], "invalid size"),
    (["-i", "otter.png", "--compression", "50"], "only applies to jpeg and webp"),
    (["-i", "otter.png", "-o", "-", "--json"], "-o - and --json both write to stdout"),
])
def test_refusals_send_nothing(cli, emulator, shots, tmp_path, args, message) -> None:
    """Each problem is one line, exit code 2, and no request reaches the gateway."""
    (tmp_path / "notes.png").write_text("shopping list")
    save(tmp_path / "anim.gif", photo())
    data = encoded(Image.effect_noise((120, 120), 40))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "bomb.png").write_bytes(with_dimensions(encoded(Image.new("L", (1, 1))),
                                                       30_000, 30_000))
    with (tmp_path / "huge.png").open("wb") as f:
        f.write(data)
        f.truncate(50_000_001)
    save(tmp_path / "small-mask.png", alpha_mask((32, 24)))
    save(tmp_path / "square-mask.png", alpha_mask((48, 48)))
    result = cli("edit", "a hat", *args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert emulator.requests == []
    assert result.stdout == ""


def test_no_alpha_refusal_names_mask_convert(cli, emulator, shots) -> None:
    """The no-alpha refusal names both fixes: mask-convert and --convert-mask."""
    result = cli("edit", "a hat", "-i", "otter.png", "--mask", "scribble.png")
    assert "vibeimg mask-convert scribble.png" in result.stderr
    assert "--convert-mask" in result.stderr


def test_prompt_and_image_cannot_both_come_from_stdin(cli, emulator, shots) -> None:
    """'-' for the prompt and for an image is refused before reading either."""
    result = cli("edit", "-", "-i", "-", input=b"x")
    assert result.exit_code == ExitCode.USAGE and "not both" in result.stderr
    assert emulator.requests == []


def test_image_option_is_required(cli, emulator) -> None:
    """Without -i the command says so, exit 2."""
    result = cli("edit", "a hat")
    assert result.exit_code == ExitCode.USAGE and "--image" in result.stderr


def test_convert_mask_on_the_fly(cli, emulator, shots) -> None:
    """--convert-mask sends an alpha mask made from the drawing, and says so on stderr."""
    result = cli("edit", "a hat", "-i", "otter.png", "--mask", "scribble.png",
                 "--convert-mask")
    assert result.exit_code == 0, result.stderr
    assert "converted to an alpha mask" in result.stderr
    name, media, data = emulator.api_requests()[0].files["mask"][0]
    assert (name, media) == ("scribble.png", "image/png")
    assert Image.open(io.BytesIO(data)).mode == "RGBA"
    assert alpha_of(data) == bw_mask().tobytes()


def test_resize_mask(cli, emulator, shots, tmp_path) -> None:
    """--resize-mask scales a half-size mask and says so."""
    save(tmp_path / "half.png", alpha_mask((32, 24)))
    result = cli("edit", "a hat", "-i", "otter.png", "--mask", "half.png", "--resize-mask")
    assert result.exit_code == 0, result.stderr
    assert "resized from 32x24 to 64x48" in result.stderr
    sent = Image.open(io.BytesIO(emulator.api_requests()[0].files["mask"][0][2]))
    assert sent.size == (64, 48)


def test_jpeg_with_mask_is_sent_as_png(cli, emulator, shots) -> None:
    """A jpeg first image with a mask goes out as PNG with the same pixels, said on stderr."""
    result = cli("edit", "a hat", "-i", "soap.jpg", "--mask", "mask.png")
    assert result.exit_code == 0, result.stderr
    assert "re-encoded from jpeg to png" in result.stderr
    name, media, data = emulator.api_requests()[0].files["image[]"][0]
    assert (name, media) == ("soap.png", "image/png")
    sent = Image.open(io.BytesIO(data))
    assert sent.format == "PNG"
    assert sent.convert("RGB").tobytes() == Image.open(shots["soap"]).convert("RGB").tobytes()


@pytest.mark.parametrize(("fill", "warning"), [((0, 0, 0, 255), "fully opaque"),
                                               ((0, 0, 0, 0), "fully transparent")])
def test_degenerate_masks_warn_but_send(cli, emulator, shots, tmp_path, fill, warning) -> None:
    """A mask that repaints nothing or everything is sent with a warning."""
    save(tmp_path / "flat.png", Image.new("RGBA", (64, 48), fill))
    result = cli("edit", "a hat", "-i", "otter.png", "--mask", "flat.png")
    assert result.exit_code == 0, result.stderr
    assert f"warning: the mask is {warning}" in result.stderr
    assert len(emulator.api_requests()) == 1


def test_quiet_silences_notes(cli, emulator, shots) -> None:
    """--quiet drops the conversion notes; the edit still happens."""
    result = cli("edit", "a hat", "-i", "soap.jpg", "--mask", "mask.png", "--quiet")
    assert result.exit_code == 0 and result.stderr == ""


def test_mask_convert_output_is_accepted_by_edit(cli, emulator, shots, tmp_path) -> None:
    """Round trip: a mask made by mask-convert is sent by edit unchanged."""
    converted = cli("mask-convert", "scribble.png", "alpha.png")
    assert converted.exit_code == 0, converted.stderr
    result = cli("edit", "a hat", "-i", "otter.png", "--mask", "alpha.png")
    assert result.exit_code == 0, result.stderr
    [sent] = emulator.api_requests()
    assert sent.status == 200
    assert sent.files["mask"][0][2] == (tmp_path / "alpha.png").read_bytes()
    assert "warning" not in result.stderr


def test_fix_commands_quote_a_name_with_spaces(cli, tmp_path: Path) -> None:
    """The suggested mask-convert line can be pasted as it is, spaces and all."""
    save(tmp_path / "otter.png", photo())
    save(tmp_path / "my scribble.png", bw_mask())
    result = cli("edit", "a hat", "-i", "otter.png", "--mask", "my scribble.png")
    assert result.exit_code == 2
    assert "vibeimg mask-convert 'my scribble.png'" in result.stderr


def test_a_retried_edit_sends_the_files_again_whole(make_cli, tmp_path) -> None:
    """Inputs stream from their files: a 503 retried, and -n 2, each send every byte."""
    otter = save(tmp_path / "otter.png", photo())
    soap = save(tmp_path / "soap.jpg", photo(colour=(0, 0, 200)), "JPEG")
    cli = make_cli(faults=["503"])
    result = cli("edit", "a basket", "-i", "otter.png", "-i", "soap.jpg", "-n", "2",
                 "--out-dir", "out")
    assert result.exit_code == 0, result.stderr
    sent = cli.emulator.api_requests()
    assert [r.status for r in sent].count(503) == 1 and len(sent) == 3
    for request in (r for r in sent if r.status == 200):
        assert request.files["image[]"] == [("otter.png", "image/png", otter.read_bytes()),
                                            ("soap.jpg", "image/jpeg", soap.read_bytes())]
