"""Conversations on /responses: the whole history resent as ``input``, as the gateway
takes it (SPEC.md section 5), and answers that visibly build on the last image."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from vibeimg.emulator import Emulator, contract
from vibeimg.emulator.placeholder import colour_for
from vibeimg.emulator.responses_request import read_input
from vibeimg.emulator.routing import GatewayFault
from vibeimg.emulator.textmodel import revise

RED, BLUE = (210, 20, 20), (20, 20, 210)


def data_uri(colour: tuple[int, int, int], size: tuple[int, int] = (512, 512),
             fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    media = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return f"data:{media};base64," + base64.b64encode(buffer.getvalue()).decode()


def user(text: str, *images: str) -> dict[str, Any]:
    return {"role": "user", "content": [
        {"type": "input_text", "text": text},
        *({"type": "input_image", "image_url": uri} for uri in images)]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "output_text", "text": text}]}


def ask(emulator: Emulator, messages: list[Any], **tool: Any) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/responses", headers={"Authorization": "Bearer k"},
                      timeout=60, json={
                          "model": "gpt-5.5", "instructions": "Make images.", "stream": True,
                          "input": messages,
                          "tools": [{"type": "image_generation", "quality": "low", **tool}]})


def events(answer: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in answer.text.splitlines()
            if line.startswith("data: ")]


def answered_image(answer: httpx.Response) -> Image.Image:
    assert answer.status_code == 200, answer.text
    done = next(e for e in events(answer) if e["type"] == "response.output_item.done")
    return Image.open(io.BytesIO(base64.b64decode(done["item"]["result"]))).convert("RGB")


def corner(image: Image.Image) -> tuple[int, int, int]:
    """A pixel far from the text in the middle and the label at the top left."""
    pixel = image.getpixel((image.width - 3, image.height - 3))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def test_a_later_turn_is_drawn_on_the_earlier_image(emulator: Emulator) -> None:
    """Turn 2 carries turn 1's image: the answer is that image, scaled, under the prompt."""
    first = answered_image(ask(emulator, [user("a red square")], size="1024x1024"))
    buffer = io.BytesIO()
    first.save(buffer, "PNG")
    earlier = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    answer = ask(emulator, [user("a red square"), assistant("Here is your red square."),
                            user("now add a hat", earlier)], size="1024x1024")
    image = answered_image(answer)
    assert corner(image) == corner(first) == colour_for("a red square")
    assert corner(image) != colour_for("now add a hat")
    done = next(e for e in events(answer) if e["type"] == "response.output_item.done")
    assert done["item"]["revised_prompt"] == revise("now add a hat")  # this turn's words


def test_the_last_image_of_the_input_is_the_background(emulator: Emulator) -> None:
    """Several images in the history: the answer builds on the latest one."""
    answer = ask(emulator, [user("a red one", data_uri(RED)), assistant("Done."),
                            user("now blue", data_uri(BLUE))], size="1024x1024")
    assert corner(answered_image(answer)) == BLUE


def test_without_an_image_the_background_is_the_prompts_colour(emulator: Emulator) -> None:
    """A conversation of text only is drawn as any prompt: on the prompt's colour."""
    answer = ask(emulator, [user("a fox"), assistant("Here."), user("a heron")],
                 size="1024x1024")
    assert corner(answered_image(answer)) == colour_for("a heron")


def test_action_generate_ignores_the_input_image(emulator: Emulator) -> None:
    """action: generate forces a new image: not drawn on the input image."""
    answer = ask(emulator, [user("a heron", data_uri(RED))], size="1024x1024",
                 action="generate")
    assert corner(answered_image(answer)) == colour_for("a heron")


def test_auto_size_follows_the_input_image(emulator: Emulator) -> None:
    """size auto with a landscape input image: the landscape common size."""
    image = answered_image(ask(emulator, [user("wider", data_uri(RED, (900, 500), "JPEG"))]))
    assert image.size == (1536, 1024) and corner(image)[0] > 150


def test_sixteen_images_in_a_conversation_are_taken(emulator: Emulator) -> None:
    """Images spread over several turns count together: 16 are fine."""
    tiny = data_uri(RED, (16, 16))
    messages = [user(f"turn {i}", tiny, tiny) for i in range(8)]
    assert ask(emulator, messages, size="1024x1024").status_code == 200


def test_a_seventeenth_image_is_refused(emulator: Emulator) -> None:
    """Held to the edit limit of 16 images, counted over the whole input."""
    tiny = data_uri(RED, (16, 16))
    messages = [*(user(f"turn {i}", tiny, tiny) for i in range(8)), user("one more", tiny)]
    answer = ask(emulator, messages)
    assert answer.status_code == 400
    assert "at most 16" in answer.json()["error"]["message"]


def test_an_image_over_50_mb_is_refused() -> None:
    """Each input image is held to 50 MB (decoded), like an edit's."""
    too_big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(contract.MAX_FILE_BYTES)).decode()
    with pytest.raises(GatewayFault, match="more than 50000000 bytes"):
        read_input({"input": [user("x", "data:image/png;base64," + too_big)]})


@pytest.mark.parametrize(("messages", "message"), [
    ([{"content": [{"type": "input_text", "text": "x"}]}], "'input[0].role'"),
    ([{"role": "robot", "content": "x"}], "Supported values"),
    ([user("x"), {"role": "assistant", "content": [
        {"type": "input_image", "image_url": data_uri(RED)}]}], "output_text"),
    ([{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}], "input_image"),
    ([user("x"), assistant("Only the model spoke last.")], None),
    ([user("x", data_uri(RED)), {"role": "user", "content": [
        {"type": "input_image", "image_url": data_uri(BLUE)}]}], "holds no text"),
    ([], "holds no text"),
])
def test_message_rules(emulator: Emulator, messages: list[Any], message: str | None) -> None:
    """Roles and content types as OpenAI's wire format has them; the last user turn needs
    text (an answer may come last: the last user turn is still this turn's prompt)."""
    answer = ask(emulator, messages)
    if message is None:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 400
        assert message in answer.json()["error"]["message"]


def test_the_sdk_sends_a_conversation(emulator: Emulator) -> None:
    """The openai SDK, a conversation as its input (with a string assistant turn): the
    image arrives as item.result, drawn on the earlier image."""
    client = openai.OpenAI(base_url=emulator.base_url, api_key="k")
    stream = client.responses.create(
        model="gpt-5.5", instructions="Make images.", stream=True,
        input=[user("a red square", data_uri(RED)),
               {"role": "assistant", "content": "Here it is."},
               user("now with a hat", data_uri(BLUE))],
        tools=[{"type": "image_generation", "size": "1024x1024", "quality": "low"}],
    )
    results = [event.item.result for event in stream
               if event.type == "response.output_item.done"
               and event.item.type == "image_generation_call"]
    assert len(results) == 1 and results[0] is not None
    image = Image.open(io.BytesIO(base64.b64decode(results[0]))).convert("RGB")
    assert corner(image) == BLUE
