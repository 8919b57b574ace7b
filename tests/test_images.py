"""Naming, sniffing and atomic writing of image files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pictures import encoded, photo, save

from vibeimg.errors import BadResponseError, UsageError
from vibeimg.files.atomic import AtomicFile
from vibeimg.files.formats import pixel_size, sniff_format
from vibeimg.files.naming import NamePlan, slugify
from vibeimg.files.sidecars import commit_image, pending_path

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


@pytest.mark.parametrize(
    ("head", "fmt"),
    [(PNG, "png"), (b"\xff\xd8\xff\xe0rest", "jpeg"), (b"RIFF\0\0\0\0WEBPVP8 ", "webp"),
     (b"GIF89a..", "gif"), (b"<html>", None), (b"", None)],
)
def test_sniff_format(head: bytes, fmt: str | None) -> None:
    """The format comes from the magic bytes, not from any name."""
    assert sniff_format(head) == fmt


@pytest.mark.parametrize(
    ("prompt", "slug"),
    [("A red fox, at dawn!", "a-red-fox-at-dawn"), ("Café crème", "café-crème"),
     ("一只猫", "一只猫"), ("x" * 100, "x" * 48)],
)
def test_slugify(prompt: str, slug: str) -> None:
    """Slugs are short, lowercase where the script has case, and keep the prompt's letters."""
    assert slugify(prompt) == slug


@pytest.mark.parametrize(
    ("output", "count", "template", "literal"),
    [(None, 1, "{slug}.{ext}", None), (None, 3, "{slug}-{n}.{ext}", None),
     ("out.png", 1, "out.{ext}", "png"), ("out.JPG", 1, "out.{ext}", "jpeg"),
     ("out", 1, "out.{ext}", None), ("out.png", 2, "out-{n}.{ext}", "png"),
     ("{date}-{n}.{ext}", 2, "{date}-{n}.{ext}", None),
     ("{size}.{format}", 1, "{size}.{format}", None),
     ("{size}.{format}", 2, "{size}-{n}.{format}", None)],
)
def test_name_plan_templates(output, count, template, literal) -> None:
    """-o gains {ext} (the real format decides) and {n} when several images are asked."""
    plan = NamePlan.build(output, None, count=count)
    assert plan.template == template and plan.literal_format == literal


@pytest.mark.parametrize(
    ("output", "fmt", "name"),
    [("out.jpeg", "jpeg", "out.jpeg"), ("out.JPG", "jpeg", "out.JPG"),
     ("out.jpeg", "png", "out.png"), ("out.png", "png", "out.png"),
     ("{slug}.{format}", "jpeg", "fox.jpeg"), ("{slug}.{ext}", "jpeg", "fox.jpg")],
)
def test_an_extension_as_written_is_kept_when_the_format_matches(
        tmp_path: Path, output: str, fmt: str, name: str) -> None:
    """-o out.jpeg of a JPEG stays out.jpeg; of a PNG it becomes out.png."""
    plan = NamePlan.build(output, tmp_path, count=1)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(encoded(photo((8, 8)), fmt.upper()))
        path, _, _ = commit_image(tmp, plan, {"slug": "fox"}, sidecar=None)
    assert path.name == name


def test_name_plan_folder_parts(tmp_path: Path) -> None:
    """A folder in -o goes under --out-dir."""
    plan = NamePlan.build("sub/x.png", tmp_path, count=1)
    assert plan.directory == tmp_path / "sub" and plan.template == "x.{ext}"


def test_unknown_template_field() -> None:
    """A typo in a template field is refused with the list of fields."""
    with pytest.raises(UsageError) as caught:
        NamePlan.build("{slgu}.png", None, count=1)
    assert "{slug}" in caught.value.one_line()


def test_commit_picks_a_free_name_and_keeps_existing_files(tmp_path: Path) -> None:
    """An existing image or sidecar name is never replaced; -2 is used instead."""
    (tmp_path / "fox.png").write_bytes(b"old")
    (tmp_path / "fox-2.json").write_text("{}")
    plan = NamePlan.build(None, tmp_path, count=1)
    tmp = AtomicFile(tmp_path)
    tmp.write(PNG)
    path, fmt, side = commit_image(tmp, plan, {"slug": "fox"}, sidecar=record)
    assert path == tmp_path / "fox-3.png" and fmt == "png"
    assert side == tmp_path / "fox-3.json"
    assert json.loads(side.read_text()) == {"file": "fox-3.png", "format": "png"}
    assert (tmp_path / "fox.png").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fox-2.json", "fox-3.json", "fox-3.png", "fox.png"]


