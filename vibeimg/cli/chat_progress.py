"""How ``chat-stream`` shows its progress on stderr: a Rich live view, plain lines, or JSON.

``live`` (a terminal): one row per image call with its phase and time, a heartbeat
that beats with each keepalive, and a line per saved image. ``plain`` (CI logs):
one line per phase change. ``jsonl``: each event as a JSON line without its base64
payload, for machines. All of it goes through the Reporter, never to stdout.
"""

from __future__ import annotations

import shutil
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from vibeimg.cli.retrynotice import retry_notice
from vibeimg.jobs.chat.request import ChatStreamRequest
from vibeimg.jobs.chat.result import ChatStreamResult, ImageCall, ProgressListener, StreamedImage
from vibeimg.records.pricing import shown
from vibeimg.ui import Reporter, is_terminal, printable
from vibeimg.units import count_of, human_bytes

if TYPE_CHECKING:
    from vibeimg.wire.retry import RetryWait
    from vibeimg.wire.sse import StreamEvent

PROGRESS_MODES = ("auto", "live", "plain", "jsonl", "off")
HEARTBEAT_EVERY = 15.0  # seconds between "still working" lines in plain mode
PHASE_WORDS = {"queued": "queued", "in_progress": "in progress", "generating": "generating",
               "receiving": "receiving", "completed": "generated", "saved": "saved",
               "failed": "failed"}


#: The most of a revised prompt a progress line shows where the width is not known (a
#: log); the sidecar, --json and --progress jsonl keep it whole.
REVISED_SHOWN = 200
SHORTEST_REVISED = 20  # on a narrow terminal, still this much of it


def saved_line(image: StreamedImage, width: int | None = None, lead: int = 0) -> str:
    """``saved NAME (size, bytes, time): revised prompt``, on one line: the revised
    prompt (which may be 32,000 characters) shortened with an ellipsis to fit ``width``
    columns after ``lead`` others, or to :data:`REVISED_SHOWN` characters."""
    line = (f"saved {image.path} ({image.size or '?'}, {image.bytes:,} bytes, "
            f"{image.elapsed:.1f} s)")
    if not image.revised_prompt:
        return line
    words = " ".join(image.revised_prompt.split())
    room = REVISED_SHOWN if width is None else max(SHORTEST_REVISED,
                                                   width - lead - len(line) - 2)
    if len(words) > room:
        words = words[:room - 1].rstrip() + "…"
    return f"{line}: {words}"


def terminal_width(stream: Any) -> int | None:
    """The columns of the terminal ``stream`` is, or None (a log, a pipe)."""
    return shutil.get_terminal_size().columns if is_terminal(stream) else None


def summary_line(result: ChatStreamResult) -> str:
    """Images saved, tokens of both models, and the estimated cost."""
    parts = [f"{len(result.images)} of {count_of(result.request.expected_images, 'image')} saved in "
             f"{result.elapsed:.1f} s"]
    if result.usage:
        parts.append(f"text model {result.usage.get('total_tokens', '?'):,} tokens"
                     if isinstance(result.usage.get("total_tokens"), int)
                     else "text model tokens unknown")
    if result.image_usage and isinstance(result.image_usage.get("total_tokens"), int):
        parts.append(f"image tokens {result.image_usage['total_tokens']:,}")
    cost = shown(result.estimated_cost_usd, result.cost_extrapolated, offline=result.offline)
    parts.append(f"image output estimated {cost}")  # one parenthesis: (offline: ...)
    if result.possible_cost_usd:
        parts.append(f"and up to ${result.possible_cost_usd:.3f} possibly billed with no "
                     "image received")
    return ", ".join(parts)


class Progress(ProgressListener):
    """The base of every display: a context manager, quiet by default."""

    def __init__(self, reporter: Reporter, request: ChatStreamRequest) -> None:
        self.reporter = reporter
        self.request = request
        self.started = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def event(self, event: StreamEvent) -> None:
        from vibeimg.wire.sse import StreamEvent  # loaded by then: events come through it

        if type(event) is StreamEvent:  # an event type vibeimg does not act on
            self.reporter.trace(f"ignored event {event.type}")

    def finished(self, result: ChatStreamResult) -> None:
        """The run is over (whatever its outcome)."""

    def notice(self, message: str, *, warning: bool = False) -> None:
        """Something the user should know about the run: one line on stderr."""
        if warning:
            self.reporter.warn(message)
        else:
            self.reporter.info(message)

    def retrying(self, retry: RetryWait) -> None:
        """The gateway refused for now and a retry waits: one line (not with --quiet)."""
        self.reporter.info(retry_notice(retry))


class PlainProgress(Progress):
    """One line per phase change, for logs."""

    def __init__(self, reporter: Reporter, request: ChatStreamRequest) -> None:
        super().__init__(reporter, request)
        self.keepalives = 0
        self.last_line = time.monotonic()

    def _line(self, text: str) -> None:
        self.last_line = time.monotonic()
        self.reporter.progress(text)

    def opened(self, request_id: str | None) -> None:
        asked = count_of(self.request.expected_images, "image")
        self._line(f"streaming from {self.request.model}, {asked} asked for "
                   f"[request id {request_id or '-'}]")

    def comment(self, count: int) -> None:
        self._heartbeat(count)

    def event(self, event: StreamEvent) -> None:
        super().event(event)
        if event.type == "keepalive":
            self._heartbeat(1)

    def _heartbeat(self, count: int) -> None:
        self.keepalives += count
        if time.monotonic() - self.last_line >= HEARTBEAT_EVERY:
            self._line(f"still working after {time.monotonic() - self.started:.0f} s "
                       f"({self.keepalives} keepalives)")

    def call_changed(self, call: ImageCall) -> None:
        if call.phase == "saved":
            return  # the saved line says it
        ident = f" ({call.item_id})" if call.phase == "queued" else ""
        self._line(f"image {call.index}{ident}: {PHASE_WORDS.get(call.phase, call.phase)}")

    def saved(self, image: StreamedImage) -> None:
        lead = f"image {image.index}: "
        self._line(lead + saved_line(image, terminal_width(self.reporter.stream), len(lead)))


