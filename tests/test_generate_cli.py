"""``vibeimg generate`` end to end against the emulator over loopback."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def test_saves_png_and_prints_its_path(cli, emulator, tmp_path: Path) -> None:
    """One prompt gives one PNG on disk, its path alone on stdout."""
    result = cli("generate", "a red fox", "--size", "1024x1024")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-red-fox.png\n"
    image = Image.open(tmp_path / "a-red-fox.png")
    assert image.format == "PNG" and image.size == (1024, 1024)
    sent = emulator.api_requests()[0].json()
    assert sent["prompt"] == "a red fox" and sent["model"] == "gpt-image-2"
