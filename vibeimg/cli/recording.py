"""Recording runs in the history from the commands: one call, never fatal.

``record_run(reporter, enabled, command=..., prompt=..., ...)`` takes the fields of
:class:`vibeimg.records.history.Entry`. A locked or damaged database becomes a warning: the
images are saved whatever happens to the history. Commands built on
``run_image_requests`` (generate, edit) are recorded there; a command with its own
loop (a stream) calls ``record_run`` once per run, after saving, with ``enabled`` from
its ``--history/--no-history`` option (``options.History``); a batch hands its items
to a :class:`BackgroundRecorder`.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from vibeimg.errors import UsageError, VibeimgError
from vibeimg.ui import Reporter

# One writer at a time within a run (batch items finish on many threads): the
# database's own lock is then only ever waited on by other processes.
_WRITING = threading.Lock()


def record_run(reporter: Reporter, enabled: bool, **fields: Any) -> int | None:
    """Record one run; returns its id, or None when off or when the history failed."""
    if not enabled:
        return None
    try:
        from vibeimg.records import history
    except ImportError as exc:  # a Python built without sqlite3
        reporter.warn(f"not recorded in the history: {exc}")
        return None
    try:
        with _WRITING:
            return history.record(**fields)
    except history.HistoryError as exc:
        reporter.warn(f"not recorded in the history: {exc.one_line()}")
    return None


def outcome_of(error: BaseException | None, *, saved: int, failed: int) -> tuple[str, str | None]:
    """The history's outcome word (ok, partial, failed, interrupted) and error line."""
    from vibeimg.errors import Interrupted

    line = error.one_line() if isinstance(error, VibeimgError) else None
    if isinstance(error, Interrupted):
        return "interrupted", line
    if not saved:
        return "failed", line or "no image was saved"
    if failed:
        return "partial", line
    return "ok", None


def record_image_run(
    reporter: Reporter,
    enabled: bool,
    *,
    command: str,
    request: Any,
    offline: bool,
    count: int,
    outcome: Any = None,
    error: BaseException | None = None,
    elapsed: float | None = None,
) -> int | None:
    """Record a run of ``run_image_requests`` (an ImageRequest and its Outcome)."""
    if not enabled or isinstance(error, UsageError):  # refused before sending: no run
        return None
    from vibeimg.records.history import sum_usage

    saved = list(outcome.saved) if outcome is not None else []
    failures = list(outcome.failures) if outcome is not None else []
    if error is None and failures:
        error = failures[0].error
    word, error_line = outcome_of(error, saved=len(saved), failed=len(failures))
    revised = [s.revised_prompt for s in saved if s.revised_prompt]
    request_ids = [s.request_id for s in saved if s.request_id]
    request_ids += [rid for f in failures if (rid := getattr(f.error, "request_id", None))]
    extra = {k: v for k, v in request.record.items() if k != "slug"}
    return record_run(
        reporter, True,
        command=command,
        prompt=request.prompt,
        revised_prompt="\n".join(dict.fromkeys(revised)) or None,
        model=request.options.model,
        parameters={"endpoint": request.endpoint, **request.sidecar_parameters(),
                    "count": count, **extra},
        outputs=[str(s.path.resolve()) for s in saved if s.path is not None],
        request_ids=request_ids,
        usage=sum_usage([s.usage for s in saved]),
        estimated_cost_usd=(outcome.estimated_cost_usd if outcome is not None else 0.0),
        outcome=word,
        error=error_line,
        offline=offline,
        images=len(saved),
        elapsed_seconds=None if elapsed is None else round(elapsed, 3),
    )


def record_chat_run(
    reporter: Reporter,
    enabled: bool,
    *,
    request: Any,
    offline: bool,
    result: Any = None,
    error: BaseException | None = None,
) -> int | None:
    """Record a ``chat-stream`` run (a ChatStreamRequest and its ChatStreamResult)."""
    if not enabled or isinstance(error, UsageError):
        return None
    images = list(result.images) if result is not None else []
    if error is None and result is not None:
        error = result.error
    missing = len(result.missing) if result is not None else 0
    if error is not None:  # a run cut short also failed the images that never started
        missing = max(missing, request.expected_images - len(images))
    word, error_line = outcome_of(error, saved=len(images), failed=missing)
    if result is not None and result.status == "interrupted":
        word = "interrupted"
    revised = [i.revised_prompt for i in images if i.revised_prompt]
    request_id = getattr(result, "request_id", None) or getattr(error, "request_id", None)
    return record_run(
        reporter, True,
        command="chat-stream",
        prompt=request.prompt,
        revised_prompt="\n".join(dict.fromkeys(revised)) or None,
        model=request.options.model,
        parameters={"endpoint": "responses", "text_model": request.model, **request.tool(),
                    "count": request.expected_images,
                    "inputs": [str(image.path) for image in request.images]},
        outputs=[str(i.path.resolve()) for i in images],
        request_ids=[request_id] if request_id else [],
        usage=getattr(result, "usage", None),
        estimated_cost_usd=result.estimated_cost_usd if result is not None else 0.0,
        outcome=word,
        error=error_line,
        offline=offline,
        images=len(images),
        elapsed_seconds=round(result.elapsed, 3) if result is not None else None,
    )


def batch_item_fields(outcome: Any, *, out_dir: Any, offline: bool) -> dict[str, Any] | None:
    """The history fields of one finished batch item (a runner's ItemOutcome), or None
    for an item that was not run."""
    if outcome.status not in ("done", "failed"):
        return None
    item, record = outcome.item, outcome.record or {}
    path = record.get("path")
    return {
        "command": "batch",
        "prompt": item.prompt,
        "revised_prompt": record.get("revised_prompt"),
        "model": item.options.model,
        "parameters": {"endpoint": item.endpoint, **(record.get("parameters") or {}),
                    "batch_key": item.key, "line": item.line, "index": item.index,
                    "inputs": record.get("inputs") or []},
        "outputs": [str((out_dir / path).resolve())] if path else [],
        "request_ids": [record["request_id"]] if record.get("request_id") else [],
        "estimated_cost_usd": float(record.get("estimated_cost_usd") or 0.0),
        "outcome": "ok" if outcome.status == "done" else "failed",
        "error": record.get("error"),
        "offline": offline,
        "images": 1 if outcome.status == "done" else 0,
        "elapsed_seconds": record.get("elapsed_seconds"),
    }


class BackgroundRecorder:
    """Records many runs (a batch's items) from one thread of its own, on one open
    database, so that no worker waits on SQLite before sending its next request.

    ``close()`` waits for every queued record. A failure is warned about once per
    distinct message; the images are saved whatever happens to the history.
    """

    def __init__(self, reporter: Reporter, enabled: bool) -> None:
        self._reporter = reporter
        self._enabled = enabled
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    def add(self, fields: dict[str, Any] | None) -> None:
        if not self._enabled or fields is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_all, name="vibeimg-history",
                                            daemon=True)
            self._thread.start()
        self._queue.put(fields)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._reporter.warn(f"not recorded in the history: {message}")

    def _write_all(self) -> None:
        try:
            from vibeimg.records import history
        except ImportError as exc:  # a Python built without sqlite3
            self._warn(str(exc))
            while self._queue.get() is not None:
                pass
            return
        with history.History() as database:
            while (fields := self._queue.get()) is not None:
                try:
                    with _WRITING:
                        database.add(history.Entry(**fields))
                except history.HistoryError as exc:
                    self._warn(exc.one_line())
