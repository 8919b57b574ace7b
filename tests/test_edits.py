"""Input checks and the multipart request of /images/edits, without the command line."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from pathlib import Path

import pytest
from pictures import alpha_mask, alpha_of, bw_mask, encoded, photo, save, with_dimensions
from PIL import Image

from vibeimg.errors import UsageError
from vibeimg.files.inputs import MAX_INPUT_BYTES, SourceFile, read_source
from vibeimg.jobs.edits import build_edit_request, describe_parts
from vibeimg.params import ImageOptions

OPTIONS = ImageOptions.build(size="1024x1024", quality="low")


def build(images: list, mask=None, **kwargs):
    """The request, its file parts read as they would be sent; and what was reported."""
    notes: list[str] = []
    warnings: list[str] = []
    request = build_edit_request("add a hat", images, mask, kwargs.pop("options", OPTIONS),
                                 notify=notes.append, warn=warnings.append, **kwargs)
    files = [(field, (name, _sent(content), media))
             for field, (name, content, media) in request.files]
    return dataclasses.replace(request, files=files), notes, warnings


def _sent(content) -> bytes:
    if isinstance(content, bytes):
        return content
    with content.upload() as reader:  # a file streamed when sent
        return reader.read()


def refused(images: list, mask=None, **kwargs) -> str:
    with pytest.raises(UsageError) as info:
        build(images, mask, **kwargs)
    return info.value.one_line()


def test_parts_are_image_array_fields_with_the_files_bytes(tmp_path: Path) -> None:
    """Each input becomes an image[] part with its name, media type and exact bytes."""
    a = save(tmp_path / "lotion.png", photo())
    b = save(tmp_path / "soap.jpg", photo(colour=(0, 0, 200)))
    c = save(tmp_path / "candle.webp", photo(colour=(0, 90, 0)))
    request, notes, warnings = build([a, str(b), c])
    assert request.endpoint == "images/edits" and request.json_body is None
    assert request.files == [
        ("image[]", ("lotion.png", a.read_bytes(), "image/png")),
        ("image[]", ("soap.jpg", b.read_bytes(), "image/jpeg")),
        ("image[]", ("candle.webp", c.read_bytes(), "image/webp")),
    ]
    assert notes == [] and warnings == []


def test_form_fields_follow_the_options(tmp_path: Path) -> None:
    """Text fields carry model, prompt and output options as strings, never moderation."""
    options = ImageOptions.build(size="1536x1024", quality="high", output_format="webp",
                                 compression=40, response_format="url")
    request, _, _ = build([save(tmp_path / "a.png", photo())], options=options)
    assert request.form == {
        "model": "gpt-image-2", "prompt": "add a hat", "size": "1536x1024",
        "quality": "high", "output_format": "webp", "output_compression": "40",
        "response_format": "url",
    }


def test_record_lists_inputs_with_size_and_sha256(tmp_path: Path) -> None:
    """The sidecar record names each input and the mask with bytes and SHA-256."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.png", alpha_mask())
    request, _, _ = build([image], mask)
    record = request.record
    assert record["slug"] == "add-a-hat"
    assert record["inputs"][0] == {
        "path": str(image), "bytes": image.stat().st_size,
        "sha256": hashlib.sha256(image.read_bytes()).hexdigest(), "format": "png",
        "width": 64, "height": 48,
    }
    assert record["mask"]["sha256"] == hashlib.sha256(mask.read_bytes()).hexdigest()


