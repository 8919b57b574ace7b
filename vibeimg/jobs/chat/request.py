"""A ``POST /responses`` request for ``chat-stream``, checked before anything is sent.

The gateway's Responses API differs from OpenAI's (SPEC.md section 5): ``stream``
and ``instructions`` are mandatory, ``input`` must be a list of messages, and
there is no ``n``: several images are asked for in the prompt itself, and the
text model calls the image tool once per image. Input images travel as data URIs.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError
from vibeimg.jobs.chat import DEFAULT_INSTRUCTIONS, DEFAULT_TEXT_MODEL, MAX_IMAGES

# Re-exported: how many images a prompt asks for is part of what a request is.
from vibeimg.jobs.chat.counts import images_asked as images_asked  # noqa: PLC0414
from vibeimg.jobs.chat.counts import numbered_items as numbered_items  # noqa: PLC0414
from vibeimg.jobs.chat.counts import subject_text, with_count
from vibeimg.params import DEFAULT_MODEL, ImageOptions, check_choice, check_prompt

ACTIONS = ("auto", "generate", "edit")
MAX_PARTIAL_IMAGES = 3
MAX_INPUT_IMAGES = 16  # SPEC.md section 5: no documented limit; the edit limit is held
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

def prompt_for_count(prompt: str, count: int) -> str:
    """The prompt asking the text model for ``count`` images (the gateway has no ``n``).

    Left as it is for one image unless its own words ask for more: then, as for any
    count, the words asking for ``count`` come first, and the model acts on those. They
    are Chinese for a Chinese prompt, so the request reads as one language. A count of
    several images in the prompt's own words is made ``count`` too (-n 3 with "Make 2
    pictures of dogs" sends "... Make 3 pictures of dogs"), so the two never disagree.
    """
    chinese = _is_chinese(prompt)
    said = images_asked(prompt)
    prompt = with_count(prompt, count)
    if count <= 1:
        if said <= 1:
            return prompt
        if chinese:
            return f"只生成 1 张图片，只调用一次图像生成工具，请求如下：{prompt}"
        return f"Generate 1 image, with a single image generation call, for this request: {prompt}"
    if chinese:
        return (f"请生成 {count} 张不同的图片，每张图片各调用一次图像生成工具，"
                f"每张都是对以下请求的不同诠释：{prompt}")
    return (f"Generate {count} different images, one image generation call per image, "
            f"each a distinct take on this request: {prompt}")


def _is_chinese(text: str) -> bool:
    """Han characters and no kana: Chinese rather than Japanese, or English."""
    han = sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")
    kana = any("\u3040" <= c <= "\u30ff" for c in text)
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return han > 0 and not kana and han * 2 >= latin


@dataclass(frozen=True)
class InputImage:
    """A local image checked for the ``input_image`` content item."""

    path: Path
    format: str
    data: bytes
    width: int
    height: int

    def data_uri(self) -> str:
        encoded = base64.b64encode(self.data).decode("ascii")
        return f"data:{_MEDIA_TYPES[self.format]};base64,{encoded}"


def check_chat_input_image(path: Path, what: str = "input image") -> InputImage:
    """An input image for ``chat-stream``, checked as ``edit`` checks its inputs: it
    exists, is at most 50 MB, is really PNG, JPEG or WebP, and is whole and undamaged."""
    from vibeimg.files.inputs import read_source  # noqa: PLC0415 - Pillow only with images
    from vibeimg.jobs.edit_inputs import check_image  # noqa: PLC0415 - Pillow only with -i

    checked = check_image(read_source(path, what=what), what=what)
    return InputImage(path=path, format=checked.format, data=checked.source.data,
                      width=checked.width, height=checked.height)


@dataclass(frozen=True)
class EarlierTurn:
    """An earlier turn of a conversation, resent as a user message: its words, and the
    images chosen to go with it (those the turn before it made, as ``input_image``)."""

    text: str
    images: tuple[InputImage, ...] = ()


@dataclass(frozen=True)
class Conversation:
    """Where a request stands in a session that vibeimg keeps: the gateway has no
    ``previous_response_id`` (SPEC.md section 5), so the earlier turns are resent."""

    session: str
    turn: int
    context: str  # which earlier images go with it: last, all, or a number
    earlier: tuple[EarlierTurn, ...] = ()
    resent: tuple[Path, ...] = ()  # the session's own images sent again, in any message

    def fields(self) -> dict[str, Any]:
        """What sidecars, run documents and the history record of it."""
        return {"session": self.session, "turn": self.turn, "context": self.context,
                "earlier_turns": len(self.earlier),
                "images_resent": [str(path) for path in self.resent]}


def _content(text: str, images: Sequence[InputImage], abbreviate: bool) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    for image in images:
        uri = (f"data:{_MEDIA_TYPES[image.format]};base64,... ({len(image.data):,} bytes "
               f"from {image.path})" if abbreviate else image.data_uri())
        content.append({"type": "input_image", "image_url": uri})
    return content


@dataclass(frozen=True)
class ChatStreamRequest:
    """Everything one ``chat-stream`` run sends; build it with :meth:`build`."""

    prompt: str  # the user's own words
    options: ImageOptions  # the image tool's options
    model: str = DEFAULT_TEXT_MODEL
    instructions: str = DEFAULT_INSTRUCTIONS
    action: str = "auto"
    count: int | None = None  # images asked for with -n; None: as the prompt's words say
    images: tuple[InputImage, ...] = ()
    partial_images: int | None = None
    conversation: Conversation | None = None  # the session's earlier turns, resent

    @classmethod
    def build(
        cls,
        prompt: str,
        *,
        model: str = DEFAULT_TEXT_MODEL,
        instructions: str = DEFAULT_INSTRUCTIONS,
        size: str = "auto",
        quality: str = "auto",
        output_format: str = "png",
        compression: int | None = None,
        moderation: str = "auto",
        action: str = "auto",
        count: int | None = None,
        images: Sequence[Path] = (),
        partial_images: int | None = None,
    ) -> ChatStreamRequest:
        """Check every value as the gateway would, before sending; raises UsageError."""
        prompt = check_prompt(prompt.strip())
        if not model.strip():
            raise UsageError("the text model name is empty",
                             hint=f"omit --model to use {DEFAULT_TEXT_MODEL}")
        if not instructions.strip():
            raise UsageError("the instructions are empty, and the gateway requires them",
                             hint="omit --instructions to send the default")
        options = ImageOptions.build(
            model=DEFAULT_MODEL, size=size, quality=quality, output_format=output_format,
            compression=compression, moderation=moderation,
        )
        action = check_choice("action", action.lower(), ACTIONS)
        if action == "edit" and not images:
            raise UsageError("--action edit needs an image to edit",
                             hint="add -i IMAGE, or use --action auto or generate")
        if count is not None and not 1 <= count <= MAX_IMAGES:
            raise UsageError(f"-n must be between 1 and {MAX_IMAGES}, not {count}",
                             hint="several images come from one response; ask for fewer")
        if partial_images is not None and not 0 <= partial_images <= MAX_PARTIAL_IMAGES:
            raise UsageError(f"--partial-images must be between 0 and {MAX_PARTIAL_IMAGES}",
                             param="partial_images")
        if len(images) > MAX_INPUT_IMAGES:
            raise UsageError(f"{len(images)} input images; at most {MAX_INPUT_IMAGES} are sent",
                             hint="the gateway documents no limit here, so vibeimg holds "
                             "the edit limit; give fewer -i")
        checked = tuple(check_chat_input_image(Path(p)) for p in images)
        return cls(prompt=prompt, options=options, model=model.strip(),
                   instructions=instructions.strip(), action=action, count=count,
                   images=checked, partial_images=partial_images)

    @property
    def prompt_count(self) -> int:
        """How many images the prompt's own words ask for ("Generate 3 images"), uncapped."""
        return images_asked(self.prompt)

    @property
    def asked_count(self) -> int | None:
        """The count the prompt sent asks for in words of vibeimg's own, or None when the
        prompt goes as it is: -n when given, else the prompt's count capped at MAX_IMAGES."""
        if self.count is not None:
            return self.count
        return MAX_IMAGES if self.prompt_count > MAX_IMAGES else None

    @property
    def text(self) -> str:
        """The prompt as sent: asks for ``asked_count`` images when there is one (with the
        prompt's own count made that number: see :func:`prompt_for_count`)."""
        asked = self.asked_count
        if asked is None:
            return self.prompt
        return prompt_for_count(self.prompt, asked)

    @property
    def count_notices(self) -> list[str]:
        """What the user should know about the count asked for, when it differs from
        the prompt's own words."""
        said = self.prompt_count
        if self.count is not None and said > 1 and self.count != said:
            return [f"-n {self.count} wins over the {said} images the prompt asks for: "
                    f"the prompt is sent asking for {self.count}"]
        if self.count is None and said > MAX_IMAGES:
            return [f"the prompt asks for {said} images, but one response holds at most "
                    f"{MAX_IMAGES}: the prompt is sent asking for {MAX_IMAGES} (send the "
                    "rest in another run)"]
        return []

    @property
    def slug_text(self) -> str:
        """The words to name files after: the prompt without "Generate 3 images:"."""
        return subject_text(self.prompt.strip())

    @property
    def image_slug_texts(self) -> list[str]:
        """One text per image to name its file after, when the prompt numbers its images
        ("1) a fox 2) a heron", "1）猫 2）狗") and asks for several: the model calls the
        tool once per item, in order. One image is named after the whole prompt."""
        return numbered_items(self.slug_text) if self.expected_images > 1 else []

    @property
    def expected_images(self) -> int:
        """How many images the prompt sent asks for: -n when given (it wins over the
        prompt's words), else the prompt's own count, at most MAX_IMAGES."""
        asked = self.asked_count
        return asked if asked is not None else self.prompt_count

    def tool(self) -> dict[str, Any]:
        """The ``image_generation`` tool with its options."""
        tool: dict[str, Any] = {"type": "image_generation", **self.options.tool_fields()}
        if self.action != "auto":
            tool["action"] = self.action
        if self.partial_images is not None:
            tool["partial_images"] = self.partial_images
        return tool

    def body(self, *, abbreviate_images: bool = False) -> dict[str, Any]:
        """The JSON body; ``abbreviate_images`` shortens data URIs for display.

        In a conversation, each earlier turn is a user message of its own before this one.
        """
        earlier = self.conversation.earlier if self.conversation is not None else ()
        messages = [{"role": "user", "content": _content(t.text, t.images, abbreviate_images)}
                    for t in earlier]
        messages.append({"role": "user",
                         "content": _content(self.text, self.images, abbreviate_images)})
        return {
            "model": self.model,
            "instructions": self.instructions,
            "input": messages,
            "stream": True,
            "tools": [self.tool()],
        }
