"""``vibeimg mask-convert`` from the command line: outputs, reports, refusals, many files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pictures import alpha_mask, bw_mask, encoded, grey_row, photo, save, with_dimensions
from PIL import Image
from typer.testing import CliRunner

from tests.conftest import Result
from vibeimg.cli.app import app
from vibeimg.errors import ExitCode


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run vibeimg in tmp_path with no emulator (mask-convert is local)."""
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: bytes | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=input, prog_name="vibeimg")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)

    return invoke


def rgba(path: Path) -> Image.Image:
    image = Image.open(path)
    assert image.format == "PNG" and image.mode == "RGBA"
    return image


def test_default_output_beside_the_input(run, tmp_path) -> None:
    """One input: INPUT-alpha.png beside it, its path on stdout, a report on stderr."""
    save(tmp_path / "scribble.png", bw_mask())
    result = run("mask-convert", "scribble.png")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "scribble-alpha.png\n"
    assert "scribble.png -> scribble-alpha.png: 64x48, 25.0% to repaint" in result.stderr
    image = rgba(tmp_path / "scribble-alpha.png")
    assert image.getchannel("A").tobytes() == bw_mask().tobytes()


def test_named_output(run, tmp_path) -> None:
    """INPUT OUTPUT writes OUTPUT."""
    save(tmp_path / "s.jpg", bw_mask(), quality=95)
    result = run("mask-convert", "s.jpg", "out/mask.png")
    assert result.exit_code == ExitCode.USAGE  # the folder does not exist
    (tmp_path / "out").mkdir()
    result = run("mask-convert", "s.jpg", "out/mask.png")
    assert result.exit_code == 0, result.stderr
    assert rgba(tmp_path / "out" / "mask.png").size == (64, 48)


def test_never_overwrites_without_force(run, tmp_path) -> None:
    """An existing output is refused, untouched; --force replaces it."""
    save(tmp_path / "s.png", bw_mask())
    (tmp_path / "mask.png").write_bytes(b"precious")
    result = run("mask-convert", "s.png", "mask.png")
    assert result.exit_code == ExitCode.USAGE
    assert "mask.png already exists" in result.stderr and "--force" in result.stderr
    assert "--out-dir" in result.stderr  # two paths may have meant two inputs
    assert (tmp_path / "mask.png").read_bytes() == b"precious"
    assert "-o mask.png --force" in result.stderr  # the way to replace it, spelled out
    assert run("mask-convert", "s.png", "-o", "mask.png", "--force").exit_code == 0
    rgba(tmp_path / "mask.png")


@pytest.mark.parametrize("args", [["dir.png"], ["dir.png", "--force"],
                                  ["-o", "dir.png", "--force"]])