def test_mask_part_is_sent_unchanged_when_valid(tmp_path: Path) -> None:
    """A valid mask goes out as the 'mask' part, byte for byte."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.png", alpha_mask())
    request, notes, _ = build([image], mask)
    assert request.files[-1] == ("mask", ("m.png", mask.read_bytes(), "image/png"))
    assert notes == []


def test_a_misnamed_file_is_sent_under_its_real_format(tmp_path: Path) -> None:
    """A JPEG named .png is sent as .jpg with image/jpeg, with a warning."""
    image = save(tmp_path / "photo.png", photo(), "JPEG")
    request, _, warnings = build([image])
    assert request.files[0][1][0] == "photo.jpg" and request.files[0][1][2] == "image/jpeg"
    assert "really jpeg" in warnings[0]


def test_source_files_and_stdin_are_accepted(tmp_path: Path) -> None:
    """SourceFile objects and '-' (stdin) work as inputs; stdin is named stdin.<ext>."""
    data = encoded(photo(), "WEBP")
    request, _, _ = build(["-", SourceFile("mem", encoded(photo()))],
                          stdin=io.BytesIO(data))
    assert request.files[0][1] == ("stdin.webp", data, "image/webp")
    assert request.files[1][1][0] == "stdin.png"


def test_describe_parts_lists_fields_and_files(tmp_path: Path) -> None:
    """The dry-run description has the text fields and each part's size and hash."""
    request, _, _ = build([save(tmp_path / "a.png", photo())])
    described = describe_parts(request)
    assert described["prompt"] == "add a hat"
    assert described["files"][0]["field"] == "image[]"
    assert len(described["files"][0]["sha256"]) == 64


# Refusals of input images

def test_refuses_a_missing_file(tmp_path: Path) -> None:
    """A missing input is refused naming the path."""
    assert "does not exist" in refused([tmp_path / "nope.png"])


def test_refuses_a_folder(tmp_path: Path) -> None:
    """A folder is not an image."""
    assert "is a folder" in refused([tmp_path])


@pytest.mark.skipif(os.geteuid() == 0, reason="running as a user who can read anything")
def test_refuses_an_unreadable_file(tmp_path: Path) -> None:
    """An unreadable file is refused with the reason."""
    path = save(tmp_path / "a.png", photo())
    path.chmod(0)
    assert "cannot read" in refused([path])


def test_refuses_a_file_over_50_mb_without_reading_it(tmp_path: Path) -> None:
    """A file over 50 MB is refused from its size alone."""
    path = tmp_path / "huge.png"
    with path.open("wb") as f:
        f.write(encoded(photo()))
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: no 50 MB written
    message = refused([path])
    assert "50.0 MB" in message and "at most" in message


def test_refuses_more_than_50_mb_from_stdin() -> None:
    """stdin is read only up to the cap."""
    with pytest.raises(UsageError, match="on stdin is more than 50 bytes"):
        read_source("-", stdin=io.BytesIO(b"x" * 100), max_bytes=50)


def test_refuses_text_named_png(tmp_path: Path) -> None:
    """Bytes that are no image are refused whatever the name says."""
    path = tmp_path / "a.png"
    path.write_text("hello, not a picture")
    assert "not a png, jpeg or webp file" in refused([path])


def test_refuses_a_gif(tmp_path: Path) -> None:
    """A GIF is a real image, but not a format the gateway takes."""
    assert "a GIF file" in refused([save(tmp_path / "a.gif", photo())])


def test_refuses_a_truncated_png(tmp_path: Path) -> None:
    """A truncated PNG is a clear error, not a traceback."""
    data = encoded(Image.effect_noise((200, 200), 50))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in refused([path])


def test_refuses_a_png_whose_checksum_is_wrong(tmp_path: Path) -> None:
    """A PNG that decodes but whose IDAT checksum is wrong is damaged: refused."""
    data = bytearray(encoded(Image.effect_noise((64, 64), 50)))
    at = data.find(b"IDAT")
    length = int.from_bytes(data[at - 4:at], "big")
    data[at + 4 + length] ^= 0xFF  # the chunk's CRC
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    assert "truncated or corrupt" in refused([path])
    assert "checksum" in refused([path])


