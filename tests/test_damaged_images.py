"""An input that starts as a PNG, JPEG or WebP but is cut short or corrupt is called a
damaged image of its format (for a PNG, the chunk that fails), never "not an image",
with the fix: re-export it. Exit 2, nothing sent."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from PIL import Image

from vibeimg.errors import ExitCode


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (32, 32), (0, 0, 0, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def _bad_crc(chunk: bytes) -> bytes:
    """A PNG whose ``chunk`` has its stored checksum flipped."""
    data = bytearray(_png())
    at = data.find(chunk) - 4
    length = int.from_bytes(data[at:at + 4], "big")
    data[at + 8 + length] ^= 0xFF
    assert zlib.crc32(data[at + 4:at + 8 + length]) != int.from_bytes(
        data[at + 8 + length:at + 12 + length], "big")
    return bytes(data)


def _cut(fmt: str, keep: float) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buffer, fmt)
    data = buffer.getvalue()
    return data[:max(14, int(len(data) * keep))]


@pytest.mark.parametrize("chunk", [b"IHDR", b"IDAT"])
@pytest.mark.parametrize("where", [("-i",), ("--mask",)])
def test_a_png_whose_chunk_checksum_fails_is_a_damaged_png(cli, emulator, tmp_path: Path,
                                                           chunk, where) -> None:
    """edit -i/--mask with a bad CRC (in the header chunk too): 'a damaged PNG: the
    checksum of its IHDR chunk fails (truncated or corrupt)', the re-export fix."""
    (tmp_path / "bad.png").write_bytes(_bad_crc(chunk))
    (tmp_path / "ok.png").write_bytes(_png())
    args = ("-i", "bad.png") if where == ("-i",) else ("-i", "ok.png", "--mask", "bad.png")
    result = cli("edit", "make it blue", *args)
    assert result.exit_code == ExitCode.USAGE
    name = chunk.decode()
    assert (f"bad.png is a damaged PNG: the checksum of its {name} chunk fails "
            "(truncated or corrupt)") in result.stderr
    assert "re-export it" in result.stderr and "not an image" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert emulator.api_requests() == []


@pytest.mark.parametrize("chunk", [b"IHDR", b"IDAT"])
def test_mask_convert_names_a_damaged_png(cli, tmp_path: Path, chunk) -> None:
    """mask-convert of a PNG whose checksum fails: a damaged PNG, exit 2, nothing written."""
    (tmp_path / "bad.png").write_bytes(_bad_crc(chunk))
    result = cli("mask-convert", "bad.png", "out.png")
    assert result.exit_code == ExitCode.USAGE
    assert f"the checksum of its {chunk.decode()} chunk fails" in result.stderr
    assert "is a damaged PNG" in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "PNG"), ("JPEG", "JPEG"),
                                           ("WEBP", "WebP")])
@pytest.mark.parametrize("keep", [0.1, 0.3, 0.6, 0.95])
def test_cut_images_are_damaged_not_unknown(cli, emulator, tmp_path: Path, fmt, name,
                                            keep) -> None:
    """A PNG, JPEG or WebP cut anywhere (inside its header too) is 'a damaged FORMAT ...
    truncated or corrupt', for edit -i and mask-convert alike."""
    (tmp_path / "cut.img").write_bytes(_cut(fmt, keep))
    for argv in (("edit", "x", "-i", "cut.img"), ("mask-convert", "cut.img", "out.png")):
        result = cli(*argv)
        assert result.exit_code == ExitCode.USAGE, result.stderr
        assert f"cut.img is a damaged {name}: " in result.stderr
        assert "truncated or corrupt" in result.stderr
        assert "not an image" not in result.stderr
    assert emulator.api_requests() == []


def test_a_damaged_match_image_is_named(cli, tmp_path: Path) -> None:
    """mask-convert --match with a damaged PNG: named as damaged, not unreadable."""
    (tmp_path / "mask.png").write_bytes(_png())
    (tmp_path / "bad.png").write_bytes(_bad_crc(b"IHDR"))
    result = cli("mask-convert", "mask.png", "out.png", "--match", "bad.png")
    assert result.exit_code == ExitCode.USAGE
    assert "the --match image bad.png is a damaged PNG" in result.stderr


def test_bytes_of_no_image_are_still_not_an_image(cli, tmp_path: Path) -> None:
    """Text named .png is not a damaged image: it is no image at all."""
    (tmp_path / "notes.png").write_text("hello")
    result = cli("mask-convert", "notes.png", "out.png")
    assert result.exit_code == ExitCode.USAGE
    assert "damaged" not in result.stderr
