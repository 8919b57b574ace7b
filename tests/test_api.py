"""The Python API (import vibeimg), called directly against the emulator over loopback."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_KEY
from pictures import grey_row, photo, save
from PIL import Image as PILImage

import vibeimg
from vibeimg.emulator import Emulator
from vibeimg.records.history import History


def _client(emulator: Emulator, tmp_path: Path, **options: object) -> vibeimg.Client:
    return vibeimg.Client(base_url=emulator.base_url, api_key=TEST_KEY, out_dir=tmp_path,
                          **options)  # type: ignore[arg-type]


def test_generate_saves_each_image_with_its_sidecar(emulator: Emulator, tmp_path: Path) -> None:
    """n=2 sends two requests and returns both images, on disk, with what they record."""
    with _client(emulator, tmp_path) as client:
        images = client.generate("a red fox", size="1536x1024", quality="low", n=2)
    assert len(images) == 2 and images.missing == [] and images.error is None
    assert images.status == "completed"
    assert images.paths == [tmp_path / "a-red-fox-1.png", tmp_path / "a-red-fox-2.png"]
    first = images[0]
    assert first.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.bytes == first.path.stat().st_size
    assert first.size == "1536x1024" and first.format == "png" and first.cost_usd == 0.005
    assert {i.request_id for i in images} == {r.request_id for r in emulator.api_requests()}
    assert json.loads(first.sidecar.read_text())["prompt"] == "a red fox"  # type: ignore[union-attr]
    assert images.cost_usd == 0.01
    sent = [r.json() for r in emulator.api_requests()]
    assert len(sent) == 2 and {s["size"] for s in sent} == {"1536x1024"}


def test_some_images_failing_is_a_result_with_missing(emulator: Emulator,
                                                       tmp_path: Path) -> None:
    """One of two requests refused (400): one image returned, the other missing with why."""
    emulator.add_fault("400")
    with _client(emulator, tmp_path) as client:
        images = client.generate("a heron", n=2, concurrency=1)
    assert len(images) == 1 and images[0].path.exists()
    assert images.status == "partial" and isinstance(images.error, vibeimg.PartialFailure)
    [missing] = images.missing
    assert missing.phase == "failed" and isinstance(missing.error, vibeimg.ApiError)
    assert missing.error.exit_code == vibeimg.ExitCode.API


def test_a_run_that_saved_nothing_raises_its_error(emulator: Emulator, tmp_path: Path) -> None:
    """The only request fails with 401: AuthError, carrying the command line's exit code."""
    emulator.add_fault("401")
    with _client(emulator, tmp_path) as client, pytest.raises(vibeimg.AuthError) as caught:
        client.generate("an owl")
    assert caught.value.exit_code == vibeimg.ExitCode.AUTH and caught.value.request_id
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused_before_sending(emulator: Emulator, tmp_path: Path) -> None:
    """An invalid size raises UsageError naming it, and nothing reaches the gateway."""
    with _client(emulator, tmp_path) as client, pytest.raises(vibeimg.UsageError) as caught:
        client.generate("a fox", size="5000x5000")
    assert "5000x5000" in caught.value.one_line()
    assert emulator.api_requests() == []


def test_no_key_and_not_offline_is_a_missing_key_error(tmp_path: Path) -> None:
    """Without any key (and not offline) the first call raises MissingKeyError."""
    with vibeimg.Client(out_dir=tmp_path) as client, pytest.raises(vibeimg.MissingKeyError):
        client.generate("a fox")


def test_a_missing_key_names_the_fix_in_pythons_words(tmp_path: Path) -> None:
    """The traceback's last line (str of the error) says how to give a key from Python."""
    with pytest.raises(vibeimg.MissingKeyError) as caught:
        vibeimg.generate("a fox", out_dir=tmp_path)
    shown = str(caught.value)
    assert shown.startswith("no API key is set (")
    assert "api_key=" in shown and "offline=True" in shown and "--api-key" not in shown
    assert caught.value.exit_code == vibeimg.ExitCode.USAGE


def test_edit_sends_the_images_and_the_converted_mask(emulator: Emulator,
                                                      tmp_path: Path) -> None:
    """convert_mask makes an alpha mask; edit sends it with the image as multipart parts."""
    source = save(tmp_path / "fox.png", photo((64, 48)))
    scribble = save(tmp_path / "scribble.png", grey_row([0, 255]).resize((64, 48)))
    mask = vibeimg.convert_mask(scribble, tmp_path / "mask.png")
    assert mask.path == tmp_path / "mask.png" and (mask.width, mask.height) == (64, 48)
    assert 0 < mask.repaint < 1
    with PILImage.open(mask.path) as opened:
        assert opened.mode == "RGBA"
    with _client(emulator, tmp_path / "out") as client:
        [edited] = client.edit("add a hat", images=[source], mask=mask.path)
    assert edited.path.parent == tmp_path / "out" and edited.path.exists()
    [request] = emulator.api_requests()
    assert request.path.endswith("/images/edits")
    assert request.files["image[]"][0][2] == source.read_bytes()
    assert request.files["mask"][0][2] == mask.path.read_bytes()