def test_refuses_a_corrupt_jpeg(tmp_path: Path) -> None:
    """A JPEG whose body is garbage is refused."""
    data = bytearray(encoded(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG"))
    data[200:] = b"\x00" * (len(data) - 200)
    path = tmp_path / "bad.jpg"
    path.write_bytes(bytes(data))
    assert "truncated or corrupt" in refused([path])


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_refuses_a_decompression_bomb(tmp_path: Path, side: int) -> None:
    """A header claiming hundreds of millions of pixels is refused before decoding."""
    path = tmp_path / "bomb.png"
    path.write_bytes(with_dimensions(encoded(Image.new("L", (1, 1))), side, side))
    assert "decompression bomb" in refused([path])


@pytest.mark.parametrize(("side", "size"), [(10_000, "10000x10000"), (20_000, "20000x20000")])
def test_a_bomb_is_told_the_one_limit_that_applies(tmp_path: Path, side: int,
                                                   size: str) -> None:
    """The refusal quotes the image's size and vibeimg's limit, never Pillow's other one."""
    path = tmp_path / "bomb.png"
    path.write_bytes(with_dimensions(encoded(Image.new("L", (1, 1))), side, side))
    assert refused([path]) == (
        f"the image {path} would decode to too many pixels ({size}; at most 89,478,485 "
        "are allowed): it looks like a decompression bomb (use a smaller image)")


def test_refuses_no_image_and_more_than_16(tmp_path: Path) -> None:
    """Between 1 and 16 input images."""
    path = save(tmp_path / "a.png", photo())
    assert "no input image" in refused([])
    assert "at most 16" in refused([path] * 17)


def test_refuses_stdin_twice(tmp_path: Path) -> None:
    """stdin can supply one file only."""
    assert "only one file" in refused(["-", "-"], stdin=io.BytesIO(b""))


# The mask

def test_mask_without_alpha_is_refused_naming_mask_convert(tmp_path: Path) -> None:
    """A black-and-white mask without alpha is refused, naming mask-convert and the flag."""
    image = save(tmp_path / "a.png", photo())
    message = refused([image], save(tmp_path / "m.png", bw_mask()))
    assert "no alpha channel (mode L)" in message
    assert "vibeimg mask-convert" in message and "--convert-mask" in message


def test_mask_with_a_colour_key_is_refused(tmp_path: Path) -> None:
    """A palette transparency is not an alpha channel."""
    image = save(tmp_path / "a.png", photo())
    mask = Image.new("P", (64, 48))
    mask.putpalette([0, 0, 0, 255, 255, 255])
    path = save(tmp_path / "m.png", mask, transparency=0)
    assert "colour key" in refused([image], path)


def test_convert_mask_converts_on_the_fly(tmp_path: Path) -> None:
    """--convert-mask turns greys into alpha as mask-convert does, and says so."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.png", bw_mask())
    request, notes, _ = build([image], mask, convert_mask=True)
    _, (name, data, media) = request.files[-1]
    assert (name, media) == ("m.png", "image/png")
    assert alpha_of(data) == Image.open(mask).tobytes()
    assert Image.open(io.BytesIO(data)).mode == "RGBA"
    assert "converted to an alpha mask" in notes[0]
    assert request.record["mask"]["sent"]["changes"]


def test_convert_mask_keeps_a_colour_key_transparency(tmp_path: Path) -> None:
    """With --convert-mask, a palette transparency becomes the alpha channel."""
    image = save(tmp_path / "a.png", photo())
    mask = Image.new("P", (64, 48), 1)
    mask.putpalette([0, 0, 0, 255, 255, 255])
    mask.paste(0, (0, 0, 10, 10))
    path = save(tmp_path / "m.png", mask, transparency=0)
    request, notes, _ = build([image], path, convert_mask=True)
    alpha = Image.open(io.BytesIO(request.files[-1][1][1])).getchannel("A")
    assert alpha.getpixel((5, 5)) == 0 and alpha.getpixel((30, 30)) == 255
    assert "transparency moved into an alpha channel" in notes[0]


def test_convert_mask_reads_greys_of_an_opaque_rgba_drawing(tmp_path: Path) -> None:
    """A drawing saved as RGBA without transparency is converted from its greys."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.png", bw_mask().convert("RGBA"))
    _, _, warnings = build([image], mask)
    assert "fully opaque" in warnings[0] and "--convert-mask" in warnings[0]
    request, _, warnings = build([image], mask, convert_mask=True)
    assert alpha_of(request.files[-1][1][1]) == bw_mask().tobytes() and warnings == []


def test_convert_mask_leaves_a_real_alpha_mask_alone(tmp_path: Path) -> None:
    """--convert-mask on a mask that has alpha sends it unchanged and says so."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.png", alpha_mask())
    request, notes, _ = build([image], mask, convert_mask=True)
    assert request.files[-1][1][1] == mask.read_bytes()
    assert "left it as is" in notes[0]


def test_mask_of_other_dimensions_is_refused_with_both_sizes(tmp_path: Path) -> None:
    """A mask of another size is refused, naming both sizes and --resize-mask."""
    image = save(tmp_path / "a.png", photo((64, 48)))
    message = refused([image], save(tmp_path / "m.png", alpha_mask((32, 24))))
    assert "32x24" in message and "64x48" in message and "--resize-mask" in message


def test_resize_mask_scales_a_same_aspect_mask(tmp_path: Path) -> None:
    """--resize-mask scales the mask with nearest neighbour to the image's size."""
    image = save(tmp_path / "a.png", photo((64, 48)))
    mask = save(tmp_path / "m.png", alpha_mask((32, 24)))
    request, notes, _ = build([image], mask, resize_mask=True)
    sent = Image.open(io.BytesIO(request.files[-1][1][1]))
    assert sent.size == (64, 48) and set(sent.getchannel("A").tobytes()) == {0, 255}
    assert "resized from 32x24 to 64x48" in notes[0]


def test_resize_mask_refuses_another_aspect_ratio(tmp_path: Path) -> None:
    """A mask of another shape cannot be resized."""
    image = save(tmp_path / "a.png", photo((64, 48)))
    message = refused([image], save(tmp_path / "m.png", alpha_mask((48, 48))),
                      resize_mask=True)
    assert "aspect ratios differ" in message and "48x48" in message


@pytest.mark.parametrize(("suffix", "params"), [(".jpg", {"quality": 90}),
                                                (".webp", {"lossless": True})])
def test_jpeg_or_webp_first_image_is_sent_as_png_with_a_mask(
    tmp_path: Path, suffix: str, params: dict
) -> None:
    """With a mask, a jpeg or webp first image is re-encoded as PNG with the same pixels."""
    first = save(tmp_path / f"lounge{suffix}", photo(), **params)
    second = save(tmp_path / "ref.jpg", photo(colour=(1, 2, 3)))
    mask = save(tmp_path / "m.png", alpha_mask())
    request, notes, _ = build([first, second], mask)
    name, data, media = request.files[0][1]
    assert (name, media) == ("lounge.png", "image/png")
    sent = Image.open(io.BytesIO(data))
    assert sent.format == "PNG"
    assert sent.convert("RGB").tobytes() == Image.open(first).convert("RGB").tobytes()
    assert request.files[1][1][1] == second.read_bytes()  # only the first is converted
    assert "re-encoded from" in notes[0] and "same format" in notes[0]


def test_exif_rotated_jpeg_is_turned_upright_for_the_mask(tmp_path: Path) -> None:
    """A JPEG stored sideways with an EXIF rotation is checked and sent upright."""
    stored = photo((48, 64))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    first = save(tmp_path / "phone.jpg", stored, exif=exif.tobytes())
    mask = save(tmp_path / "m.png", alpha_mask((64, 48)))  # drawn on the upright photo
    request, notes, _ = build([first], mask)
    assert Image.open(io.BytesIO(request.files[0][1][1])).size == (64, 48)
    assert "turned upright" in notes[0]


def sideways(path: Path, upright_image: Image.Image) -> Path:
    """Store an upright picture sideways, with the EXIF tag that turns it back (a phone)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    return save(path, upright_image.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())


def test_a_sideways_mask_is_turned_upright_like_its_photo(tmp_path: Path) -> None:
    """Photo and mask both stored sideways (as a phone saves them): checked and sent as
    shown, the mask's white kept where it was drawn."""
    first = sideways(tmp_path / "phone.jpg", photo((64, 48)))
    drawn = bw_mask((64, 48))
    mask = sideways(tmp_path / "mask.png", drawn)
    request, notes, _ = build([first], mask, convert_mask=True)
    sent = Image.open(io.BytesIO(request.files[-1][1][1]))
    assert sent.size == (64, 48)
    assert sent.getchannel("A").tobytes() == drawn.tobytes()
    assert any("mask" in n and "turned upright" in n for n in notes)


def test_webp_mask_with_alpha_is_sent_as_png(tmp_path: Path) -> None:
    """A webp mask with alpha is re-encoded as PNG, its alpha intact."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.webp", alpha_mask(), lossless=True)
    request, notes, _ = build([image], mask)
    name, data, media = request.files[-1][1]
    assert (name, media) == ("m.png", "image/png")
    assert alpha_of(data) == alpha_of(mask)
    assert "re-encoded from webp to png" in notes[0]


def test_fully_transparent_mask_warns(tmp_path: Path) -> None:
    """A mask that repaints everything is sent, with a warning."""
    image = save(tmp_path / "a.png", photo())
    mask = save(tmp_path / "m.png", Image.new("RGBA", (64, 48), (0, 0, 0, 0)))
    _, _, warnings = build([image], mask)
    assert "fully transparent" in warnings[0]


def test_nothing_is_reported_when_refused(tmp_path: Path) -> None:
    """Notes about conversions are held back when the request is refused after all."""
    first = save(tmp_path / "a.jpg", photo())
    notes: list[str] = []
    with pytest.raises(UsageError):
        build_edit_request("x", [first], save(tmp_path / "m.png", bw_mask()), OPTIONS,
                           notify=notes.append)
    assert notes == []


def test_refuses_an_empty_prompt(tmp_path: Path) -> None:
    """The prompt rules of generate apply."""
    with pytest.raises(UsageError, match="prompt is empty"):
        build_edit_request("  ", [save(tmp_path / "a.png", photo())], None, OPTIONS)


def test_inputs_are_streamed_from_their_files_not_held(tmp_path: Path) -> None:
    """An input sent as it is travels from its file when sent: the request holds no copy
    of its bytes, and a sidecar still gets its size and SHA-256."""
    path = save(tmp_path / "a.png", photo())
    request = build_edit_request("add a hat", [path], None, OPTIONS)
    (_, (name, content, media)), = request.files
    assert not isinstance(content, bytes) and (name, media) == ("a.png", "image/png")
    with content.upload() as reader:
        assert reader.read() == path.read_bytes()
    assert request.record["inputs"][0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_changed_after_its_checks_is_not_sent(tmp_path: Path) -> None:
    """An input replaced between the checks and the upload is refused, not sent unchecked."""
    path = save(tmp_path / "a.png", photo())
    request = build_edit_request("add a hat", [path], None, OPTIONS)
    save(path, photo(colour=(9, 9, 9)), "JPEG")
    os.utime(path, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    (_, (_, content, _)), = request.files
    with pytest.raises(UsageError) as info:
        content.upload()
    assert "changed after it was checked" in info.value.one_line()


def test_a_file_gone_before_the_upload_is_a_usage_error(tmp_path: Path) -> None:
    """An input deleted after the checks: one line naming it, not a traceback."""
    path = save(tmp_path / "a.png", photo())
    request = build_edit_request("add a hat", [path], None, OPTIONS)
    path.unlink()
    (_, (_, content, _)), = request.files
    with pytest.raises(UsageError) as info:
        content.upload()
    assert f"cannot read {path} to send it" in info.value.one_line()