class JsonlProgress(Progress):
    """Each event as one JSON line, base64 payloads left out, plus vibeimg's own records."""

    def _emit(self, record: dict[str, Any]) -> None:
        self.reporter.json_record(record)

    def notice(self, message: str, *, warning: bool = False) -> None:
        """Notices and warnings are records too: every line on stderr is JSON."""
        self._emit({"type": "vibeimg.warning" if warning else "vibeimg.notice",
                    "message": message,
                    "elapsed": round(time.monotonic() - self.started, 3)})

    def opened(self, request_id: str | None) -> None:
        self._emit({"type": "vibeimg.opened", "request_id": request_id})

    def event(self, event: StreamEvent) -> None:
        record = event.summary() or {"type": event.type}
        self._emit({**record, "elapsed": round(time.monotonic() - self.started, 3)})

    def comment(self, count: int) -> None:
        self._emit({"type": "vibeimg.sse_comment", "count": count,
                    "elapsed": round(time.monotonic() - self.started, 3)})

    def saved(self, image: StreamedImage) -> None:
        self._emit({"type": "vibeimg.saved", **image.as_json()})

    def retrying(self, retry: RetryWait) -> None:
        self._emit({"type": "vibeimg.retry", "attempt": retry.attempt,
                    "retries": retry.retries, "wait_seconds": round(retry.seconds, 3),
                    "error": retry.error.one_line(), "notice": retry_notice(retry),
                    "elapsed": round(time.monotonic() - self.started, 3)})

    def finished(self, result: ChatStreamResult) -> None:
        self._emit({"type": "vibeimg.finished", "status": result.status,
                    "stream_status": result.stream_status,
                    "requested": result.request.expected_images,
                    "received": len(result.images), "usage": result.usage,
                    "image_usage": result.image_usage,
                    "estimated_cost_usd": result.estimated_cost_usd,
                    "cost_extrapolated": result.cost_extrapolated, "offline": result.offline,
                    "elapsed": round(result.elapsed, 3), "request_id": result.request_id,
                    "error": result.error.one_line() if result.error else None,
                    "exit_code": int(result.error.exit_code) if result.error else 0})
        if result.error is not None:
            result.error.reported = True  # this record is its line: no plain one after it


class LiveProgress(Progress):
    """A Rich live view on stderr: phases, elapsed time, keepalive heartbeat, saved lines."""

    def __init__(self, reporter: Reporter, request: ChatStreamRequest,
                 console: Any = None) -> None:
        super().__init__(reporter, request)
        self.console = console if console is not None else reporter.console
        self.calls: list[ImageCall] = []
        self.keepalives = 0
        self.last_keepalive: float | None = None
        self.bytes = 0
        self.request_id: str | None = None
        self.live: Any = None

    def __enter__(self) -> LiveProgress:
        from rich.live import Live

        self.live = Live(self, console=self.console, refresh_per_second=8, transient=True)
        self.live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.stop()

    def opened(self, request_id: str | None) -> None:
        self.request_id = request_id

    def comment(self, count: int) -> None:
        self.keepalives += count
        self.last_keepalive = time.monotonic()

    def event(self, event: StreamEvent) -> None:
        super().event(event)
        if event.type == "keepalive":
            self.comment(1)

    def received(self, total_bytes: int) -> None:
        self.bytes = total_bytes

    def call_changed(self, call: ImageCall) -> None:
        if call not in self.calls:
            self.calls.append(call)

    def saved(self, image: StreamedImage) -> None:
        self.console.print(printable(saved_line(image, self.console.width)), markup=False,
                           highlight=False)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        beat = self.last_keepalive is not None and now - self.last_keepalive < 0.6
        heart = Text("♥ " if beat else "♡ ", style="bold red" if beat else "dim")
        heard = (f"{self.keepalives} keepalives, last {now - self.last_keepalive:.0f} s ago"
                 if self.last_keepalive is not None else "no keepalive yet")
        header = Text.assemble(
            (f"{printable(self.request.model)} → gpt-image-2  ", "bold"),
            f"{now - self.started:.0f} s  ", heart, heard, f"  {human_bytes(self.bytes)} received",
        )
        table = Table.grid(padding=(0, 2))
        for call in list(self.calls):
            end = call.image.generation_seconds if call.image else now - call.started
            detail = (human_bytes(call.receiving_bytes) if call.phase == "receiving" and
                      call.receiving_bytes else str(call.image.path) if call.image else "")
            detail = printable(detail)
            style = {"saved": "green", "failed": "red"}.get(call.phase, "cyan")
            table.add_row(f"image {call.index}", printable(call.item_id[:16]),
                          Text(PHASE_WORDS.get(call.phase, call.phase), style=style),
                          f"{end:.1f} s", detail)
        if not self.calls:
            table.add_row(Text("waiting for the text model to call the image tool", "dim"))
        return Group(Spinner("dots", text=header), table)


def make_progress(mode: str, reporter: Reporter, request: ChatStreamRequest) -> Progress:
    """The display for ``--progress MODE`` (auto: live on a terminal, else plain lines)."""
    if reporter.quiet or mode == "off":
        return Progress(reporter, request)
    if mode == "auto":
        mode = "live" if reporter.interactive else "plain"
    if mode == "live":
        return LiveProgress(reporter, request)
    if mode == "jsonl":
        return JsonlProgress(reporter, request)
    return PlainProgress(reporter, request)
