"""Names that grow past a file name's 255 bytes only once an image is bought (a field's
value, the -2 of a name taken, the -N of several images): the image is kept under a
name cut to fit, on a whole character, never lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

NAME_MAX = os.pathconf(".", "PC_NAME_MAX")
WATER = "水" * 100  # 300 bytes of UTF-8: its slug is 16 characters, 48 bytes


def saved_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def assert_fits(folder: Path) -> None:
    """Every file fits a name, holds no half character, and nothing temporary stays."""
    for path in folder.rglob("*"):
        raw = os.fsencode(path.name)
        assert len(raw) <= NAME_MAX, path.name
        raw.decode("utf-8")  # a cut in the middle of a character would not decode
        assert not path.name.startswith(".vibeimg-"), path.name


def test_a_name_the_suffix_makes_too_long_is_cut_not_lost(cli, emulator, tmp_path) -> None:
    """A 254-byte name taken: the next image is saved as a cut name with -2, exit 0,
    a notice on stderr; one request, one image bought and kept."""
    name = "a" * (NAME_MAX - 5) + ".png"  # the sidecar, NAME.json, takes all 255
    assert cli("generate", "fox", "-o", name).exit_code == 0
    result = cli("generate", "fox", "-o", name)
    assert result.exit_code == 0, result.stderr
    second = "a" * (NAME_MAX - 7) + "-2.png"
    assert result.stdout == f"{second}\n"
    assert "the name was cut to the 255 bytes a file name holds" in result.stderr
    assert (tmp_path / second).is_file() and (tmp_path / second).with_suffix(".json").is_file()
    assert len(emulator.api_requests()) == 2
    assert_fits(tmp_path)


def test_several_images_keep_their_numbers_when_cut(cli, tmp_path) -> None:
    """-n 3 on a 250-byte name: -1, -2 and -3 stay at the end of the cut names."""
    stem = "b" * (NAME_MAX - 5)
    result = cli("generate", "fox", "-n", "3", "-o", stem + ".png", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(image["path"] for image in document["images"]) == [
        "b" * (NAME_MAX - 7) + f"-{n}.png" for n in (1, 2, 3)]
    assert_fits(tmp_path)


def test_fields_that_make_a_name_too_long_are_cut_on_a_whole_character(cli, tmp_path
                                                                        ) -> None:
    """Six 48-byte Chinese slugs pass the check before sending (the template itself is
    short) but come to 297 bytes: the image is kept, its name cut between characters."""
    result = cli("generate", WATER, "-o", "{slug}-{slug}-{slug}-{slug}-{slug}-{slug}.{ext}")
    assert result.exit_code == 0, result.stderr
    [path] = result.stdout.splitlines()
    assert path.endswith("水.png") and path.startswith("水" * 16 + "-")
    assert len(os.fsencode(Path(path).with_suffix(".json").name)) <= NAME_MAX
    assert (tmp_path / path).is_file()
    assert_fits(tmp_path)


def test_a_folder_a_field_makes_too_long_is_cut(cli, tmp_path) -> None:
    """A folder of six slugs (288 bytes) cannot be made as it is: it is cut to fit and
    the image saved in it, where before it was bought and lost."""
    result = cli("generate", WATER, "-o", "{slug}{slug}{slug}{slug}{slug}{slug}/x.png")
    assert result.exit_code == 0, result.stderr
    [path] = result.stdout.splitlines()
    folder, name = path.split("/")
    assert name == "x.png" and folder == "水" * 85  # 255 bytes
    assert (tmp_path / path).is_file() and (tmp_path / folder / "x.json").is_file()
    assert_fits(tmp_path)


def test_a_name_without_a_sidecar_is_cut_to_its_own_length(cli, tmp_path) -> None:
    """--no-sidecar: only the image's own name must fit (a .webp takes five bytes)."""
    template = "c" * 246 + "{quality}.{ext}"  # medium: 252 bytes before .webp
    result = cli("generate", "fox", "-o", template, "--format", "webp", "--quality", "medium",
                 "--no-sidecar")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "c" * 246 + "medi.webp\n"
    assert saved_names(tmp_path) == ["c" * 246 + "medi.webp"]


def test_no_sidecar_takes_a_literal_name_of_255_bytes(cli, emulator, tmp_path) -> None:
    """--no-sidecar with a literal -o name of 252 to 255 bytes: the image alone fits, so it
    is saved under that very name (no room kept for a .json that is never written)."""
    for length in (252, 255):
        name = "d" * (length - 4) + ".png"
        result = cli("generate", "fox", "-o", name, "--no-sidecar")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"{name}\n"
    assert saved_names(tmp_path) == ["d" * 248 + ".png", "d" * 251 + ".png"]
    assert len(emulator.api_requests()) == 2


def test_a_literal_name_whose_sidecar_cannot_fit_is_still_refused(cli, emulator) -> None:
    """With a sidecar, a 255-byte literal name is refused before sending: its NAME.json
    would be 256 bytes."""
    result = cli("generate", "fox", "-o", "d" * 251 + ".png")
    assert result.exit_code == 2
    assert "at least 256 bytes" in result.stderr
    assert emulator.api_requests() == []
