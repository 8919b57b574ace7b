"""The emulator's POST /responses: the gateway's rules, the event sequence, the SDK samples."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.emulator.textmodel import revise, subjects

INSTRUCTIONS = "You are a helpful image generation assistant."
THREE = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"


@pytest.fixture
def slow_emulator() -> Any:
    """An emulator that takes a little time per image, sending keepalives meanwhile."""
    with Emulator(EmulatorConfig(latency=0.08, keepalive_interval=0.02)) as emu:
        yield emu


def body(text: str = "a red fox", **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": "gpt-5.5", "instructions": INSTRUCTIONS,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
        "stream": True, "tools": [{"type": "image_generation", "quality": "low",
                                   "size": "1024x1024"}],
    }
    request.update(extra)
    return {k: v for k, v in request.items() if v is not None}


def post(emulator: Emulator, payload: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/responses", json=payload,
                      headers={"Authorization": "Bearer k"}, timeout=30)


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in response.text.splitlines()
            if line.startswith("data: ")]


def test_reference_python_sample_one_image(slow_emulator, tmp_path: Path, monkeypatch) -> None:
    """The doc's streaming sample, only base URL and key changed, writes output.png."""
    monkeypatch.chdir(tmp_path)
    client = openai.OpenAI(base_url=slow_emulator.base_url, api_key="YOUR_API_KEY")
    stream = client.responses.create(
        model="gpt-5.5",
        instructions="You are a helpful image generation assistant.",
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "Generate an image of a cat hugging an otter with an orange scarf",
                    },
                ],
            },
        ],
        stream=True,
        tools=[{"type": "image_generation"}],
    )
    for event in stream:
        if event.type == "response.image_generation_call.partial_image":
            image_base64 = event.partial_image_b64
            image_bytes = base64.b64decode(image_base64)
            with open("output.png", "wb") as f:  # noqa: PTH123 - the sample's own code
                f.write(image_bytes)
    assert Image.open(tmp_path / "output.png").format == "PNG"


def test_reference_python_sample_three_images(slow_emulator, tmp_path: Path, monkeypatch,
                                              capsys) -> None:
    """The doc's three-image sample writes output_0..2.png and counts three."""
    monkeypatch.chdir(tmp_path)
    client = openai.OpenAI(base_url=slow_emulator.base_url, api_key="YOUR_API_KEY")
    stream = client.responses.create(
        model="gpt-5.5",
        instructions="You are a helpful image generation assistant. Generate ALL images the user requests.",  # noqa: E501
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle",  # noqa: E501
                    },
                ],
            },
        ],
        stream=True,
        tools=[{"type": "image_generation", "quality": "low", "size": "1024x1024"}],
    )
    img_index = 0
    for event in stream:
        if event.type == "response.image_generation_call.partial_image":
            image_bytes = base64.b64decode(event.partial_image_b64)
            with open(f"output_{img_index}.png", "wb") as f:  # noqa: PTH123
                f.write(image_bytes)
            img_index += 1
    print(f"共生成 {img_index} 张图片")
    assert capsys.readouterr().out == "共生成 3 张图片\n"
    sizes = {Image.open(tmp_path / f"output_{i}.png").size for i in range(3)}
    assert sizes == {(1024, 1024)}


def test_sdk_stream_receives_item_result(emulator, tmp_path: Path) -> None:
    """The openai SDK's typed events carry the image twice: whole as the partial image and
    as item.result of response.output_item.done, the same bytes, for each image call."""
    client = openai.OpenAI(base_url=emulator.base_url, api_key="k")
    stream = client.responses.create(
        model="gpt-5.5", instructions=INSTRUCTIONS, stream=True,
        input=[{"role": "user", "content": [{"type": "input_text", "text": THREE}]}],
        tools=[{"type": "image_generation", "quality": "low", "size": "1024x1024",
                "output_format": "webp"}],
    )
    partials: dict[str, str] = {}
    results: dict[str, str] = {}
    for event in stream:
        if event.type == "response.image_generation_call.partial_image":
            partials[event.item_id] = event.partial_image_b64
        elif event.type == "response.output_item.done" and event.item.type == (
                "image_generation_call"):
            assert event.item.status == "completed" and event.item.result is not None
            results[event.item.id] = event.item.result
        elif event.type == "response.completed":
            assert event.response.usage is not None
    assert len(results) == 3 and results == partials
    for encoded in results.values():
        image = Image.open(io.BytesIO(base64.b64decode(encoded)))
        assert image.format == "WEBP" and image.size == (1024, 1024)


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl")
def test_reference_curl_sample_streams_events(emulator, tmp_path: Path) -> None:
    """The doc's curl -sN sample receives the whole event sequence."""
    payload = json.dumps(body("Generate an image of a cat hugging an otter"))
    out = subprocess.run(
        ["curl", "-sN", f"{emulator.base_url}/responses", "-H", "Authorization: Bearer k",
         "-H", "Content-Type: application/json", "-d", payload],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    assert "event: response.created" in out and out.rstrip().endswith("}")
    assert "event: response.completed" in out


def test_event_sequence_with_keepalives(slow_emulator) -> None:
    """Events come in SPEC order, numbered from 0, with keepalives, the image as item.result."""
    answer = post(slow_emulator, body())
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert ": keepalive\n\n" in answer.text
    events = events_of(answer)
    kinds = [e["type"] for e in events if e["type"] != "keepalive"]
    assert kinds == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.image_generation_call.in_progress", "response.image_generation_call.generating",
        "response.image_generation_call.partial_image", "response.output_item.done",
        "response.completed",
    ]
    assert "keepalive" in [e["type"] for e in events]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    partial = next(e for e in events if e["type"].endswith("partial_image"))
    image = Image.open(io.BytesIO(base64.b64decode(partial["partial_image_b64"])))
    assert image.size == (1024, 1024) and partial["size"] == "1024x1024"
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["revised_prompt"] == revise("a red fox")
    # SPEC section 5: the whole image as the partial image (the gateway's way) and again
    # as item.result (OpenAI's way), so a client written either way gets it.
    assert done["item"]["result"] == partial["partial_image_b64"]
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert 1600 <= completed["usage"]["total_tokens"] <= 2300
    assert completed["tool_usage"]["image_gen"]["output_tokens"] == 200


