"""The emulator's /images/edits: the reference doc's SDK and curl samples, and every rule."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
from pictures import alpha_mask, bw_mask, encoded, photo, save
from PIL import Image

from vibeimg.emulator import Emulator
from vibeimg.emulator.placeholder import colour_for
from vibeimg.files.inputs import MAX_INPUT_BYTES

BASKET_PROMPT = """
Generate a photorealistic image of a gift basket on a white background
labeled 'Relax & Unwind' with a ribbon and handwriting-like font,
containing all the items in the reference pictures.
"""
LOUNGE_PROMPT = "A sunlit indoor lounge area with a pool containing a flamingo"
PRODUCTS = ["body-lotion.png", "bath-bomb.png", "incense-kit.png", "soap.png"]


@pytest.fixture
def product_shots(tmp_path: Path) -> Path:
    """The doc's four product images and a lounge photo with its alpha mask."""
    for i, name in enumerate(PRODUCTS):
        save(tmp_path / name, photo((96, 96), (40 * i, 120, 200)))
    save(tmp_path / "sunlit_lounge.png", photo((128, 96), (230, 200, 90)))
    save(tmp_path / "mask.png", alpha_mask((128, 96), hole=(0, 48, 63, 95)))
    return tmp_path


def test_reference_sample_with_four_images(
    emulator: Emulator, product_shots: Path, monkeypatch
) -> None:
    """The doc's images.edit sample with four reference images works unchanged."""
    monkeypatch.chdir(product_shots)
    client = openai.OpenAI(base_url=emulator.base_url, api_key="YOUR_API_KEY")
    prompt = BASKET_PROMPT
    result = client.images.edit(
        model="gpt-image-2",
        image=[
            open("body-lotion.png", "rb"),  # noqa: SIM115, PTH123 - the sample's own code
            open("bath-bomb.png", "rb"),  # noqa: SIM115, PTH123
            open("incense-kit.png", "rb"),  # noqa: SIM115, PTH123
            open("soap.png", "rb"),  # noqa: SIM115, PTH123
        ],
        prompt=prompt,
    )
    image_base64 = result.data[0].b64_json
    image_bytes = base64.b64decode(image_base64)
    with open("gift-basket.png", "wb") as f:  # noqa: PTH123
        f.write(image_bytes)
    assert Image.open(product_shots / "gift-basket.png").format == "PNG"
    sent = emulator.api_requests()[-1]
    assert [part[0] for part in sent.files["image[]"]] == [
        "body-lotion.png", "bath-bomb.png", "incense-kit.png", "soap.png"]
    assert sent.files["image[]"][3][2] == (product_shots / "soap.png").read_bytes()
    assert sent.form["model"] == ["gpt-image-2"]
    assert result.usage is not None and result.usage.input_tokens_details.image_tokens > 0


def test_reference_sample_with_a_mask(
    emulator: Emulator, product_shots: Path, monkeypatch
) -> None:
    """The doc's masked images.edit sample works unchanged; its single image is 'image'."""
    monkeypatch.chdir(product_shots)
    client = openai.OpenAI(base_url=emulator.base_url, api_key="YOUR_API_KEY")
    result = client.images.edit(
        model="gpt-image-2",
        image=open("sunlit_lounge.png", "rb"),  # noqa: SIM115, PTH123
        mask=open("mask.png", "rb"),  # noqa: SIM115, PTH123
        prompt=LOUNGE_PROMPT,
    )
    image_base64 = result.data[0].b64_json
    image_bytes = base64.b64decode(image_base64)
    with open("composition.png", "wb") as f:  # noqa: PTH123
        f.write(image_bytes)
    picture = Image.open(product_shots / "composition.png")
    assert picture.format == "PNG" and picture.size == (1536, 1024)  # auto: landscape
    sent = emulator.api_requests()[-1]
    assert sent.files["image"][0][:2] == ("sunlit_lounge.png", "image/png")
    assert sent.files["mask"][0][2] == (product_shots / "mask.png").read_bytes()


def test_sdk_errors_carry_the_gateway_message(emulator: Emulator, tmp_path: Path) -> None:
    """A refused edit raises the SDK's BadRequestError with the gateway's message."""
    client = openai.OpenAI(base_url=emulator.base_url, api_key="k")
    image = save(tmp_path / "a.png", photo())
    with pytest.raises(openai.BadRequestError, match="alpha channel"):
        client.images.edit(model="gpt-image-2", image=image.open("rb"), prompt="x",
                           mask=save(tmp_path / "m.png", bw_mask()).open("rb"))