def record(path: Path, fmt: str) -> dict[str, str]:
    return {"file": path.name, "format": fmt}


def test_the_sidecar_lands_before_the_image(tmp_path: Path) -> None:
    """While the sidecar is written the whole image waits under its pending name."""
    plan = NamePlan.build(None, tmp_path, count=1)
    seen: list[list[str]] = []

    def watching(path: Path, fmt: str) -> dict[str, str]:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        return record(path, fmt)

    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        path, _, _ = commit_image(tmp, plan, {"slug": "fox"}, sidecar=watching)
    assert seen == [[pending_path(path).name]] == [[".vibeimg-fox.png.part"]]
    assert path.read_bytes() == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox.json", "fox.png"]


def test_without_sidecar_only_the_image_is_written(tmp_path: Path) -> None:
    """``--no-sidecar``: an existing sidecar of the same name does not move the image."""
    (tmp_path / "fox.json").write_text("{}")
    plan = NamePlan.build(None, tmp_path, count=1)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        assert commit_image(tmp, plan, {"slug": "fox"}, sidecar=None) == (
            tmp_path / "fox.png", "png", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox.json", "fox.png"]


def test_force_replaces_the_image_and_its_sidecar(tmp_path: Path) -> None:
    """``--force`` writes over both files of the name, leaving no temporary file."""
    (tmp_path / "fox.png").write_bytes(b"old")
    (tmp_path / "fox.json").write_text('{"file": "fox.png", "vibeimg_version": "0.1.0"}')
    plan = NamePlan.build(None, tmp_path, count=1, force=True)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        commit_image(tmp, plan, {"slug": "fox"}, sidecar=record)
    assert (tmp_path / "fox.png").read_bytes() == PNG
    assert json.loads((tmp_path / "fox.json").read_text())["format"] == "png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fox.json", "fox.png"]


def test_commit_refuses_bytes_that_are_not_an_image(tmp_path: Path) -> None:
    """Bytes that sniff as no image are refused; the caller's discard leaves nothing."""
    plan = NamePlan.build(None, tmp_path, count=1)
    with pytest.raises(BadResponseError), AtomicFile(tmp_path) as tmp:
        tmp.write(b"<html>oops</html>")
        commit_image(tmp, plan, {"slug": "x"}, sidecar=record)
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_has_the_usual_mode(tmp_path: Path) -> None:
    """A finished image gets the umask's mode, not the 0600 of temporary files."""
    umask = os.umask(0o022)
    os.umask(umask)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        path = tmp.commit(tmp_path / "a.png", overwrite=False)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "gif"])
def test_pixel_size_reads_the_header(fmt: str, tmp_path: Path) -> None:
    """WxH of each format, from a file or from bytes in memory."""
    data = encoded(photo((72, 40)), fmt.upper())
    (tmp_path / "image.part").write_bytes(data)
    assert pixel_size(tmp_path / "image.part", fmt) == "72x40"
    assert pixel_size(io.BytesIO(data), fmt) == "72x40"


def test_pixel_size_of_garbage_is_unknown(tmp_path: Path) -> None:
    """Bytes that are not the image they claim to be give None, never an error."""
    (tmp_path / "image.part").write_bytes(PNG)
    assert pixel_size(tmp_path / "image.part", "png") is None
    assert pixel_size(io.BytesIO(b"\xff\xd8\xff" + b"\0" * 40), "jpeg") is None
    assert pixel_size(io.BytesIO(PNG), "tiff") is None


