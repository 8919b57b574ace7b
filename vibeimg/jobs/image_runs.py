"""Several image requests at once, and what an interrupt does to them.

One request makes one image (the gateway ignores ``n``), so ``-n 4`` is four requests,
at most ``concurrency`` at a time, each saved as soon as it arrives; one failure never
loses the others, but a full disk leaves those not yet sent unsent. The requests run
in worker threads, even a single one, so that the calling thread stays free to hear
Ctrl-C (or SIGTERM, SIGHUP) and to tell the requests on the wire from those that are
not, as a batch does:

- the first interrupt sends nothing more: a request waiting to be retried is dropped
  (never billed), and those on the wire, which the gateway is making and billing
  anyway, are waited for and saved;
- a second one abandons them (``Outcome.abandoned``: they may be billed all the same).

Either way the outcome says ``interrupted`` and holds what was saved. The Python API,
with no one to tell that it waits, abandons them at the first interrupt.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import IO

from vibeimg.errors import NotSent, VibeimgError
from vibeimg.files.atomic import AtomicFile
from vibeimg.files.naming import NamePlan
from vibeimg.jobs.image_outcome import Failure, Outcome, SavedImage
from vibeimg.jobs.image_requests import ImageRequest, fetch_image
from vibeimg.records.pricing import price_of
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.retry import Attempts

OnSaved = Callable[[SavedImage], None]
#: Told, at the first interrupt, how many requests are on the wire and waited for.
OnInterrupt = Callable[[int], None]


def internal_error(exc: BaseException) -> VibeimgError:
    """An unexpected error of one image, reported as the command layer reports a bug."""
    return VibeimgError(f"internal error: {type(exc).__name__}: {exc}",
                        hint="please report it")


def fetch_many(
    client: GatewayClient,
    request: ImageRequest,
    *,
    count: int,
    concurrency: int,
    plan: NamePlan | None,
    sidecar: bool = True,
    stdout: IO[bytes] | None = None,
    on_saved: OnSaved | None = None,
    on_failed: Callable[[Failure], None] | None = None,
    on_interrupt: OnInterrupt | None = None,
    before_send: Callable[[Attempts], None] | None = None,
) -> Outcome:
    """Send ``count`` requests, at most ``concurrency`` at once; keep every success.

    Images go to ``plan``'s folder, or (``plan`` None, one image) whole to ``stdout``.
    On Ctrl-C the client is cancelled: requests waiting to be retried, or not yet sent,
    are dropped (never billed). With ``on_interrupt`` (the command line), those on the
    wire are waited for (it is told how many) and abandoned only on a second Ctrl-C;
    without (the Python API), they are abandoned at once. The outcome then says
    ``interrupted``, holding what was saved. ``before_send`` is told of each send just
    before it goes out (the history counts them).
    """
    run = _Run(client, request, plan=plan, sidecar=sidecar, stdout=stdout,
               on_saved=on_saved, on_failed=on_failed)
    run.before_send = before_send
    for index in range(1, count + 1):
        run.pending.put(index)
    # Daemon threads rather than a pool, even for one image: on a second Ctrl-C the
    # process must exit now, not after the requests in flight (up to minutes) have been
    # answered, and this thread must be free to tell what is on the wire from what is not.
    workers = _Workers(min(concurrency, count))
    for n in range(workers.live):
        threading.Thread(target=run.work, args=(workers,), daemon=True,
                         name=f"vibeimg-{n}").start()
    outcome = run.outcome
    try:
        workers.wait()
    except KeyboardInterrupt:
        outcome = run.interrupted(workers, on_interrupt)
    if run.stdout_gone:
        raise run.stdout_gone[0]
    outcome.saved.sort(key=lambda s: s.index)
    outcome.failures.sort(key=lambda f: f.index)
    return outcome


class _Run:
    """The requests of one :func:`fetch_many`, shared by its worker threads."""

    def __init__(self, client: GatewayClient, request: ImageRequest, *,
                 plan: NamePlan | None, sidecar: bool, stdout: IO[bytes] | None,
                 on_saved: OnSaved | None, on_failed: Callable[[Failure], None] | None
                 ) -> None:
        self.client, self.request = client, request
        self.plan, self.sidecar, self.stdout = plan, sidecar, stdout
        self.on_saved, self.on_failed = on_saved, on_failed
        self.outcome = Outcome()
        self.pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.running: dict[int, int] = {}  # worker thread -> the index it is making
        self.attempts: dict[int, Attempts] = {}  # worker thread -> its request's sends
        self.stdout_gone: list[BaseException] = []  # a closed pipe stops the run
        self.before_send: Callable[[Attempts], None] | None = None

    def work(self, workers: _Workers) -> None:
        try:
            while not self.client.cancelled.is_set():
                try:
                    index = self.pending.get_nowait()
                except queue.Empty:
                    return
                self.one(index)
        finally:
            workers.ended()

    def one(self, index: int) -> None:
        attempts = Attempts(before_send=self.before_send)
        with self.lock:
            self.running[threading.get_ident()] = index
            self.attempts[threading.get_ident()] = attempts
        try:
            saved = fetch_image(self.client, self.request, index=index, plan=self.plan,
                                sidecar=self.sidecar, stdout=self.stdout, attempts=attempts)
        except NotSent:
            return  # interrupted before it went out: neither failed nor billed
        except BrokenPipeError as exc:  # -o - and stdout's reader went away
            self.stdout_gone.append(exc)
            self.client.cancel()
            return
        except Exception as exc:  # a worker thread must never die unheard
            failure = Failure(index, exc if isinstance(exc, VibeimgError) else internal_error(exc))
            with self.lock:
                self.outcome.failures.append(failure)
            if failure.error.stops_batch():  # a full disk: each image after it would be lost
                self.send_no_more()
            if self.on_failed:
                self.on_failed(failure)
            return
        finally:
            with self.lock:
                self.running.pop(threading.get_ident(), None)
                self.attempts.pop(threading.get_ident(), None)
        with self.lock:
            self.outcome.saved.append(saved)
        if self.on_saved:
            self.on_saved(saved)

    def send_no_more(self) -> None:
        """Leave the images not yet asked for unsent (``not-sent``, never billed); those
        on the wire are still waited for."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.pending.get_nowait()

    def interrupted(self, workers: _Workers, on_interrupt: OnInterrupt | None) -> Outcome:
        """After a first Ctrl-C: send nothing more, drop the requests waiting to be
        retried (never billed), and wait for those on the wire, unless Ctrl-C comes
        again: then they are abandoned, and the outcome (a snapshot: abandoned workers
        may still append) names them. Abandoned are the requests on the wire and those
        whose answer was being saved (billed, whatever becomes of it); each may have
        cost its price, and so may each earlier send of it of unknown outcome
        (``--retry-unknown``)."""
        client = self.client
        client.cancel()  # a request waiting to retry ends now, unsent
        try:
            if on_interrupt is None:
                raise KeyboardInterrupt  # no one to tell: abandon them now
            on_wire = client.on_wire
            if on_wire:
                on_interrupt(on_wire)
            workers.wait()
        except KeyboardInterrupt:
            on_wire_threads = client.threads_on_wire()
            AtomicFile.discard_all()  # the images in flight will never be complete
            price = price_of(self.request.options.size, self.request.options.quality)
            with self.lock:
                given_up = {t: i for t, i in self.running.items()
                            if t in on_wire_threads or self.attempts[t].answered}
                earlier = sum(self.attempts[t].unknown for t in given_up)
                return Outcome(
                    list(self.outcome.saved), list(self.outcome.failures), interrupted=True,
                    abandoned=sorted(given_up.values()), abandoned_earlier=earlier,
                    abandoned_cost_usd=price.usd, abandoned_extrapolated=price.extrapolated)
        self.outcome.interrupted = True
        return self.outcome


class _Workers:
    """The worker threads still running, counted by the workers themselves: a join
    that Ctrl-C interrupted can leave ``Thread.is_alive`` wrong."""

    def __init__(self, live: int) -> None:
        self.live = live
        self._ended = threading.Condition()

    def ended(self) -> None:
        with self._ended:
            self.live -= 1
            self._ended.notify_all()

    def wait(self) -> None:
        """Until every worker has ended (in short waits: Ctrl-C is heard between them)."""
        with self._ended:
            while self.live:
                self._ended.wait(0.2)