def test_chat_stream_names_each_image_after_its_item(emulator: Emulator,
                                                     tmp_path: Path) -> None:
    """A numbered prompt gives one image per item, each with its revised prompt."""
    with _client(emulator, tmp_path) as client:
        images = client.chat_stream("Generate 2 images: 1) a red circle 2) a blue square",
                                    quality="low")
    assert [i.path.name for i in images] == ["a-red-circle-1.png", "a-blue-square-2.png"]
    assert all(i.revised_prompt for i in images) and images.missing == []
    [request] = emulator.api_requests()
    assert request.json()["stream"] is True and request.json()["instructions"]


def test_shortcuts_run_offline_without_a_key(tmp_path: Path) -> None:
    """vibeimg.generate(offline=True) starts the emulator itself: no key, no network."""
    [image] = vibeimg.generate("a lighthouse", offline=True, out_dir=tmp_path, quality="low")
    assert image.path == tmp_path / "a-lighthouse.png" and image.path.stat().st_size > 0


def test_history_records_the_run_when_asked(emulator: Emulator, tmp_path: Path) -> None:
    """history=True records the run as the command line would; the default records none."""
    with _client(emulator, tmp_path) as client:
        client.generate("not recorded")
    with _client(emulator, tmp_path, history=True) as client:
        client.generate("a recorded fox")
    with History() as store:
        runs = store.recent()
    assert [(r.prompt, r.outcome, r.images) for r in runs] == [("a recorded fox", "completed", 1)]


def test_importing_vibeimg_loads_no_heavy_module() -> None:
    """import vibeimg (and reaching vibeimg.Client) loads none of httpx, Pillow, Rich, SQLite."""
    code = ("import sys, vibeimg; vibeimg.Client; vibeimg.Images; "
            "print(sorted(m for m in ('httpx', 'PIL', 'rich', 'sqlite3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_shows_the_api() -> None:
    """help(vibeimg) lists the client, the shortcuts and the exception tree."""
    out = subprocess.run([sys.executable, "-c", "import vibeimg; help(vibeimg)"],
                         capture_output=True, text=True, check=True).stdout
    for name in ("class Client", "generate(prompt", "convert_mask(", "class Images",
                 "vibeimg.errors.VibeimgError", "VERSION"):
        assert name in out, name


def test_a_script_using_the_api_passes_strict_mypy(tmp_path: Path) -> None:
    """The package is typed (py.typed): a script using it passes mypy --strict."""
    script = tmp_path / "script.py"
    script.write_text(
        "from pathlib import Path\n"
        "import vibeimg\n\n\n"
        "def main() -> list[Path]:\n"
        "    with vibeimg.Client(offline=True) as client:\n"
        "        images: vibeimg.Images = client.generate('a fox', n=2, size='landscape')\n"
        "    first: vibeimg.Image = images[0]\n"
        "    cost: float = first.cost_usd + images.cost_usd\n"
        "    revised: str | None = first.revised_prompt\n"
        "    mask: vibeimg.MaskConversion = vibeimg.convert_mask('a.png')\n"
        "    coast = vibeimg.Session('coast', create=True)\n"
        "    turns: list[vibeimg.Turn] = coast.turns\n"
        "    shown: list[Path] = coast.images + [coast.undo().image_paths[0]]\n"
        "    del cost, revised, mask, turns, shown\n"
        "    try:\n"
        "        vibeimg.generate('x', offline=True)\n"
        "    except vibeimg.VibeimgError as error:\n"
        "        code: int = error.exit_code\n"
        "        del code\n"
        "    return images.paths\n"
    )
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(script)],
                         capture_output=True, text=True, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_conversation_from_python(emulator: Emulator, tmp_path: Path) -> None:
    """chat_stream(session=...) resends earlier turns; Session shows turns, images, undo()."""
    with _client(emulator, tmp_path) as client:
        [first] = client.chat_stream("a lighthouse at dawn", session="coast", quality="low")
        [second] = client.chat_stream("now make it night", session="coast")
    assert (first.path.name, first.session, first.turn) == ("coast-1-1.png", "coast", 1)
    assert (second.session, second.turn) == ("coast", 2)
    body = emulator.api_requests()[-1].json()
    assert [m["content"][0]["text"] for m in body["input"]] == ["a lighthouse at dawn",
                                                                 "now make it night"]
    assert body["tools"][0]["quality"] == "low"  # kept from the first turn
    sent = body["input"][1]["content"][1]["image_url"].split(",", 1)[1]
    assert base64.b64decode(sent) == first.path.read_bytes()
    coast = vibeimg.Session("coast")
    assert [t.number for t in coast.turns] == [1, 2]
    assert coast.images == [first.path.resolve(), second.path.resolve()]
    undone: vibeimg.Turn = coast.undo()
    assert undone.prompt == "now make it night" and second.path.exists()
    assert [t.number for t in coast.turns] == [1]
    assert vibeimg.Session.names() == ["coast"] and vibeimg.Session.latest().name == "coast"
    with pytest.raises(vibeimg.UsageError, match="no session 'coasts'"):
        vibeimg.Session("coasts")
