"""Each job's run as the history records it: one :class:`~vibeimg.records.runs.Entry`.

How the run ended is :func:`vibeimg.errors.run_status` of the error it ended with, the
same word its ``--json`` document shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vibeimg.errors import VibeimgError, run_status
from vibeimg.records.runs import Entry, sum_usage

if TYPE_CHECKING:  # an edit's run does not load the chat code (nor a chat's httpx)
    from vibeimg.jobs.chat.request import ChatStreamRequest
    from vibeimg.jobs.chat.result import ChatStreamResult
    from vibeimg.jobs.image_outcome import Outcome
    from vibeimg.jobs.image_requests import ImageRequest


def image_run_entry(
    *,
    command: str,
    request: ImageRequest,
    offline: bool,
    count: int,
    outcome: Outcome | None = None,
    error: VibeimgError | None = None,
    elapsed: float | None = None,
) -> Entry:
    """A run of ``generate`` or ``edit``: ``count`` requests of ``request``, ending with
    ``error`` (None when every image was saved)."""
    saved = list(outcome.saved) if outcome is not None else []
    failures = list(outcome.failures) if outcome is not None else []
    revised = [s.revised_prompt for s in saved if s.revised_prompt]
    request_ids = [s.request_id for s in saved if s.request_id]
    request_ids += [f.error.request_id for f in failures if f.error.request_id]
    extra = {k: v for k, v in request.record.items() if k != "slug"}
    return Entry(
        command=command,
        prompt=request.prompt,
        revised_prompt="\n".join(dict.fromkeys(revised)) or None,
        model=request.options.model,
        parameters={"endpoint": request.endpoint, **request.sidecar_parameters(),
                    "count": count, **extra},
        outputs=[str(s.path.resolve()) for s in saved if s.path is not None],
        request_ids=request_ids,
        usage=sum_usage([s.usage for s in saved]),
        estimated_cost_usd=outcome.estimated_cost_usd if outcome is not None else 0.0,
        possible_cost_usd=(outcome.possible_cost_usd if outcome is not None
                           else error.possible_cost_usd if error is not None else 0.0),
        cost_extrapolated=(outcome.cost_extrapolated if outcome is not None
                           else error.cost_extrapolated if error is not None else False),
        outcome=run_status(error),
        error=error.one_line() if error is not None else None,
        offline=offline,
        images=len(saved),
        elapsed_seconds=None if elapsed is None else round(elapsed, 3),
    )


def chat_run_entry(
    *,
    request: ChatStreamRequest,
    offline: bool,
    result: ChatStreamResult | None = None,
    error: VibeimgError | None = None,
) -> Entry:
    """A ``chat-stream`` run: its result, or the error that came before any stream."""
    images = list(result.images) if result is not None else []
    if error is None and result is not None:
        error = result.error
    revised = [i.revised_prompt for i in images if i.revised_prompt]
    request_id = (result.request_id if result is not None else None) or (
        error.request_id if error is not None else None)
    return Entry(
        command="chat-stream",
        prompt=request.prompt,
        revised_prompt="\n".join(dict.fromkeys(revised)) or None,
        model=request.options.model,
        parameters={"endpoint": "responses", "text_model": request.model, **request.tool(),
                    "count": request.expected_images,
                    "inputs": [str(image.path) for image in request.images],
                    **(request.conversation.fields() if request.conversation else {})},
        outputs=[str(i.path.resolve()) for i in images],
        request_ids=[request_id] if request_id else [],
        usage=result.usage if result is not None else None,
        estimated_cost_usd=result.estimated_cost_usd if result is not None else 0.0,
        possible_cost_usd=(result.possible_cost_usd if result is not None
                           else error.possible_cost_usd if error is not None else 0.0),
        cost_extrapolated=(result.cost_extrapolated if result is not None
                           else error.cost_extrapolated if error is not None else False),
        outcome=run_status(error),
        error=error.one_line() if error is not None else None,
        offline=offline,
        images=len(images),
        elapsed_seconds=round(result.elapsed, 3) if result is not None else None,
    )