def test_a_folder_at_the_output_name_is_a_usage_error(run, tmp_path, args) -> None:
    """A folder where the mask would go: one line naming it and --out-dir, exit 2, the
    folder untouched (not a failed write, exit 8, after the work was done)."""
    save(tmp_path / "s.png", bw_mask())
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "dir.png" / "keep.txt").write_text("x")
    result = run("mask-convert", "s.png", *args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stderr == ("error: dir.png is a folder, not a file the mask can replace "
                             "(name a file, or save into the folder with --out-dir)\n")
    assert sorted(p.name for p in (tmp_path / "dir.png").iterdir()) == ["keep.txt"]


def test_force_never_overwrites_what_may_be_a_second_input(run, tmp_path) -> None:
    """mask-convert a.png b.png --force: b.png, an existing image, may be a second input,
    so it is left untouched (exit 2) until it is named the output with -o."""
    save(tmp_path / "a.png", bw_mask())
    save(tmp_path / "b.png", bw_mask())
    before = (tmp_path / "b.png").read_bytes()
    result = run("mask-convert", "a.png", "b.png", "--force")
    assert result.exit_code == ExitCode.USAGE
    assert "b.png is an existing image" in result.stderr
    assert "vibeimg mask-convert a.png -o b.png --force" in result.stderr
    assert "--out-dir" in result.stderr
    assert (tmp_path / "b.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]
    result = run("mask-convert", "a.png", "-o", "b.png", "--force")
    assert result.exit_code == 0, result.stderr
    assert rgba(tmp_path / "b.png").mode == "RGBA"
    assert run("mask-convert", "a.png", "b.png", "-o", "c.png").exit_code == ExitCode.USAGE


def test_invert_and_threshold(run, tmp_path) -> None:
    """--invert and --threshold shape the alpha channel."""
    save(tmp_path / "g.png", grey_row([0, 100, 200, 255]))
    assert run("mask-convert", "g.png", "inv.png", "--invert").exit_code == 0
    assert list(rgba(tmp_path / "inv.png").getchannel("A").tobytes()) == [255, 155, 55, 0]
    assert run("mask-convert", "g.png", "hard.png", "-t", "150").exit_code == 0
    assert list(rgba(tmp_path / "hard.png").getchannel("A").tobytes()) == [0, 0, 255, 255]


def test_threshold_out_of_range_is_refused(run, tmp_path) -> None:
    """--threshold takes 0 to 255."""
    save(tmp_path / "g.png", bw_mask())
    assert run("mask-convert", "g.png", "--threshold", "300").exit_code == ExitCode.USAGE


def test_match_resizes_to_the_image(run, tmp_path) -> None:
    """--match IMAGE resizes the mask to IMAGE's dimensions, nearest neighbour."""
    save(tmp_path / "s.png", bw_mask((32, 24)))
    save(tmp_path / "photo.jpg", photo((128, 96)))
    result = run("mask-convert", "s.png", "--match", "photo.jpg")
    assert result.exit_code == 0, result.stderr
    image = rgba(tmp_path / "s-alpha.png")
    assert image.size == (128, 96) and set(image.getchannel("A").tobytes()) == {0, 255}
    assert "resized from 32x24" in result.stderr


def test_a_sideways_mask_matches_a_sideways_photo(run, tmp_path) -> None:
    """Both stored sideways with an EXIF turn: --match takes the photo as shown, and the
    mask is turned upright, so edit accepts the pair."""
    exif = Image.Exif()
    exif[0x0112] = 6
    turn = Image.Transpose.ROTATE_90
    save(tmp_path / "photo.jpg", photo((128, 96)).transpose(turn), exif=exif.tobytes())
    save(tmp_path / "scribble.jpg", bw_mask((64, 48)).transpose(turn), quality=95,
         exif=exif.tobytes())
    result = run("mask-convert", "scribble.jpg", "--match", "photo.jpg")
    assert result.exit_code == 0, result.stderr
    assert rgba(tmp_path / "scribble-alpha.png").size == (128, 96)
    assert "turned upright as its EXIF orientation says" in result.stderr


def test_match_refuses_another_aspect_ratio(run, tmp_path) -> None:
    """--match with another shape is refused and nothing is written."""
    save(tmp_path / "s.png", bw_mask((32, 32)))
    save(tmp_path / "photo.png", photo((128, 96)))
    result = run("mask-convert", "s.png", "--match", "photo.png")
    assert result.exit_code == ExitCode.USAGE and "aspect ratios differ" in result.stderr
    assert not (tmp_path / "s-alpha.png").exists()


def test_alpha_input_is_reported_and_kept(run, tmp_path) -> None:
    """An input with an alpha channel keeps it, and the report says so; --from-grey not."""
    mask = alpha_mask()
    save(tmp_path / "a.png", mask)
    result = run("mask-convert", "a.png", "kept.png")
    assert result.exit_code == 0 and "already has an alpha channel" in result.stderr
    assert rgba(tmp_path / "kept.png").tobytes() == mask.tobytes()
    assert run("mask-convert", "a.png", "grey.png", "--from-grey").exit_code == 0
    assert set(rgba(tmp_path / "grey.png").getchannel("A").tobytes()) == {0}


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_mode_gives_an_rgba_png(run, tmp_path, mode) -> None:
    """Whatever the input mode, the output is an RGBA PNG of the same size."""
    source = bw_mask()
    image = source.convert("I").convert(mode) if mode == "I;16" else source.convert(mode)
    save(tmp_path / "m.png", image)
    result = run("mask-convert", "m.png", "out.png")
    assert result.exit_code == 0, result.stderr
    assert rgba(tmp_path / "out.png").size == (64, 48)


def test_stdin_to_stdout(run, tmp_path) -> None:
    """'-' reads the mask from stdin and writes the PNG bytes to stdout."""
    result = run("mask-convert", "-", input=encoded(bw_mask()))
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"\x89PNG")
    assert "stdin -> stdout" in result.stderr
    (tmp_path / "o.png").write_bytes(result.stdout_bytes)
    rgba(tmp_path / "o.png")


def test_file_to_stdout(run, tmp_path) -> None:
    """OUTPUT '-' writes the bytes to stdout."""
    save(tmp_path / "s.png", bw_mask())
    result = run("mask-convert", "s.png", "-")
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"\x89PNG")