def test_a_png_size_is_read_without_loading_pillow(tmp_path: Path) -> None:
    """PNG keeps its size in its first chunk: no 25 ms of Pillow import for it."""
    save(tmp_path / "wide.png", photo((72, 40)))
    code = ("import sys; from pathlib import Path; from vibeimg.files.formats import pixel_size; "
            "print(pixel_size(Path(sys.argv[1]), 'png'), 'PIL.Image' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "wide.png")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["72x40", "False"]


@pytest.mark.parametrize("other", ['{"name": "my-app"}', "[1, 2]", "not json", ""])
def test_force_never_replaces_a_json_file_that_is_no_sidecar(tmp_path: Path, other: str) -> None:
    """``-o package.png --force`` beside a package.json: the image moves on to -2."""
    (tmp_path / "package.png").write_bytes(b"old")
    (tmp_path / "package.json").write_text(other)
    plan = NamePlan.build("package.png", tmp_path, count=1, force=True)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        path, _, side = commit_image(tmp, plan, {"slug": "x"}, sidecar=record)
    assert (path, side) == (tmp_path / "package-2.png", tmp_path / "package-2.json")
    assert (tmp_path / "package.json").read_text() == other
    assert (tmp_path / "package.png").read_bytes() == b"old"


def test_force_keeps_the_sidecar_of_another_image(tmp_path: Path) -> None:
    """x.png and its x.json exist; --force saving a JPEG as x.jpg must not take x.json."""
    (tmp_path / "x.png").write_bytes(PNG)
    (tmp_path / "x.json").write_text('{"file": "x.png", "vibeimg_version": "0.1.0"}')
    plan = NamePlan.build("x.png", tmp_path, count=1, force=True)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(encoded(photo((8, 8)), "JPEG"))
        path, _, side = commit_image(tmp, plan, {"slug": "x"}, sidecar=record)
    assert (path.name, side.name if side else None) == ("x-2.jpg", "x-2.json")
    assert json.loads((tmp_path / "x.json").read_text())["file"] == "x.png"


def test_force_takes_over_the_sidecar_of_an_image_that_is_gone(tmp_path: Path) -> None:
    """A sidecar whose image was deleted is stale: --force may reuse its name."""
    (tmp_path / "x.json").write_text('{"file": "x.png", "vibeimg_version": "0.1.0"}')
    plan = NamePlan.build("x.jpg", tmp_path, count=1, force=True)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(encoded(photo((8, 8)), "JPEG"))
        path, _, _ = commit_image(tmp, plan, {"slug": "x"}, sidecar=record)
    assert path.name == "x.jpg"
    assert json.loads((tmp_path / "x.json").read_text())["file"] == "x.jpg"


def test_force_without_sidecar_removes_the_replaced_images_sidecar(tmp_path: Path) -> None:
    """--force --no-sidecar over x.png: x.json described the old bytes, so it goes."""
    (tmp_path / "x.png").write_bytes(b"old")
    (tmp_path / "x.json").write_text('{"file": "x.png", "vibeimg_version": "0.1.0"}')
    plan = NamePlan.build("x.png", tmp_path, count=1, force=True)
    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        commit_image(tmp, plan, {"slug": "x"}, sidecar=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


@pytest.mark.parametrize(
    ("output", "directory", "name"),
    [("{model}-{slug}.{ext}", "", "org-model-fox.png"),
     ("out/{quality}/{slug}.{ext}", "out", "low/fox.png"),
     ("{model}/{slug}.{ext}", "", "org-model/fox.png"),
     ("a/b/{slug}.{ext}", "a/b", "fox.png")],
)
def test_fields_fill_folders_but_a_value_never_adds_one(
        output: str, directory: str, name: str) -> None:
    """Fields in folders are rendered; a slash inside a value is not a folder."""
    plan = NamePlan.build(output, None, count=1)
    assert plan.directory == Path(directory)
    assert plan.render({"slug": "fox", "model": "org/model", "quality": "low",
                        "ext": "png"}) == name


@pytest.mark.parametrize("output", ["{slug", "{n:>5}.png", "x}.png", "{{slug}}.png"])
def test_stray_braces_in_the_output_name_are_refused(output: str) -> None:
    """A brace that is not a field would end up in the file name: refused up front."""
    with pytest.raises(UsageError, match="no field"):
        NamePlan.build(output, None, count=1)


def test_an_image_refused_its_name_takes_its_new_sidecar_away(tmp_path: Path) -> None:
    """The sidecar is written before the image is moved into place: if that move fails
    (a folder appeared at the name), the sidecar goes too, never describing nothing."""
    from vibeimg.files import sidecars  # noqa: PLC0415 - the step under test

    (tmp_path / "x.png").mkdir()
    with AtomicFile(tmp_path) as tmp:
        tmp.write(PNG)
        with pytest.raises(IsADirectoryError):
            sidecars._commit_with_sidecar(tmp, tmp_path / "x.png", "png", record, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
    assert not any((tmp_path / "x.png").iterdir())
