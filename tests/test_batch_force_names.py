"""``batch --force`` with items that would share a file name: refused before anything is
sent, never replacing an image of the same batch, and a finished batch never bought again."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from vibeimg.errors import ExitCode


def write_lines(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def images(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".png", ".jpg"))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def sidecar_lines(folder: Path) -> list[int]:
    return sorted(json.loads(p.read_text())["batch"]["line"] for p in folder.glob("*.json")
                  if p.name != "vibeimg-manifest.jsonl")


def test_force_refuses_lines_saved_under_one_name(cli, emulator, tmp_path: Path) -> None:
    """24 lines of one name: --force refused (exit 2, one line); without it 24 kept for good."""
    write_lines(tmp_path / "p.jsonl",
                *({"prompt": f"shot {i}", "output": "same.{ext}"} for i in range(24)))
    result = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", "--force")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: line 1 and line 2 would both be saved as out/same.png")
    assert "nothing was sent" in line and "{n} or {line}" in line and "drop --force" in line
    assert "same-2.png" in line
    assert emulator.api_requests() == []
    assert not (tmp_path / "out").exists() or images(tmp_path / "out") == []
    dry = cli("batch", "p.jsonl", "-d", "out", "--force", "--dry-run")
    assert dry.exit_code == ExitCode.USAGE and len(error_lines(dry.stderr)) == 1
    assert emulator.api_requests() == []
    # As the error says: without --force, the second is same-2, and so on.
    first = cli("batch", "p.jsonl", "-d", "out", "--quality", "low")
    assert first.exit_code == 0, first.stderr
    assert len(emulator.api_requests()) == 24
    out = tmp_path / "out"
    assert len(images(out)) == 24 and sidecar_lines(out) == list(range(1, 25))
    before = {name: (out / name).read_bytes() for name in images(out)}
    for extra in (["--force"], [], ["--force"]):  # nothing left to send: nothing refused
        again = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", *extra)
        assert again.exit_code == 0, again.stderr
        assert json.loads(again.stdout)["skipped"] == 24
    assert len(emulator.api_requests()) == 24
    assert {name: (out / name).read_bytes() for name in images(out)} == before


def test_force_refuses_templates_alike_but_for_date_and_time(cli, emulator,
                                                              tmp_path: Path) -> None:
    """-o names that differ only by {time} or by a prompt's punctuation are refused with --force."""
    (tmp_path / "p.txt").write_text("a fox\nA fox!\na heron\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", "-o", "{slug}.{ext}", "--force")
    assert result.exit_code == ExitCode.USAGE
    assert error_lines(result.stderr) == [line for line in result.stderr.splitlines() if line]
    assert "line 1 and line 2 would both be saved as out/a-fox.png" in result.stderr
    timed = cli("batch", "p.txt", "-d", "out", "-o", "{date}/shot-{time}.{ext}", "--force")
    assert timed.exit_code == ExitCode.USAGE
    assert "line 1 and line 2 would both be saved as out/{date}/shot-{time}.png" in timed.stderr
    assert emulator.api_requests() == []
    fine = cli("batch", "p.txt", "-d", "out", "-o", "{line}-{slug}.{ext}", "--force",
               "--quality", "low")
    assert fine.exit_code == 0, fine.stderr
    assert len(emulator.api_requests()) == 3
    assert images(tmp_path / "out") == ["0001-a-fox.png", "0002-a-fox.png", "0003-a-heron.png"]


def test_force_never_replaces_a_finished_items_image(cli, emulator, tmp_path: Path) -> None:
    """A --force rerun remaking one item leaves another item's finished image alone."""
    lines = [{"prompt": "a fox", "output": "same.{ext}"},
             {"prompt": "a heron", "output": "same.{ext}"},
             {"prompt": "a cat", "output": "same-2.{ext}"}]
    write_lines(tmp_path / "p.jsonl", *lines)
    first = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", "-c", "1")
    assert first.exit_code == 0, first.stderr
    out = tmp_path / "out"
    assert images(out) == ["same-2-2.png", "same-2.png", "same.png"]
    kept = {name: (out / name).read_bytes() for name in ("same.png", "same-2.png")}
    (out / "same-2-2.png").unlink()  # line 3's image, to be made again
    again = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", "--force")
    assert again.exit_code == 0, again.stderr
    assert len(emulator.api_requests()) == 4
    assert {name: (out / name).read_bytes() for name in kept} == kept
    assert images(out) == ["same-2-2.png", "same-2.png", "same.png"]
    assert sidecar_lines(out) == [1, 2, 3]
    for extra in (["--force"], []):
        rerun = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", *extra)
        assert rerun.exit_code == 0, rerun.stderr
        assert json.loads(rerun.stdout)["skipped"] == 3
    assert len(emulator.api_requests()) == 4


def test_force_never_replaces_an_image_of_its_own_run(make_cli, tmp_path: Path) -> None:
    """Names alike only once the answers came (JPEG for a png asked) get -2 under --force."""
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(picture, "JPEG")
    (tmp_path / "fixed.jpg").write_bytes(picture.getvalue())
    cli = make_cli(image_file=tmp_path / "fixed.jpg")
    write_lines(tmp_path / "p.jsonl",
                {"prompt": "a fox", "output": "same.{ext}"},
                {"prompt": "a heron", "output": "same.jpg", "format": "jpeg"})
    first = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", "--force", "-c", "1")
    assert first.exit_code == 0, first.stderr
    out = tmp_path / "out"
    assert images(out) == ["same-2.jpg", "same.jpg"]
    assert sidecar_lines(out) == [1, 2]
    assert len(cli.emulator.api_requests()) == 2
    rerun = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", "--force")
    assert rerun.exit_code == 0, rerun.stderr
    assert "warning" not in rerun.stderr
    assert len(cli.emulator.api_requests()) == 2


def png(colour: str) -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(picture, "PNG")
    return picture.getvalue()


def test_an_image_forced_into_its_old_name_and_not_recorded_is_found(make_cli,
                                                                     tmp_path: Path) -> None:
    """Remade by --force over its changed file, killed before recording it: not bought again."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    args = ("batch", "p.txt", "-d", "out", "-o", "fox.{ext}", "--quality", "low")
    (tmp_path / "first.png").write_bytes(png("orange"))
    (tmp_path / "second.png").write_bytes(png("navy"))
    first, second = (make_cli(image_file=tmp_path / f"{n}.png") for n in ("first", "second"))
    assert first(*args).exit_code == 0
    out = tmp_path / "out"
    with (out / "fox.png").open("ab") as image:
        image.write(b"changed by hand")
    remade = second(*args, "--force")
    assert remade.exit_code == 0, remade.stderr
    assert (out / "fox.png").read_bytes() == png("navy") and images(out) == ["fox.png"]
    manifest = out / "vibeimg-manifest.jsonl"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    last_item = max(i for i, line in enumerate(lines) if json.loads(line)["type"] == "item")
    del lines[last_item]  # as if the run had been killed before writing it
    manifest.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    rerun = second(*args)
    assert rerun.exit_code == 0, rerun.stderr
    assert len(second.emulator.api_requests()) == 1
    assert json.loads(rerun.stdout)["skipped"] == 1
    assert (out / "fox.png").read_bytes() == png("navy") and images(out) == ["fox.png"]
    assert second(*args).exit_code == 0 and len(second.emulator.api_requests()) == 1
