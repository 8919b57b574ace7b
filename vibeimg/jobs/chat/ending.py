"""How a chat run ends: each image's sidecar, written once the response's totals are
known, and the error the run ends with, with the stream's own word for it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from vibeimg.errors import (
    Interrupted,
    NetworkError,
    PartialFailure,
    ResponseFailed,
    VibeimgError,
)
from vibeimg.jobs.chat.request import ChatStreamRequest
from vibeimg.jobs.chat.result import ChatStreamResult, StreamedImage, round_or_none
from vibeimg.params import DEFAULT_MODEL
from vibeimg.units import count_of
from vibeimg.version import __version__
from vibeimg.wire.sse import StreamFailure


def sidecar_record(req: ChatStreamRequest, res: ChatStreamResult, image: StreamedImage, *,
                   completed: bool) -> dict[str, Any]:
    """The sidecar of an image of a completed (or cut) response, totals included."""
    return {
        "file": image.path.name, "prompt": req.prompt, "prompt_sent": req.text,
        "revised_prompt": image.revised_prompt, "instructions": req.instructions,
        "model": req.model, "image_model": DEFAULT_MODEL, "endpoint": "responses",
        "tool": req.tool(), "input_images": [str(i.path) for i in req.images],
        "item_id": image.item_id, "index": image.index, "format": image.format,
        **image.size_fields(), "quality": image.quality, "bytes": image.bytes,
        "usage": res.usage, "image_usage": res.image_usage,
        "images_in_response": len(res.images) if completed else None,
        "response_id": res.response_id, "request_id": res.request_id,
        "timings": {
            "first_byte_seconds": round_or_none(res.first_byte_seconds),
            "generation_seconds": round(image.generation_seconds, 3),
            "saved_after_seconds": round(image.elapsed, 3),
            "response_seconds": round(res.elapsed, 3) if completed else None,
        },
        "estimated_cost_usd": image.estimated_cost_usd,
        "cost_extrapolated": image.cost_extrapolated, "offline": image.offline,
        **(req.conversation.fields() if req.conversation is not None else {}),
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vibeimg_version": __version__,
    }


def stream_ending(res: ChatStreamResult, *, failure: StreamFailure | None, completed: bool,
                  error: VibeimgError | None) -> VibeimgError | None:
    """The error a run ends with (None: every image asked for arrived), and, in
    ``res.stream_status``, the stream's own word for how it ended."""
    if isinstance(error, Interrupted):
        res.stream_status = "interrupted"
        return _maybe_billed(error, res)
    cause: VibeimgError
    if failure is not None:
        res.stream_status = {"error": "error", "response.failed": "failed"}.get(
            failure.type, "incomplete")
        cause = failure.error(res.request_id)
    elif error is not None and not isinstance(error, NetworkError):
        res.stream_status, cause = "error", error
    elif error is not None or not completed:
        res.stream_status = "truncated"
        why = f" ({error.message})" if error is not None else ""
        cause = NetworkError(
            f"the stream ended before the response completed{why}; "
            f"{missing_text(res) or 'no image call had started'}",
            hint=None if res.images else "no image was saved; sending the prompt again asks "
            f"for {count_of(res.request.expected_images, 'image')} again",
            request_id=res.request_id,
        )
    else:
        # The response completed; the run did only if every image call it made landed.
        res.stream_status = "completed"
        if not res.calls:
            said = f": {res.text[:200]}" if res.text else ""
            res.stream_status = "failed"
            return ResponseFailed(
                f"the model answered without making an image{said}", code="no_image",
                request_id=res.request_id, refused=True,
                hint="rephrase the prompt, or force the tool with --action generate",
            )
        if not res.missing:
            return None
        res.stream_status = "partial" if res.images else "failed"
        errors = [c.error for c in res.missing if c.error is not None]
        cause = errors[0] if errors else ResponseFailed(
            f"the response completed, but {missing_text(res)}",
            code="image_missing", request_id=res.request_id)
    if not res.images:
        return cause
    saved = count_of(len(res.images), "image")
    partial = PartialFailure(f"{saved} saved, then: {cause.one_line()}", failures=[cause])
    partial.hint = rerun_hint(res)
    return partial


def _maybe_billed(error: Interrupted, res: ChatStreamResult) -> Interrupted:
    """An interrupted stream's error says what the images not received may have cost
    (the gateway goes on making and billing them), in its words and its
    ``possible_cost_usd``, as the run's document does."""
    possible = res.possible_cost_usd
    if possible and not error.possible_cost_usd:
        error.message += (f"; the request was sent, so the images not received may have "
                          f"been billed (up to ${possible:.3f})")
        error.possible_cost_usd, error.cost_extrapolated = possible, res.cost_extrapolated
    return error


def missing_indexes(res: ChatStreamResult) -> list[int]:
    """The numbers of the images asked for and not saved."""
    return [int(entry["index"]) for entry in res.missing_json()]


def rerun_hint(res: ChatStreamResult) -> str | None:
    """What a run that saved some of its images says of the rest: how many are missing,
    and that sending the same prompt again asks for every image again, so the gateway
    bills the saved ones twice; for a numbered list, the items missing."""
    asked = res.request.expected_images
    saved = len(res.images)
    missing = missing_indexes(res)
    if not saved or not missing:
        return None
    hint = (f"{saved} of {count_of(asked, 'image')} saved, complete; {len(missing)} missing. "
            f"Sending the same prompt again asks for all {asked} again, and bills the "
            f"{saved} saved again")
    items = res.request.image_slug_texts
    named = [f"{n}) {items[n - 1]}" for n in missing if n <= len(items)]
    if named:
        hint += f"; to make only the missing, ask for them alone: {' '.join(named)}"
    return hint

def missing_text(res: ChatStreamResult) -> str:
    """The images asked for and not saved, each with the phase its call reached."""
    parts = [f"image {c.index} ({c.item_id}) was {c.phase.replace('_', ' ')}"
             for c in res.missing]
    return ", ".join(parts)