def run_curl(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The process substitutions inherit stderr, so run() returns once they are done too.
    return subprocess.run(["bash", "-c", script], cwd=cwd, check=True, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                      "OPENAI_API_KEY": "k"})


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl, jq")
def test_reference_curl_sample_with_four_images(emulator: Emulator, product_shots: Path) -> None:
    """The doc's curl -F image[]=@... form works against the emulator."""
    script = f"""
curl -s -D >(grep -i x-request-id >&2) \\
  -o >(jq -r '.data[0].b64_json' | base64 --decode > gift-basket.png) \\
  -X POST "{emulator.base_url}/images/edits" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -F "model=gpt-image-2" \\
  -F "image[]=@body-lotion.png" \\
  -F "image[]=@bath-bomb.png" \\
  -F "image[]=@incense-kit.png" \\
  -F "image[]=@soap.png" \\
  -F 'prompt=Generate a photorealistic image of a gift basket on a white background labeled "Relax & Unwind" with a ribbon and handwriting-like font, containing all the items in the reference pictures'
"""  # noqa: E501 - the doc's command, as it is
    result = run_curl(script, product_shots)
    assert "x-request-id: req_" in result.stderr.lower()
    assert Image.open(product_shots / "gift-basket.png").format == "PNG"
    sent = emulator.api_requests()[-1]
    assert len(sent.files["image[]"]) == 4
    assert sent.form["prompt"][0].startswith("Generate a photorealistic image")


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl, jq")
def test_reference_curl_sample_with_a_mask(emulator: Emulator, product_shots: Path) -> None:
    """The doc's curl -F mask=@mask.png form works against the emulator."""
    script = f"""
curl -s -D >(grep -i x-request-id >&2) \\
  -o >(jq -r '.data[0].b64_json' | base64 --decode > lounge.png) \\
  -X POST "{emulator.base_url}/images/edits" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -F "model=gpt-image-2" \\
  -F "mask=@mask.png" \\
  -F "image[]=@sunlit_lounge.png" \\
  -F 'prompt=A sunlit indoor lounge area with a pool containing a flamingo'
"""
    run_curl(script, product_shots)
    assert Image.open(product_shots / "lounge.png").format == "PNG"
    assert emulator.api_requests()[-1].status == 200


def post(emulator: Emulator, files: list, data: dict | None = None) -> httpx.Response:
    fields = {"model": "gpt-image-2", "prompt": "a hat", "size": "1024x1024"}
    fields.update(data or {})
    return httpx.post(f"{emulator.base_url}/images/edits", files=files,
                      data={k: v for k, v in fields.items() if v is not None},
                      headers={"Authorization": "Bearer k"}, timeout=30)


def png_part(image: Image.Image | None = None, name: str = "a.png", field: str = "image[]",
             fmt: str = "PNG", media: str = "image/png") -> tuple:
    return (field, (name, encoded(image or photo(), fmt), media))