def test_corrupt_input_is_one_line_and_leaves_nothing(run, tmp_path) -> None:
    """A truncated input: one error line, exit 2, no output or temporary file."""
    data = encoded(Image.effect_noise((100, 100), 40))
    (tmp_path / "cut.png").write_bytes(data[:300])
    result = run("mask-convert", "cut.png")
    assert result.exit_code == ExitCode.USAGE
    assert "truncated or corrupt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.png"]


def test_several_inputs_need_out_dir(run, tmp_path) -> None:
    """More than INPUT OUTPUT without --out-dir is refused."""
    for name in "abc":
        save(tmp_path / f"{name}.png", bw_mask())
    result = run("mask-convert", "a.png", "b.png", "c.png")
    assert result.exit_code == ExitCode.USAGE and "--out-dir" in result.stderr


def make_masks(folder: Path, count: int) -> list[str]:
    folder.mkdir(exist_ok=True)
    names = []
    for i in range(count):
        image = Image.new("L", (40, 30), 255)
        image.paste(0, (0, 0, i + 1, 30))
        names.append(str(save(folder / f"m{i:02}.png", image)))
    return names


def test_out_dir_converts_many_in_parallel(run, tmp_path) -> None:
    """Many inputs with --out-dir: every output correct, paths in input order."""
    inputs = make_masks(tmp_path / "in", 9)
    result = run("mask-convert", *inputs, "--out-dir", "out", "--jobs", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"out/m{i:02}.png" for i in range(9)]
    for i in range(9):
        alpha = rgba(tmp_path / "out" / f"m{i:02}.png").getchannel("A")
        assert alpha.histogram()[0] == (i + 1) * 30


def test_out_dir_refuses_clobbering_before_any_work(run, tmp_path) -> None:
    """One existing output stops the whole run before anything is written."""
    inputs = make_masks(tmp_path / "in", 5)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "m03.png").write_bytes(b"keep")
    result = run("mask-convert", *inputs, "--out-dir", "out")
    assert result.exit_code == ExitCode.USAGE and "m03.png already exists" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m03.png"]


def test_out_dir_refuses_two_inputs_with_one_name(run, tmp_path) -> None:
    """a/m.png and b/m.jpg would both become out/m.png: refused."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    save(tmp_path / "a" / "m.png", bw_mask())
    save(tmp_path / "b" / "m.jpg", bw_mask())
    result = run("mask-convert", "a/m.png", "b/m.jpg", "--out-dir", "out")
    assert result.exit_code == ExitCode.USAGE and "would both be written" in result.stderr
    assert not (tmp_path / "out").exists()  # a refusal leaves no empty folder behind


@pytest.mark.parametrize("name", ["x4.jpg", "x4.JPEG", "x4.webp"])
def test_an_output_named_as_another_format_is_refused(run, tmp_path, name: str) -> None:
    """The mask is a PNG: writing it as x4.jpg would fool the next program that reads it."""
    save(tmp_path / "scribble.png", bw_mask())
    result = run("mask-convert", "scribble.png", name)
    assert result.exit_code == ExitCode.USAGE
    assert "an alpha mask is always a PNG" in result.stderr and "name it x4.png" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scribble.png"]


def test_out_dir_never_replaces_an_input(run, tmp_path) -> None:
    """Converting into the inputs' own folder refuses to replace a PNG input, even --force."""
    inputs = make_masks(tmp_path / "in", 2)
    result = run("mask-convert", *inputs, "--out-dir", "in", "--force")
    assert result.exit_code == ExitCode.USAGE and "its own output" in result.stderr