def test_one_call_per_image_asked_for(emulator) -> None:
    """'Generate 3 different images: 1) ... 2) ... 3) ...' makes three image calls."""
    events = events_of(post(emulator, body(THREE)))
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [d["revised_prompt"] for d in done] == [
        revise("a red circle"), revise("a blue square"), revise("a green triangle")]
    assert len({d["id"] for d in done}) == 3
    assert [e["output_index"] for e in events if e["type"].endswith("partial_image")] == [0, 1, 2]


def test_partial_images_option_sends_previews_and_a_result(emulator) -> None:
    """With partial_images (OpenAI's way) previews stream and the image is item.result."""
    payload = body(tools=[{"type": "image_generation", "size": "1024x1024", "quality": "low",
                           "partial_images": 2}])
    events = events_of(post(emulator, payload))
    assert len([e for e in events if e["type"].endswith("partial_image")]) == 2
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert Image.open(io.BytesIO(base64.b64decode(done["item"]["result"]))).format == "PNG"


def test_serves_the_configured_image_file(tmp_path: Path) -> None:
    """EmulatorConfig.image_file is what every image call sends."""
    picture = tmp_path / "fixed.jpg"
    Image.new("RGB", (1024, 1024), "navy").save(picture, "JPEG")
    with Emulator(EmulatorConfig(image_file=picture)) as emu:
        events = events_of(post(emu, body()))
    partial = next(e for e in events if e["type"].endswith("partial_image"))
    assert base64.b64decode(partial["partial_image_b64"]) == picture.read_bytes()
    assert partial["output_format"] == "jpeg"


def test_input_images_are_accepted_and_counted(emulator) -> None:
    """An input_image data URI is decoded; it adds input image tokens."""
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), "red").save(buffer, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    payload = body(input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Make this a watercolor"},
        {"type": "input_image", "image_url": uri}]}])
    completed = events_of(post(emulator, payload))[-1]["response"]
    assert completed["tool_usage"]["image_gen"]["input_tokens_details"]["image_tokens"] > 0


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"instructions": None}, 400, "Instructions are required"),
        ({"instructions": "  "}, 400, "Instructions are required"),
        ({"input": "a red fox"}, 400, "Input must be a list"),
        ({"stream": None}, 500, "Non-streaming"),
        ({"stream": False}, 500, "Non-streaming"),
        ({"n": 2}, 400, "'n'"),
        ({"previous_response_id": "resp_1"}, 400, "previous_response_id"),
        ({"model": "gpt-4o-mini"}, 404, "does not exist"),
        ({"tools": [{"type": "image_generation", "action": "edit"}]}, 400, "needs an input"),
        ({"tools": [{"type": "image_generation", "size": "1000x1000"}]}, 400, "Invalid size"),
        ({"tools": [{"type": "image_generation", "colour": "red"}]}, 400, "Unknown parameter"),
        ({"input": [{"role": "user", "content": [
            {"type": "input_text", "text": "x"},
            {"type": "input_image", "image_url": "https://example.com/a.png"}]}]},
         400, "data URI"),
    ],
)
def test_gateway_rules(emulator, change, status, message) -> None:
    """Each gateway rule answers its status and message in OpenAI's error shape."""
    answer = post(emulator, body(**change))
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]
    assert answer.headers["x-request-id"].startswith("req_")


def test_subjects_split_enumerations_or_repeat() -> None:
    """Enumerated prompts (English or Chinese marks) split per image; otherwise each image
    is a variation."""
    assert subjects(THREE) == ["a red circle", "a blue square", "a green triangle"]
    assert subjects("a fox: red") == ["a fox: red"]
    assert subjects("Generate 2 images: a fox") == [
        "a fox (variation 1 of 2)", "a fox (variation 2 of 2)"]
    assert subjects("生成３张图片：（1）猫（2）狗（3）鸟") == ["猫", "狗", "鸟"]
    assert subjects("请画两幅画：①春天的樱花 ②秋天的枫叶") == ["春天的樱花", "秋天的枫叶"]
    assert subjects("画一张有三张照片的拼贴画") == ["画一张有三张照片的拼贴画"]
