"""The emulator speaks the gateway's wire format: the official SDK and curl work unchanged."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.emulator.faults import FaultQueue

REFERENCE_PROMPT = """
A children's book drawing of a veterinarian using a stethoscope to
listen to the heartbeat of a baby otter.
"""


def test_reference_python_sample(emulator: Emulator, tmp_path: Path, monkeypatch) -> None:
    """The doc's images.generate sample, only base URL and key changed, writes a PNG."""
    monkeypatch.chdir(tmp_path)
    client = openai.OpenAI(base_url=emulator.base_url, api_key="YOUR_API_KEY")
    result = client.images.generate(model="gpt-image-2", prompt=REFERENCE_PROMPT)
    image_base64 = result.data[0].b64_json
    image_bytes = base64.b64decode(image_base64)
    with open("otter.png", "wb") as f:  # noqa: PTH123 - the sample's own code
        f.write(image_bytes)
    image = Image.open(tmp_path / "otter.png")
    assert image.format == "PNG" and image.size == (1024, 1024)
    assert result.usage is not None and result.usage.output_tokens > 0


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl, jq")
def test_reference_curl_sample(emulator: Emulator, tmp_path: Path) -> None:
    """The doc's curl | jq | base64 pipeline works against the emulator."""
    script = (
        f'curl -s -X POST "{emulator.base_url}/images/generations" '
        '-H "Authorization: Bearer $OPENAI_API_KEY" -H "Content-type: application/json" '
        "-d '{\"model\": \"gpt-image-2\", \"prompt\": \"A childrens book drawing of an otter.\"}'"
        " | jq -r '.data[0].b64_json' | base64 --decode > otter.png"
    )
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True,
                   env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "k"})
    assert Image.open(tmp_path / "otter.png").format == "PNG"


def post(emulator: Emulator, body: object, key: str | None = "k") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{emulator.base_url}/images/generations", json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"prompt": "x"}, 400, "model"),
        ({"model": "dall-e-2", "prompt": "x"}, 404, "model"),
        ({"model": "gpt-image-2"}, 400, "prompt"),
        ({"model": "gpt-image-2", "prompt": "x" * 32_001}, 400, "prompt"),
        ({"model": "gpt-image-2", "prompt": "x", "size": "1000x1000"}, 400, "size"),
        ({"model": "gpt-image-2", "prompt": "x", "size": "512x512"}, 400, "size"),
        ({"model": "gpt-image-2", "prompt": "x", "quality": "ultra"}, 400, "quality"),
        ({"model": "gpt-image-2", "prompt": "x", "output_format": "gif"}, 400, "output_format"),
        ({"model": "gpt-image-2", "prompt": "x", "output_compression": 50}, 400,
         "output_compression"),
        ({"model": "gpt-image-2", "prompt": "x", "output_format": "jpeg",
          "output_compression": 101}, 400, "output_compression"),
        ({"model": "gpt-image-2", "prompt": "x", "background": "transparent"}, 400,
         "background"),
        ({"model": "gpt-image-2", "prompt": "x", "moderation": "none"}, 400, "moderation"),
        ({"model": "gpt-image-2", "prompt": "x", "style": "vivid"}, 400, "style"),
    ],
)
def test_rules_answer_with_gateway_errors(emulator, body, status, param) -> None:
    """Each rule of SPEC sections 2 and 4 answers an OpenAI-shaped error with a request id."""
    response = post(emulator, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param and error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    assert response.headers["x-request-id"].startswith("req_")


def test_missing_bearer_is_401(emulator) -> None:
    """No Authorization header: 401 with an error body."""
    response = post(emulator, {"model": "gpt-image-2", "prompt": "x"}, key=None)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]["message"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("prompt", 123, "Invalid type for 'prompt': expected a string, but got an integer "
                    "instead."),
    ("prompt", ["a fox"], "Invalid type for 'prompt': expected a string, but got an array "
                          "instead."),
    ("n", "x", "Invalid type for 'n': expected an integer, but got a string instead."),
    ("n", 1.5, "Invalid type for 'n': expected an integer, but got a decimal instead."),
    ("n", True, "Invalid type for 'n': expected an integer, but got a boolean instead."),
])
def test_a_value_of_the_wrong_type_is_named_as_such(emulator, field, value, message) -> None:
    """"prompt": 123 is an invalid type, not a missing prompt; "n": "x" is refused too."""
    response = post(emulator, {"model": "gpt-image-2", "prompt": "x", field: value})
    assert response.status_code == 400
    assert response.json()["error"] == {"message": message, "type": "invalid_request_error",
                                        "param": field, "code": "invalid_type"}


def test_n_is_silently_ignored(emulator) -> None:
    """n=4 still answers exactly one image."""
    response = post(emulator, {"model": "gpt-image-2", "prompt": "x", "n": 4})
    assert response.status_code == 200 and len(response.json()["data"]) == 1


def test_url_answers_a_data_uri_in_the_asked_format(emulator) -> None:
    """response_format=url answers a data: URI, not a link, in the asked format and size."""
    response = post(emulator, {"model": "gpt-image-2", "prompt": "x", "response_format": "url",
                               "output_format": "webp", "size": "1536x1024"})
    url = response.json()["data"][0]["url"]
    assert url.startswith("data:image/webp;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.format == "WEBP" and image.size == (1536, 1024)
    assert response.json()["size"] == "1536x1024"


def test_placeholder_is_deterministic(emulator) -> None:
    """The same prompt and options draw the same image."""
    body = {"model": "gpt-image-2", "prompt": "same", "size": "1024x1024"}
    first, second = post(emulator, body).json(), post(emulator, body).json()
    assert first["data"][0]["b64_json"] == second["data"][0]["b64_json"]


def test_every_answer_is_logged(emulator) -> None:
    """The request log keeps method, path, body and the status answered."""
    post(emulator, {"model": "gpt-image-2", "prompt": "logged"})
    post(emulator, {"model": "gpt-image-2", "prompt": ""})
    log = emulator.requests
    assert [(r.path, r.status) for r in log] == [
        ("/images/generations", 200), ("/images/generations", 400)]
    assert json.loads(log[0].body)["prompt"] == "logged"


def test_serves_a_given_image_file(tmp_path) -> None:
    """image_file makes every answer carry that exact file (for benchmarks)."""
    source = tmp_path / "given.jpg"
    Image.new("RGB", (64, 64), "red").save(source, "JPEG")
    with Emulator(EmulatorConfig(image_file=source)) as emu:
        data = post(emu, {"model": "gpt-image-2", "prompt": "x"}).json()
    assert base64.b64decode(data["data"][0]["b64_json"]) == source.read_bytes()
    assert data["output_format"] == "jpeg"


def test_no_metadata_fault_answers_only_created_and_data(emulator) -> None:
    """The no-metadata fault sends the least the contract promises: created and data."""
    emulator.add_fault("no-metadata")
    data = post(emulator, {"model": "gpt-image-2", "prompt": "x", "size": "1536x1024"}).json()
    assert sorted(data) == ["created", "data"]
    image = Image.open(io.BytesIO(base64.b64decode(data["data"][0]["b64_json"])))
    assert image.size == (1536, 1024)


def test_stream_faults_wait_for_a_stream() -> None:
    """A queued stream fault is not used up by an image request; a status fault is."""
    queue = FaultQueue(["stream-cut", "500"])
    fault = queue.take(stream=False)
    assert fault is not None and fault.kind == "500"
    assert queue.take(stream=False) is None
    fault = queue.take(stream=True)
    assert fault is not None and fault.kind == "stream-cut"