def test_some_failures_give_partial_success(run, tmp_path) -> None:
    """One bad file among many: the others are written, exit 7, the failure named."""
    inputs = make_masks(tmp_path / "in", 5)
    Path(inputs[2]).write_bytes(b"not an image")
    result = run("mask-convert", *inputs, "--out-dir", "out", "--json")
    assert result.exit_code == ExitCode.PARTIAL
    document = json.loads(result.stdout)
    assert len(document["masks"]) == 4
    assert document["failures"][0]["input"].endswith("m02.png")
    assert "not an image Pillow can read" in result.stderr
    assert not (tmp_path / "out" / "m02.png").exists()


def test_json_document(run, tmp_path) -> None:
    """--json: one document with the output, its size and the share to repaint."""
    save(tmp_path / "s.png", bw_mask())
    document = json.loads(run("mask-convert", "s.png", "--json").stdout)
    [mask] = document["masks"]
    assert mask["output"] == "s-alpha.png" and mask["repaint"] == 0.25
    assert (mask["width"], mask["height"], mask["input_mode"]) == (64, 48, "L")


def test_degenerate_mask_warns(run, tmp_path) -> None:
    """An all-white drawing converts to a fully opaque mask, with a warning."""
    save(tmp_path / "white.png", Image.new("L", (8, 8), 255))
    result = run("mask-convert", "white.png")
    assert result.exit_code == 0 and "nothing will be repainted" in result.stderr


def test_quiet(run, tmp_path) -> None:
    """--quiet: no report, the path still on stdout."""
    save(tmp_path / "s.png", bw_mask())
    result = run("mask-convert", "s.png", "-q")
    assert result.stderr == "" and result.stdout == "s-alpha.png\n"


def test_pool_works_from_a_threaded_process(cli, tmp_path) -> None:
    """With other threads running (here the emulator), workers are spawned, not forked."""
    assert threading.active_count() > 1
    inputs = make_masks(tmp_path / "in", 4)
    result = cli("mask-convert", *inputs, "--out-dir", "out", "-j", "2")
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "out").iterdir())) == 4


def test_real_process_pipeline(tmp_path) -> None:
    """In a real shell: a mask piped through mask-convert into a file."""
    save(tmp_path / "s.png", bw_mask())
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    subprocess.run(["bash", "-o", "pipefail", "-c",
                    f"cat s.png | {sys.executable} -m vibeimg mask-convert - > m.png"],
                   cwd=tmp_path, env=env, check=True, timeout=60)
    assert rgba(tmp_path / "m.png").getchannel("A").tobytes() == bw_mask().tobytes()


def test_match_with_a_bomb_is_a_usage_error(run, tmp_path) -> None:
    """--match naming a decompression bomb is refused as bad input, not a crash."""
    save(tmp_path / "s.png", bw_mask())
    (tmp_path / "bomb.png").write_bytes(with_dimensions(encoded(Image.new("L", (1, 1))),
                                                       30_000, 30_000))
    result = run("mask-convert", "s.png", "--match", "bomb.png")
    assert result.exit_code == ExitCode.USAGE and "too many pixels" in result.stderr
    # Its size and the one limit vibeimg applies, never Pillow's own other limit.
    assert "(900,000,000; at most 89,478,485 are allowed)" in result.stderr
    assert "178,956,970" not in result.stderr and "178956970" not in result.stderr


@pytest.mark.parametrize("args", [("-",), ("s.png", "-"), ("-", "-")])
def test_stdout_and_json_are_refused_together(run, tmp_path, args) -> None:
    """A mask on stdout and --json: exit 2 before reading anything, nothing written."""
    save(tmp_path / "s.png", bw_mask())
    result = run("mask-convert", *args, "--json", input=encoded(bw_mask()))
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout_bytes == b""
    assert "cannot share it" in result.stderr and "--json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png"]


def test_stdin_with_a_named_output_keeps_json(run, tmp_path) -> None:
    """stdin into a named file: --json still prints its document."""
    result = run("mask-convert", "-", "m.png", "--json", input=encoded(bw_mask()))
    assert result.exit_code == 0, result.stderr
    [mask] = json.loads(result.stdout)["masks"]
    assert mask["input"] == "-" and mask["output"] == "m.png"
    rgba(tmp_path / "m.png")
