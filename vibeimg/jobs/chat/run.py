"""Run one ``chat-stream`` request: send it, follow the event stream, save each image.

Each ``image_generation_call`` is followed through its phases
(:mod:`vibeimg.jobs.chat.events`). Its image is the ``result`` of
``response.output_item.done`` when present, else the last ``partial_image_b64`` of
that item (on the gateway, the partial image is already the whole image). Image data
is decoded to a temporary file as soon as its event arrives and renamed into place
when the item is done, so a stream that stops half-way leaves complete images only.
Progress goes to a :class:`ProgressListener`; nothing here prints.
``run_chat_stream`` is the entry point, for the CLI and batches.

Ctrl-C, as a batch has it (with ``on_interrupt``): the stream is read in a worker
thread, and a first interrupt sends nothing more (a request waiting to be retried is
dropped, never billed) but waits for the request on the wire, which the gateway
makes and bills anyway, saving its images; a second one abandons it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vibeimg.errors import Interrupted, VibeimgError, save_error
from vibeimg.files.atomic import AtomicFile
from vibeimg.files.naming import NamePlan, slugify
from vibeimg.jobs.chat.events import StreamRun, discard_payload
from vibeimg.jobs.chat.request import ChatStreamRequest
from vibeimg.jobs.chat.result import ChatStreamResult, ProgressListener
from vibeimg.records.pricing import Price, price_of
from vibeimg.units import count_of
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.retry import Attempts
from vibeimg.wire.sse import EventStream, ensure_event_stream

EVENTS_AFTER_END = 8  # events read after response.completed or a failure, at most
#: Told, at the first interrupt, how many requests are on the wire and waited for.
OnInterrupt = Callable[[int], None]


def run_chat_stream(
    client: GatewayClient,
    request: ChatStreamRequest,
    *,
    plan: NamePlan,
    sidecar: bool = True,
    listener: ProgressListener | None = None,
    record: Callable[[bytes], object] | None = None,
    slug: str | None = None,
    ascii_names: bool = False,
    on_interrupt: OnInterrupt | None = None,
    before_send: Callable[[Attempts], None] | None = None,
) -> ChatStreamResult:
    """Send ``request`` to ``POST /responses`` and save every image as it completes.

    Raises a VibeimgError when nothing was received (the request was refused, the
    connection failed, the answer is not a stream). Once the stream is open it
    returns a result, whose ``error`` says how it ended if not well (failure event,
    truncated stream, Ctrl-C); the images saved before that stay on disk. ``slug``
    names the files (default: from the prompt, and image n after the prompt's n-th
    numbered item when it numbers them; in ASCII only with ``ascii_names``); ``record``
    receives the raw stream. With ``on_interrupt`` (told how many requests are on the
    wire), a first Ctrl-C waits for the request on the wire and a second abandons
    it; without, Ctrl-C abandons it at once (a chat turn is cancelled so).
    ``before_send`` is told of each send just before it goes out (the history counts
    them).
    """
    item_slugs = ([slugify(text, ascii_only=ascii_names) for text in request.image_slug_texts]
                  if slug is None else [])
    if slug is None:
        slug = slugify(request.slug_text, ascii_only=ascii_names)
    run = StreamRun(request, plan, sidecar, listener or ProgressListener(), slug, item_slugs)
    sending = _Sending(client, request, run, record)
    sending.attempts.before_send = before_send
    if on_interrupt is None:
        return sending.stream()
    return sending.stream_waiting(on_interrupt)


class _Sending:
    """One request to ``/responses`` and the reading of its stream into a run."""

    def __init__(self, client: GatewayClient, request: ChatStreamRequest, run: StreamRun,
                 record: Callable[[bytes], object] | None) -> None:
        self.client, self.request, self.run, self.record = client, request, run, record
        self.image_price = price_of(request.options.size, request.options.quality)
        run.result.image_cost_usd = self.image_price.usd
        self.attempts = Attempts()
        self.cut_before = client.abandoned_on_wire

    @property
    def cost(self) -> Price:
        """What one send may have cost: every image it asks for."""
        return self.image_price.times(self.request.expected_images)

    def stream(self) -> ChatStreamResult:
        """Send, read the stream to its end, and finish the run (in this thread)."""
        client, run = self.client, self.run
        try:
            with client.open("POST", "responses", json_body=self.request.body(),
                             headers={"Accept": "text/event-stream"},
                             attempts=self.attempts) as response:
                # Earlier sends of unknown outcome (--retry-unknown): each may be billed.
                run.result.unknown_attempts = self.attempts.unknown
                run.result.request_id = response.request_id
                run.result.offline = client.emulated or response.offline
                run.result.first_byte_seconds = response.elapsed
                ensure_event_stream(response)
                run.result.opened = True
                run.listener.opened(response.request_id)
                stream = EventStream(response, record=self.record, on_bytes=run.on_bytes,
                                     on_comment=run.on_comment,
                                     spool_to=lambda: AtomicFile(run.plan.directory))
                error = self._read(stream)
                run.result.bytes_received = stream.bytes_received
        except BaseException as exc:
            with run.lock:
                if not run.abandoned:
                    run.finish(None)
            sent = client.abandoned_on_wire != self.cut_before
            failure = _before_stream(exc, sent=sent, attempts=self.attempts, cost=self.cost)
            if failure is not exc:
                raise failure from exc
            raise
        with run.lock:
            return run.result if run.abandoned else run.finish(error)

    def _read(self, stream: EventStream) -> VibeimgError | None:
        """Handle the events to the stream's end; how it ended (None: well)."""
        run = self.run
        try:
            after_end = 0
            for event in stream:
                with run.lock:
                    if run.abandoned:  # a second Ctrl-C: the caller has finished the run
                        discard_payload(event)
                        return None
                    if run.completed or run.failure is not None:
                        # Read what follows the end (normally nothing) so the connection
                        # closes cleanly, but don't wait on a server that keeps talking.
                        discard_payload(event)
                        after_end += 1
                        if after_end > EVENTS_AFTER_END:
                            break
                        continue
                    run.handle(event)
                    run.mark = stream.bytes_received
        except VibeimgError as exc:
            return exc
        except OSError as exc:  # spooling an image to disk failed (disk full...)
            if isinstance(exc, BrokenPipeError):
                raise
            error = save_error(exc)
            error.request_id = run.result.request_id
            return error
        except KeyboardInterrupt:
            AtomicFile.discard_all()  # images in flight will never be complete
            return _stopped(len(run.result.images))
        return None

    def stream_waiting(self, on_interrupt: OnInterrupt) -> ChatStreamResult:
        """:meth:`stream` in a worker thread, this one waiting: a first Ctrl-C sends
        nothing more and waits for the request on the wire, a second abandons it."""
        ended: list[ChatStreamResult | BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                ended.append(self.stream())
            except BaseException as exc:  # handed to the waiting thread
                ended.append(exc)
            finally:
                done.set()

        threading.Thread(target=work, daemon=True, name="vibeimg-chat").start()
        interrupted = False
        try:
            while not done.wait(0.2):
                pass
        except KeyboardInterrupt:
            interrupted = True
            self.client.cancel()  # a request waiting to retry ends now, unsent
            try:
                on_wire = self.client.on_wire
                if on_wire:
                    on_interrupt(on_wire)
                while not done.wait(0.2):
                    pass
            except KeyboardInterrupt:
                return self._abandon()
        outcome = ended[0]
        if isinstance(outcome, BaseException):
            if interrupted and isinstance(outcome, VibeimgError) \
                    and not isinstance(outcome, Interrupted):
                raise _waited_error(outcome) from outcome
            raise outcome
        if interrupted and not isinstance(outcome.error, Interrupted):
            outcome.error = _waited(outcome)
        return outcome

    def _abandon(self) -> ChatStreamResult:
        """A second Ctrl-C: the request on the wire is given up (the gateway may make
        and bill it all the same); what was saved is kept, nothing half-written."""
        run = self.run
        with run.lock:
            run.abandoned = True
            AtomicFile.discard_all()  # the images in flight will never be complete
            if run.result.opened:
                return run.finish(_stopped(len(run.result.images)))
        sent = self.client.on_wire > 0 or self.client.abandoned_on_wire != self.cut_before
        failure = _before_stream(KeyboardInterrupt(), sent=sent, attempts=self.attempts,
                                 cost=self.cost)
        assert isinstance(failure, VibeimgError)
        raise failure


def _stopped(saved: int) -> Interrupted:
    """The error of a stream given up by Ctrl-C after ``saved`` images."""
    return Interrupted(f"interrupted: {count_of(saved, 'image')} saved",
                       hint="the saved images are complete" if saved else None)


def _waited(result: ChatStreamResult) -> Interrupted:
    """The error of a run whose stream was waited for after Ctrl-C: interrupted (exit
    130), with what was saved and how the stream ended when not well."""
    ended = f"; the stream then ended: {result.error.one_line()}" if result.error else ""
    return Interrupted(f"interrupted: {count_of(len(result.images), 'image')} saved, the "
                       f"request on the wire waited for{ended}")


def _waited_error(error: VibeimgError) -> Interrupted:
    """A failure before any stream opened, after Ctrl-C: interrupted, its cost kept."""
    stopped = Interrupted(f"interrupted; the request then ended: {error.one_line()}")
    stopped.possible_cost_usd, stopped.cost_extrapolated = (error.possible_cost_usd,
                                                            error.cost_extrapolated)
    return stopped


def _before_stream(exc: BaseException, *, sent: bool, attempts: Attempts,
                   cost: Price) -> BaseException:
    """What a run that ended before any stream opened reports, with what it may have cost:
    all it asked for, for each send that went out with no answer to say what became of
    it (retried with --retry-unknown or not), and for one cut off by Ctrl-C."""
    unknown = attempts.unknown
    if isinstance(exc, KeyboardInterrupt):
        if not sent and not unknown:  # waiting to be retried, or not yet sent
            return Interrupted("interrupted before the request was sent: nothing was billed")
        if not sent:
            stopped = Interrupted(
                "interrupted before the request was sent again; "
                f"{'its earlier send' if unknown == 1 else f'{unknown} earlier sends'} "
                "had no answer to say what became of it, so it may have been billed")
        else:
            stopped = Interrupted("interrupted before the gateway answered; the request was "
                                  "sent, so it may have been billed")
        possible = cost.times(unknown + int(sent))
        stopped.possible_cost_usd, stopped.cost_extrapolated = possible.usd, possible.extrapolated
        return stopped
    if isinstance(exc, VibeimgError) and (unknown or exc.outcome_unknown):
        possible = cost.times(max(unknown, 1))
        exc.possible_cost_usd, exc.cost_extrapolated = possible.usd, possible.extrapolated
    return exc
