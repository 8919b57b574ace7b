"""One turn of a conversation: which earlier images go with it, the request, the record.

The gateway keeps no conversation (SPEC.md section 5), so each turn resends it: every
earlier turn's words as a user message of its own, and the images being refined as
``input_image`` data URIs of a later user message (what turn N made goes in the message
after turn N's). ``--context`` chooses those images: ``last`` (the default) those of the
last turn, ``all`` every image of the conversation (with the images given to its
turns), ``N`` the N most recent images (0: words alone). Images given to this turn
(``-i``, ``/use``) go with it and, unless a context is asked for too, replace the last
turn's.

No limit is documented for images on ``/responses``: they are held to the edit limits
(at most 16, each at most 50 MB) and a turn over them is refused before anything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vibeimg.errors import UsageError
from vibeimg.jobs.chat import DEFAULT_INSTRUCTIONS, DEFAULT_TEXT_MODEL
from vibeimg.jobs.chat.request import (
    ACTIONS,
    ChatStreamRequest,
    Conversation,
    EarlierTurn,
    InputImage,
    check_chat_input_image,
)
from vibeimg.jobs.chat.result import ChatStreamResult
from vibeimg.jobs.edits import MAX_IMAGES as MAX_SENT_IMAGES
from vibeimg.params import ImageOptions, check_choice
from vibeimg.records import sessions
from vibeimg.records.transcript import SessionError, Transcript, Turn, TurnImage, now_text
from vibeimg.units import count_of, human_bytes

CONTEXT_CHOICES = ("last", "all")
#: Options a turn takes from the session's last turn unless given again.
INHERITED = ("size", "quality", "output_format", "compression", "moderation", "model",
             "instructions")
LIMITS_NOTE = (f"at most {MAX_SENT_IMAGES} images of 50 MB each, the edit endpoint's "
               "limits: the gateway states none for /responses")


def parse_context(text: str) -> str:
    """``last``, ``all``, or a number of images (0 or more), as text."""
    value = text.strip().lower()
    if value in CONTEXT_CHOICES or (value.isdigit() and len(value) < 4):
        return str(int(value)) if value.isdigit() else value
    raise UsageError(f"--context must be last, all or a number of images, not {text!r}",
                     hint="last (the default) sends the last turn's images, all every "
                          "image, 0 the words alone")


@dataclass(frozen=True)
class TurnSettings:
    """A turn's options: the image tool's, the text model and its instructions."""

    size: str = "auto"
    quality: str = "auto"
    output_format: str = "png"
    compression: int | None = None
    moderation: str = "auto"
    action: str = "auto"
    model: str = DEFAULT_TEXT_MODEL
    instructions: str = DEFAULT_INSTRUCTIONS
    count: int | None = None
    partial_images: int | None = None

    def inherit(self, transcript: Transcript, given: Sequence[str]) -> TurnSettings:
        """These settings, with those not ``given`` taken from the last turn."""
        last = transcript.last
        if last is None:
            return self
        kept = {name: last.options[name] for name in INHERITED
                if name not in given and name in last.options}
        return replace(self, **kept)

    def checked(self) -> TurnSettings:
        """These settings, if the gateway would take them; raises UsageError."""
        ImageOptions.build(size=self.size, quality=self.quality,
                           output_format=self.output_format, compression=self.compression,
                           moderation=self.moderation)
        check_choice("action", self.action.lower(), ACTIONS)
        return self

    def recorded(self) -> dict[str, Any]:
        return {"size": self.size, "quality": self.quality,
                "output_format": self.output_format, "compression": self.compression,
                "moderation": self.moderation, "action": self.action, "model": self.model,
                "instructions": self.instructions, "count": self.count}


@dataclass(frozen=True)
class SentImage:
    """An image going with the turn: one the conversation made, or one given to it."""

    image: InputImage
    turn: int | None  # the turn that made or was given it; None: given to this turn


@dataclass
class TurnPlan:
    """The next turn of a session, checked and ready to send."""

    transcript: Transcript
    number: int
    request: ChatStreamRequest
    settings: TurnSettings
    context: str
    sent: list[SentImage]
    notices: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.transcript.name

    @property
    def name_template(self) -> str:
        """Images are named after the session and the turn: ``coast-2-1.png``."""
        return f"{self.name}-{self.number}-{{n}}.{{ext}}"

    @property
    def input_bytes(self) -> int:
        """About how big the request is: texts, instructions and the images' data URIs."""
        texts = [t.text for t in self.request.conversation.earlier] \
            if self.request.conversation is not None else []
        text = sum(len(t.encode("utf-8")) for t in [*texts, self.request.text,
                                                     self.request.instructions])
        return 400 + text + sum(30 + (len(s.image.data) + 2) // 3 * 4 for s in self.sent)

    def summary(self) -> str:
        """What is being sent, said on stderr before sending."""
        head = f"session {self.name}, turn {self.number}"
        earlier = len(self.transcript.live_turns)
        if not earlier and not self.sent:
            return f"{head}: a new conversation"
        words = f"the words of {count_of(earlier, 'earlier turn')}" if earlier else ""
        made = [s for s in self.sent if s.turn is not None]
        given = [s for s in self.sent if s.turn is None]
        parts = [words] if words else []
        if made:
            names = ", ".join(s.image.path.name for s in made[:3])
            more = f" and {len(made) - 3} more" if len(made) > 3 else ""
            parts.append(f"{count_of(len(made), 'earlier image')} ({names}{more})")
        if given:
            parts.append(count_of(len(given), "image") + " given")
        text = f"{head}: sending {' and '.join(parts)}, about {human_bytes(self.input_bytes)}"
        if made:
            text += f"; earlier images cost input tokens ({LIMITS_NOTE})"
        return text

    def conversation_fields(self) -> dict[str, Any]:
        conversation = self.request.conversation
        return conversation.fields() if conversation is not None else {}


def _session_image(path: Path, turn: int, name: str, sha256: str | None,
                   notices: list[str]) -> InputImage:
    what = f"image of turn {turn} of session {name}"
    if not path.is_file():
        raise SessionError(
            f"the {what}, {path}, is no longer on disk",
            hint="put it back, or leave it out: --context 0 sends the words alone, -i IMAGE "
                 "(or /use IMAGE in vibeimg chat) refines another image, --undo drops the turn")
    image = check_chat_input_image(path, what=what)
    if sha256 and hashlib.sha256(image.data).hexdigest() != sha256:
        notices.append(f"{path} changed since turn {turn} saved it: sending it as it is now")
    return image


def _chosen(transcript: Transcript, context: str) -> set[tuple[int, int]]:
    """(turn number, image index) of each image the context sends."""
    live = transcript.live_turns
    every = [(t.number, i) for t in live for i in range(len(t.images))]
    if context == "all":
        return set(every)
    if context == "last":
        return {(live[-1].number, i) for i in range(len(live[-1].images))} if live else set()
    count = int(context)
    return set(every[len(every) - count:]) if count else set()


def plan_turn(
    transcript: Transcript,
    prompt: str,
    settings: TurnSettings,
    *,
    context: str | None = None,
    images: Sequence[Path] = (),
) -> TurnPlan:
    """The next turn of ``transcript``: every earlier turn's words, the images chosen by
    ``context`` (default: the last turn's, or none when ``images`` are given), checked
    against the limits; raises UsageError (SessionError) before anything is sent."""
    resolved = parse_context(context) if context is not None else ("0" if images else "last")
    name, live = transcript.name, transcript.live_turns
    chosen = _chosen(transcript, resolved)
    wanted = len(chosen) + len(images) + (
        sum(len(t.inputs) for t in live) if resolved == "all" else 0)
    if wanted > MAX_SENT_IMAGES:
        raise UsageError(
            f"turn {transcript.next_number} of session {name} would send {wanted} images; "
            f"vibeimg sends {LIMITS_NOTE}",
            hint="send fewer with --context N (the N most recent), or --context last")
    notices: list[str] = []
    sent: list[SentImage] = []

    def made_by(turn: Turn) -> list[InputImage]:
        found = []
        for index, image in enumerate(turn.images):
            if (turn.number, index) in chosen:
                found.append(_session_image(Path(image.path), turn.number, name,
                                            image.sha256, notices))
                sent.append(SentImage(found[-1], turn.number))
        return found

    earlier: list[EarlierTurn] = []
    previous: Turn | None = None
    for turn in live:
        pictures = made_by(previous) if previous is not None else []
        if resolved == "all":
            for given in turn.inputs:
                path = Path(str(given.get("path", "")))
                pictures.append(_session_image(path, turn.number, name,
                                               str(given.get("sha256") or ""), notices))
                sent.append(SentImage(pictures[-1], turn.number))
        earlier.append(EarlierTurn(text=turn.prompt, images=tuple(pictures)))
        previous = turn
    last_images = made_by(previous) if previous is not None else []
    action = check_choice("action", settings.action.lower(), ACTIONS)
    resent = bool(last_images) or any(t.images for t in earlier)
    request = ChatStreamRequest.build(
        prompt, model=settings.model, instructions=settings.instructions,
        size=settings.size, quality=settings.quality, output_format=settings.output_format,
        compression=settings.compression, moderation=settings.moderation,
        # An edit needs an image: the conversation's own count, as -i images do.
        action="auto" if action == "edit" and resent else action,
        count=settings.count, images=images, partial_images=settings.partial_images,
    )
    sent += [SentImage(image, None) for image in request.images]
    number = transcript.next_number
    request = replace(
        request, action=action, images=(*request.images, *last_images),
        conversation=Conversation(
            session=name, turn=number, context=resolved, earlier=tuple(earlier),
            resent=tuple(s.image.path for s in sent if s.turn is not None)))
    return TurnPlan(transcript=transcript, number=number, request=request,
                    settings=settings, context=resolved, sent=sent, notices=notices)


def turn_of(plan: TurnPlan, result: ChatStreamResult, *, offline: bool) -> Turn:
    """The turn as the transcript records it, from what the run saved."""
    request = plan.request
    images = []
    for image in result.images:
        try:
            digest = hashlib.sha256(image.path.read_bytes()).hexdigest()
        except OSError:  # gone already: recorded without its hash
            digest = ""
        images.append(TurnImage(
            path=str(image.path.resolve()), sha256=digest, bytes=image.bytes,
            format=image.format, size=image.size, revised_prompt=image.revised_prompt,
            sidecar=str(image.sidecar.resolve()) if image.sidecar else None))
    given = [s.image for s in plan.sent if s.turn is None]
    return Turn(
        number=plan.number, prompt=request.prompt, status=result.status,
        created=now_text(), prompt_sent=request.text,
        options=plan.settings.recorded(),
        context={"mode": plan.context, "earlier_turns": len(plan.transcript.live_turns),
                 "images": [{"turn": s.turn, "path": str(s.image.path)} for s in plan.sent]},
        inputs=[{"path": str(i.path.resolve()), "sha256": hashlib.sha256(i.data).hexdigest()}
                for i in given],
        images=images, request_id=result.request_id, response_id=result.response_id,
        usage=result.usage, image_usage=result.image_usage,
        estimated_cost_usd=result.estimated_cost_usd,
        possible_cost_usd=result.possible_cost_usd,
        error=result.error.one_line() if result.error is not None else None,
        offline=offline,
    )


def record_turn(plan: TurnPlan, result: ChatStreamResult, *, offline: bool) -> Transcript:
    """Write the turn to the session's transcript (atomically, under its lock)."""
    return sessions.add_turn(plan.name, turn_of(plan, result, offline=offline))
