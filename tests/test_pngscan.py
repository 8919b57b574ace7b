"""A PNG input is checked without Pillow exactly as Pillow's open and verify check it."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from tests.pictures import encoded, with_dimensions
from vibeimg.errors import UsageError
from vibeimg.files import imagecheck, pngscan
from vibeimg.files.inputs import read_source


def chunk(cid: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + cid + data + struct.pack(
        ">I", zlib.crc32(data, zlib.crc32(cid)))


def with_chunk(png: bytes, extra: bytes) -> bytes:
    """``extra`` inserted right after IHDR (before the image data)."""
    return png[:33] + extra + png[33:]


def sample(kind: int) -> bytes:
    """PNGs of several modes, with the chunks Pillow reads before the image data."""
    base = [Image.new("RGB", (9, 7), "teal"), Image.new("L", (5, 3)),
            Image.new("RGBA", (4, 4), (1, 2, 3, 4)), Image.new("P", (6, 2)),
            Image.new("1", (3, 3)), Image.new("I;16", (2, 2))][kind % 6]
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "a fox")
    info.add_text("Comment", "a heron " * 40, zip=True)
    info.add_itxt("Author", "水獭", lang="zh", tkey="作者", zip=kind % 2 == 0)
    data = encoded(base, "PNG", pnginfo=info)
    if kind % 3 == 0:
        icc = b"profile\0\0" + zlib.compress(b"\x00" * 300)
        data = with_chunk(data, chunk(b"iCCP", icc) + chunk(b"gAMA", b"\0\0\xb1\x8f"))
    return data


def verdict(path: Path, *, pillow: bool) -> tuple[str, object]:
    """What checking the file says: its header, or the kind of refusal."""
    source = read_source(path)
    real = pngscan.scan_png
    if pillow:
        def unsure(*args: object, **kwargs: object) -> pngscan.PngHeader:
            raise pngscan.Unsure("checked by Pillow")
        pngscan.scan_png = unsure  # type: ignore[assignment]
    try:
        header = imagecheck.scan_image(source)
    except UsageError as exc:
        for words, kind in (("not an image Pillow can read", "unreadable"),
                            ("decompression bomb", "bomb"), ("truncated or corrupt", "corrupt")):
            if words in exc.message:
                return kind, None
        return "other", exc.message
    except Exception as exc:  # Pillow falls over on some odd files
        return "crash", type(exc).__name__
    finally:
        pngscan.scan_png = real
    return "ok", (header.width, header.height, header.mode)


def agree(path: Path) -> None:
    ours, theirs = verdict(path, pillow=False), verdict(path, pillow=True)
    if theirs[0] == "crash":  # Pillow fell over: ours must at least refuse
        assert ours[0] in ("unreadable", "corrupt", "bomb"), (ours, theirs)
    else:
        assert ours == theirs


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.integers(0, 11), where=st.floats(0, 1), how=st.sampled_from(
    ["cut", "flip", "zero", "insert"]), value=st.integers(1, 255))
def test_damaged_pngs_get_pillows_verdict(tmp_path: Path, kind: int, where: float, how: str,
                                          value: int) -> None:
    """Cut, flipped, zeroed or padded anywhere: refused or passed as Pillow would."""
    data = bytearray(sample(kind))
    at = 8 + int(where * (len(data) - 9))
    if how == "cut":
        data = data[:at]
    elif how == "flip":
        data[at] ^= value
    elif how == "zero":
        data[at:at + 4] = b"\0\0\0\0"
    else:
        data[at:at] = bytes([value]) * 5
    path = tmp_path / "in.png"
    path.write_bytes(bytes(data))
    agree(path)


@pytest.mark.parametrize("extra", [
    chunk(b"gAMA", b"\0\0"),  # too short
    chunk(b"pHYs", b"\0" * 8),
    chunk(b"sRGB", b""),
    chunk(b"cHRM", b"\0" * 31),
    chunk(b"tRNS", b"\0"),  # RGB needs 6
    chunk(b"iCCP", b"name\0\1" + zlib.compress(b"x")),  # unknown compression method
    chunk(b"iCCP", b"name"),  # no method at all
    chunk(b"iCCP", b"name\0\0" + zlib.compress(b"\0" * (2 << 20))),  # too big once inflated
    chunk(b"iCCP", b"name\0\0not zlib"),
    chunk(b"zTXt", b"key\0\1abc"),
    chunk(b"zTXt", b"key\0\0" + zlib.compress(b"a" * (2 << 20))),
    chunk(b"iTXt", b"key\0\1\0en\0key\0" + zlib.compress(b"b" * (2 << 20))),
    chunk(b"iTXt", b"key\0\1\1en\0key\0whatever"),
    chunk(b"tEXt", b"no separator"),
    chunk(b"ab#d", b""),  # not a chunk name
    chunk(b"acTL", b"\0\0\0\1\0\0\0\0"),  # animated: Pillow's own checks
    chunk(b"prIv", b"anything"),  # unknown, private: passed on its CRC
    chunk(b"IEND", b""),  # the end before any image data
])
def test_chunks_before_the_image_data_get_pillows_verdict(tmp_path: Path, extra: bytes) -> None:
    """Each chunk Pillow reads before the image data, malformed: the same verdict."""
    path = tmp_path / "in.png"
    path.write_bytes(with_chunk(encoded(Image.new("RGB", (8, 8), "red")), extra))
    agree(path)


@pytest.mark.parametrize("ihdr", [
    struct.pack(">IIBBBBB", 8, 8, 8, 7, 0, 0, 0),  # no such colour type
    struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 1, 0),  # unknown filter method
    struct.pack(">IIBBBBB", 0, 8, 8, 2, 0, 0, 0),  # no pixels
    struct.pack(">IIBBBB", 8, 8, 8, 2, 0, 0),  # cut short
])
def test_bad_headers_get_pillows_verdict(tmp_path: Path, ihdr: bytes) -> None:
    """An IHDR Pillow cannot read makes the file no image it opens, for both."""
    png = encoded(Image.new("RGB", (8, 8)))
    path = tmp_path / "in.png"
    path.write_bytes(png[:8] + chunk(b"IHDR", ihdr) + png[33:])
    agree(path)


def test_a_bomb_is_refused_before_the_image_data_is_read(tmp_path: Path) -> None:
    """A header claiming too many pixels is a bomb even when the data after is damaged."""
    data = bytearray(with_dimensions(encoded(Image.new("L", (1, 1))), 20_000, 20_000))
    data[-20] ^= 0xFF  # the image data's checksum
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    assert verdict(path, pillow=False)[0] == "bomb"


def test_a_sound_png_is_read_once_for_its_checks_and_its_sha256(tmp_path: Path) -> None:
    """The SHA-256 an edit records comes from the same read as the checks."""
    path = tmp_path / "in.png"
    path.write_bytes(encoded(Image.effect_noise((300, 200), 40)) + b"after IEND")
    source = read_source(path)
    reads: list[int] = []
    opened = source.open

    def counting_open() -> io.BufferedReader:
        reads.append(1)
        return opened()  # type: ignore[return-value]

    object.__setattr__(source, "open", counting_open)
    header = imagecheck.scan_image(source)
    assert (header.format, header.width, header.height) == ("PNG", 300, 200)
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert reads == [1]