def error_of(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_n_in_a_form_is_digits(emulator: Emulator) -> None:
    """n=2 as a form field is taken (and ignored: one image); n=x is an invalid type."""
    assert post(emulator, [png_part()], {"n": "2"}).status_code == 200
    error = error_of(post(emulator, [png_part()], {"n": "x"}))
    assert (error["param"], error["code"]) == ("n", "invalid_type")


def test_refuses_json(emulator: Emulator) -> None:
    """An edit must be multipart/form-data."""
    response = httpx.post(f"{emulator.base_url}/images/edits", json={"prompt": "x"},
                          headers={"Authorization": "Bearer k"})
    assert "expected multipart/form-data" in error_of(response)["message"]


def test_refuses_an_unknown_file_field(emulator: Emulator) -> None:
    """A file part under another name is an unknown parameter."""
    error = error_of(post(emulator, [png_part(), ("other", ("x.txt", b"x", "text/plain"))]))
    assert error["param"] == "other" and error["code"] == "unknown_parameter"


def test_missing_image_parameter(emulator: Emulator) -> None:
    """Only text fields: 'image' is missing."""
    response = httpx.post(f"{emulator.base_url}/images/edits",
                          files={"model": (None, "gpt-image-2"), "prompt": (None, "x")},
                          headers={"Authorization": "Bearer k"})
    error = error_of(response)
    assert error["code"] == "missing_required_parameter" and error["param"] == "image"


def test_accepts_16_images_and_refuses_17(emulator: Emulator) -> None:
    """Up to 16 input images."""
    small = photo((8, 8))
    assert post(emulator, [png_part(small)] * 16).status_code == 200
    error = error_of(post(emulator, [png_part(small)] * 17))
    assert error["code"] == "array_above_max_length"


def test_image_and_image_array_fields_combine(emulator: Emulator) -> None:
    """'image' and 'image[]' parts are both input images."""
    response = post(emulator, [png_part(field="image"), png_part(field="image[]")])
    assert response.status_code == 200
    assert response.json()["usage"]["input_tokens_details"]["image_tokens"] == 2 * 255


def test_refuses_an_image_sent_as_text(emulator: Emulator) -> None:
    """A text field named image is a type error."""
    response = httpx.post(f"{emulator.base_url}/images/edits",
                          files={"image": (None, "body-lotion.png"), "model": (None, "gpt-image-2"),
                                 "prompt": (None, "x")},
                          headers={"Authorization": "Bearer k"})
    assert error_of(response)["code"] == "invalid_type"


def test_refuses_an_unsupported_mimetype(emulator: Emulator) -> None:
    """A part declared as application/octet-stream is refused, as OpenAI does."""
    error = error_of(post(emulator, [png_part(media="application/octet-stream")]))
    assert error["code"] == "unsupported_file_mimetype"


@pytest.mark.parametrize("data", [b"GIF89a" + b"\x00" * 40, b"plain text, no picture",
                                  encoded(photo())[:60]])
def test_refuses_bytes_that_are_no_valid_image(emulator: Emulator, data: bytes) -> None:
    """A GIF, text, or a truncated PNG is an invalid image file."""
    error = error_of(post(emulator, [("image[]", ("a.png", data, "image/png"))]))
    assert error["code"] == "invalid_image_file" and "image 1" in error["message"]


def test_refuses_an_image_over_50_mb(emulator: Emulator) -> None:
    """Each image is at most 50 MB."""
    big = encoded(photo()) + b"\x00" * (MAX_INPUT_BYTES)
    error = error_of(post(emulator, [("image[]", ("big.png", big, "image/png"))]))
    assert error["code"] == "image_too_large"


def test_refuses_a_mask_without_alpha(emulator: Emulator) -> None:
    """The mask must contain an alpha channel."""
    error = error_of(post(emulator, [png_part(), png_part(bw_mask(), "m.png", "mask")]))
    assert error["param"] == "mask" and "alpha channel" in error["message"]


def test_refuses_a_mask_of_another_format(emulator: Emulator) -> None:
    """The mask must have the first image's format."""
    files = [png_part(fmt="JPEG", name="a.jpg", media="image/jpeg"),
             png_part(alpha_mask(), "m.png", "mask")]
    error = error_of(post(emulator, files))
    assert "same format" in error["message"] and "jpeg" in error["message"]


def test_refuses_a_mask_of_other_dimensions(emulator: Emulator) -> None:
    """The mask must have the first image's dimensions."""
    error = error_of(post(emulator, [png_part(photo((64, 48))),
                                     png_part(alpha_mask((32, 24)), "m.png", "mask")]))
    assert "64x48" in error["message"] and "32x24" in error["message"]


def test_mask_applies_to_the_first_image(emulator: Emulator) -> None:
    """Only the first image must match the mask; the others may differ."""
    files = [png_part(photo((64, 48))), png_part(photo((20, 20))),
             png_part(alpha_mask((64, 48)), "m.png", "mask")]
    assert post(emulator, files).status_code == 200


@pytest.mark.parametrize(("field", "code"), [("input_fidelity", "unsupported_parameter"),
                                             ("stream", "unknown_parameter")])
def test_refuses_fields_the_gateway_does_not_take(emulator: Emulator, field: str, code: str
                                                  ) -> None:
    """input_fidelity is never sent to gpt-image-2; unknown fields are refused."""
    error = error_of(post(emulator, [png_part()], {field: "high"}))
    assert error["param"] == field and error["code"] == code


def test_option_rules_apply(emulator: Emulator) -> None:
    """Size and compression follow the rules of generations."""
    assert error_of(post(emulator, [png_part()], {"size": "100x100"}))["param"] == "size"
    error = error_of(post(emulator, [png_part()], {"output_compression": "50"}))
    assert error["param"] == "output_compression"


def decode(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(base64.b64decode(response.json()["data"][0]["b64_json"])))


def test_placeholder_derives_from_the_first_image(emulator: Emulator) -> None:
    """The answer is the first image cropped to the asked size, in the asked format."""
    red = Image.new("RGB", (300, 300), (220, 10, 10))
    picture = decode(post(emulator, [png_part(red), png_part(Image.new("RGB", (9, 9)))],
                          {"size": "1024x1536", "output_format": "jpeg"}))
    assert picture.format == "JPEG" and picture.size == (1024, 1536)
    r, g, b = picture.convert("RGB").getpixel((900, 1400))
    assert r > 180 and g < 60 and b < 60


def test_placeholder_shows_the_masked_area(emulator: Emulator) -> None:
    """The area the mask opens is filled with the prompt's colour; the rest is kept."""
    grey = Image.new("RGB", (200, 200), (128, 128, 128))
    mask = alpha_mask((200, 200), hole=(0, 100, 99, 199))  # bottom-left quarter
    picture = decode(post(emulator, [png_part(grey), png_part(mask, "m.png", "mask")],
                          {"size": "1024x1024"})).convert("RGB")
    assert picture.getpixel((100, 950)) == colour_for("a hat")
    assert picture.getpixel((950, 100)) == (128, 128, 128)


def test_auto_size_follows_the_first_image(emulator: Emulator) -> None:
    """With size auto, a portrait image gives a portrait answer."""
    picture = decode(post(emulator, [png_part(photo((60, 100)))], {"size": None}))
    assert picture.size == (1024, 1536)
