"""Run a batch: workers send items under an adaptive limit and record each in the manifest.

Each item is one :func:`vibeimg.jobs.image_requests.fetch_image` call, so retries, atomic
saving and sidecars behave exactly as in ``generate``. One item's failure never stops
the others; the gateway saying it is busy (429, 503) slows the whole batch down (see
:mod:`vibeimg.batch.limiter`) and puts the item back in the queue, which is safe because
the gateway did no work. A refused key or a full disk stops the batch (``stops_batch``):
every other item would be refused, or bought and thrown away.

Ctrl-C (or SIGTERM, SIGHUP) sends nothing more: the client is cancelled, so a request
waiting to be retried ends at once (it was never billed), and only the requests
really on the wire are waited for (the gateway bills them anyway). A second Ctrl-C
abandons those: each is recorded as of unknown outcome (``abandoned``), with its
possible cost, so that a rerun does not pay for it twice. What is complete is kept,
the rest is reported as not run, and the same command resumes.

Each request is announced in the manifest (an intent line) before it goes out, so that
a ``kill -9``, which leaves no time to record anything, cannot make a rerun send again
a request the gateway may be making and billing: the rerun finds the intent without an
answer and treats the item as of unknown outcome. An item whose intent cannot be
written is not sent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable

from vibeimg.batch.items import BatchItem
from vibeimg.batch.ledger import Ledger
from vibeimg.batch.limiter import AdaptiveLimit, Ticket, busy
from vibeimg.batch.manifest import FolderLock, Record
from vibeimg.batch.names import name_plans
from vibeimg.batch.opening import open_run
from vibeimg.batch.outcomes import ItemOutcome
from vibeimg.batch.plan import BatchPlan
from vibeimg.batch.records import (
    abandoned_record,
    failure_record,
    sending_record,
    success_record,
    unsent_record,
)
from vibeimg.batch.recover import item_folders, one_per_folder
from vibeimg.batch.requests import build_request
from vibeimg.batch.result import BatchResult, Progress
from vibeimg.batch.writer import ManifestWriter
from vibeimg.errors import NotSent, VibeimgError, WriteError, save_error
from vibeimg.files.atomic import AtomicFile
from vibeimg.files.writable import ensure_output_dir
from vibeimg.jobs.image_requests import ImageRequest, fetch_image
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.retry import Attempts, RetryWait, backoff_seconds

MAX_REQUEUES = 5  # times a busy-refused item goes back in the queue
ABANDON_WAIT = 0.5  # seconds for abandoned requests to wind down after a second Ctrl-C


EventHook = Callable[[ItemOutcome], None]
TickHook = Callable[[Progress], None]


class BatchRunner:
    """Sends a plan's remaining items, at most ``concurrency`` at once."""

    def __init__(
        self,
        client: GatewayClient,
        plan: BatchPlan,
        *,
        concurrency: int,
        sidecar: bool = True,
        force: bool = False,
        on_event: EventHook | None = None,
        on_tick: TickHook | None = None,
        on_interrupt: Callable[[int], None] | None = None,
        tick_interval: float = 0.25,
        build: Callable[[BatchItem], ImageRequest] = build_request,
    ) -> None:
        self.client = client
        self.plan = plan
        self.sidecar = sidecar
        self.on_event = on_event
        self.on_tick = on_tick
        self.on_interrupt = on_interrupt
        self.tick_interval = tick_interval
        self.build = build
        self.limiter = AdaptiveLimit(concurrency)
        self.stop = threading.Event()  # send nothing more
        self.aborted = False  # requests in flight were abandoned (a second Ctrl-C)
        self._live = 0  # workers still running

        # Items that share a name template share its plan; --force's spares finished images.
        self._name_plan = name_plans(plan.done.values(), plan.out_dir, force=force)
        # What became of each item, by its position in plan.selected.
        self.ledger = Ledger(plan)
        self._queue = deque(n for n in range(len(self.ledger))
                            if self.ledger.status(n) == "not-run")
        self._requeues: dict[int, int] = {}  # position -> times it was refused as busy
        self._running: dict[int, tuple[int, Attempts]] = {}  # thread -> position, its sends
        self._unfinished = self._to_send = len(self._queue)
        # Of unknown outcome before anything is sent (left on the wire by a killed run).
        self._unknown_before = self.ledger.count("unknown")
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # workers waiting for a job
        self._ended = threading.Condition(lock)  # the main thread waiting for the workers
        self._local = threading.local()
        self._manifest: ManifestWriter | None = None
        self._stopped_by: VibeimgError | None = None
        self._crash: BaseException | None = None
        self._started = time.monotonic()

    # -- the run ---------------------------------------------------------------
    def run(self, manifest: ManifestWriter) -> BatchResult:
        """Send everything left, recorded in ``manifest`` (``opening.claim``); returns
        when all is done, or after Ctrl-C (interrupted). The first Ctrl-C sends nothing
        more but lets the requests in flight finish: the gateway is making (and billing)
        those images anyway. A second Ctrl-C abandons them."""
        folders = {self._name_plan(item.name, item.count).directory
                   for item in one_per_folder(self.plan.to_send)}
        for folder in sorted({self.plan.out_dir, *folders}):
            ensure_output_dir(folder)
        self._started = time.monotonic()
        interrupted = False
        self.plan.settle()
        folders |= item_folders(self.plan.selected, self.plan.out_dir)
        # Closed on the way out: every item's line written and its sender told.
        with FolderLock(self.plan.out_dir, folders) as lock, manifest:
            self._manifest = manifest
            open_run(manifest, self.plan)
            self.client.retry_listeners.append(self._on_retry)
            self._live = min(self.limiter.maximum, max(1, self._unfinished))
            for n in range(self._live):
                threading.Thread(target=self._work, name=f"vibeimg-batch-{n}",
                                 daemon=True).start()
            try:
                self._wait()
            except KeyboardInterrupt:
                interrupted = True
                self._drain()
            finally:
                with self._cond:
                    self._manifest = None
            lock.clean_if_alone()
            cleaned = lock.cleaned
        if self._crash is not None:
            raise self._crash
        return BatchResult(
            outcomes=self.ledger, elapsed=time.monotonic() - self._started, limiter=self.limiter,
            interrupted=interrupted, stopped_by=self._stopped_by, cleaned=cleaned,
            offline=self.client.offline,
        )

    def _drain(self) -> None:
        """After Ctrl-C: send nothing more, drop the requests waiting to be retried (never
        billed), and let those on the wire land, unless Ctrl-C comes again."""
        self.stop.set()
        self.client.cancel()  # a retry's wait ends now: not sent, not billed
        self.limiter.wake()
        with self._cond:
            self._cond.notify_all()
        try:
            on_wire = self.client.on_wire
            if on_wire and self.on_interrupt is not None:
                self.on_interrupt(on_wire)
            self._wait()
        except KeyboardInterrupt:
            self.aborted = True
            AtomicFile.discard_all()  # the images in flight will never be complete
            self._abandon()
            self._wait(deadline=time.monotonic() + ABANDON_WAIT)

    def _abandon(self) -> None:
        """A second Ctrl-C: the requests on the wire are given up, but the gateway may
        make and bill them all the same. Each is recorded as of unknown outcome."""
        on_wire = self.client.threads_on_wire()
        abandoned = []
        with self._cond:
            for thread, (position, sends) in self._running.items():
                if thread not in on_wire or self.ledger.status(position) != "not-run":
                    continue
                item = self.ledger.items[position]
                record = abandoned_record(item, self.plan,
                                          earlier=sends.unknown)
                self.ledger.finish(position, "abandoned", record)
                abandoned.append(ItemOutcome(item, "abandoned", record))
            self._cond.notify_all()
        for outcome in abandoned:  # outside the lock: the manifest's writer may need it
            if outcome.record is not None:
                self._record(outcome.record)
        if self.on_event is not None:
            for outcome in abandoned:
                self.on_event(outcome)

    def _wait(self, deadline: float | None = None) -> None:
        """Until every worker has ended (counted by the workers themselves: a join that
        Ctrl-C interrupted can leave ``Thread.is_alive`` wrong)."""
        next_tick = time.monotonic() + self.tick_interval
        while True:
            with self._ended:
                if self._live == 0:
                    return
                self._ended.wait(timeout=max(0.0, next_tick - time.monotonic()))
            now = time.monotonic()
            if deadline is not None and now > deadline:
                return
            if now >= next_tick:  # on schedule, not at every finished item
                next_tick = now + self.tick_interval
                if self.on_tick is not None:
                    self.on_tick(self.progress())

    def progress(self) -> Progress:
        ledger = self.ledger
        with self._cond:
            done = ledger.count("done")
            failed = ledger.count("failed") + ledger.count("unknown") - self._unknown_before
            spent, possible = ledger.spent, ledger.possible
        return Progress(
            total=self._to_send, skipped=len(self.plan.done), done=done, failed=failed,
            in_flight=self.limiter.in_flight, limit=self.limiter.limit,
            spent=spent, possible=possible, elapsed=time.monotonic() - self._started,
        )

    # -- workers ---------------------------------------------------------------

    def _work(self) -> None:
        try:
            while (position := self._next_job()) is not None:
                ticket = self.limiter.acquire(self.stop)
                if ticket is None:
                    return
                self._local.ticket = ticket
                self._attempt(position, ticket)
        except BaseException as exc:  # a bug: stop everything and re-raise in the main thread
            if not self.aborted:
                self._crash = exc
            self.stop.set()
        finally:
            with self._cond:
                self._live -= 1
                self._ended.notify_all()

    def _next_job(self) -> int | None:
        with self._cond:
            while not self.stop.is_set():
                if self._queue:
                    return self._queue.popleft()
                if self._unfinished == 0:
                    return None
                self._cond.wait(timeout=0.25)
            return None

    def _attempt(self, position: int, ticket: Ticket) -> None:
        item = self.ledger.items[position]
        sends = Attempts(before_send=self._resending(item))
        with self._cond:
            self._running[threading.get_ident()] = (position, sends)
        try:
            request = self.build(item)
            if not self._announce(item):
                self.limiter.release(ticket, succeeded=False)
                return  # not sent: its intent could not be recorded (the run stops)
            saved = fetch_image(self.client, request, index=item.index,
                                plan=self._name_plan(item.name, item.count),
                                sidecar=self.sidecar, digest=True, attempts=sends)
            record = success_record(item, request, saved, self.plan)
        except (VibeimgError, OSError, RuntimeError) as exc:
            self.limiter.release(ticket, succeeded=False)
            if isinstance(exc, NotSent):
                self._take_back(item)
            if self.aborted or isinstance(exc, NotSent):
                # Abandoned after a second Ctrl-C (recorded by _abandon), or dropped
                # before it went out (never billed): the item stays not run.
                return
            if isinstance(exc, RuntimeError):
                raise
            error = exc if isinstance(exc, VibeimgError) else VibeimgError(
                f"cannot save the image: {exc}")
            # --retries 0 means no second try of any kind, the batch's own included.
            requeues = MAX_REQUEUES if self.client.settings.retries else 0
            if busy(error) and self.stop.is_set():
                self._take_back(item)
                return  # refused as busy after Ctrl-C: not billed, not run
            refused = self._requeues.get(position, 0)
            if busy(error) and refused < requeues:
                self._take_back(item)
                self._requeues[position] = refused + 1
                self.limiter.throttled(ticket, backoff_seconds(refused + 1))
                with self._cond:
                    self._queue.append(position)
                    self._cond.notify_all()
                return
            status = "unknown" if error.outcome_unknown else "failed"
            self._finish(position, status, failure_record(item, error, self.plan), error)
            if error.stops_batch():
                self._stopped_by = self._stopped_by or error
                self.stop.set()
            return
        finally:
            with self._cond:
                self._running.pop(threading.get_ident(), None)
        self.limiter.release(ticket, succeeded=True)
        self._finish(position, "done", record, None)

    def _announce(self, item: BatchItem, earlier: int = 0) -> bool:
        """Write the item's intent line before its request goes out; False (send
        nothing) when it cannot be written. Not waited on to be ``fsync``'d: a write
        survives a ``kill -9``, and the next finished line's ``fsync`` covers it."""
        manifest = self._manifest
        if manifest is None:
            return False  # the run is ending, or its manifest failed
        try:
            manifest.write_now(sending_record(item, self.plan, earlier=earlier))
        except WriteError as problem:
            self._manifest_failed(manifest, problem)
            return False
        return True

    def _resending(self, item: BatchItem) -> Callable[[Attempts], None]:
        """A resend after sends of unknown outcome (--retry-unknown) is announced anew,
        counting them too, so that a kill leaves them all counted."""
        def before_send(sends: Attempts) -> None:
            if sends.unknown and not self._announce(item, sends.unknown):
                raise sends.not_sent()  # the run stops: its outcome is the last send's
        return before_send

    def _take_back(self, item: BatchItem) -> None:
        """The item's request was certainly not billed (refused as busy, dropped before
        it went out): its intent is taken back, so that a rerun sends it. Unless earlier
        tries of it were of unknown outcome and retried (``--retry-unknown``)."""
        manifest = self._manifest
        if manifest is not None and not self.client.settings.retry_unknown:
            with contextlib.suppress(WriteError):  # left as it is: unknown, to be safe
                manifest.write_now(unsent_record(item))

    def _on_retry(self, retry: RetryWait) -> None:
        ticket = getattr(self._local, "ticket", None)
        if ticket is not None and busy(retry.error):
            self.limiter.throttled(ticket, retry.seconds)

    def _record(self, record: Record) -> None:
        """Append one line to the manifest and wait until it is durable (not holding
        ``_cond``: the manifest's writer thread takes it to finish other items)."""
        manifest = self._manifest
        if manifest is None:
            return
        try:
            manifest.append(record)
        except WriteError as problem:
            self._manifest_failed(manifest, problem)

    def _manifest_failed(self, manifest: ManifestWriter, problem: VibeimgError) -> None:
        # Nothing more is sent: its results could not be recorded. A saved image is
        # still found by its sidecar when the batch is run again.
        with self._cond:
            if self._manifest is not manifest:
                return  # the run was over (the manifest closed): nothing more to stop
            self._manifest = None
            self._stopped_by = self._stopped_by or problem
        self.stop.set()

    def _finish(self, position: int, status: str, record: Record,
                error: VibeimgError | None) -> None:
        """Hand the item's line to the manifest and go on to the next item: the item
        counts as finished (and is reported) once the line is durable, which the
        manifest's writer thread says for many lines at a time."""
        with self._cond:
            if self.ledger.status(position) == "abandoned":
                return  # already recorded as abandoned; a saved image is found by its sidecar
            manifest = self._manifest
        if manifest is None:
            self._finished(position, status, record, error, -1)
            return

        def durable(failure: OSError | None, offset: int) -> None:
            if failure is not None:
                self._manifest_failed(manifest, save_error(
                    failure, f"the manifest {self.plan.manifest_path}"))
            self._finished(position, status, record, error, offset)

        manifest.submit(record, durable)

    def _finished(self, position: int, status: str, record: Record,
                  error: VibeimgError | None, offset: int) -> None:
        try:
            with self._cond:
                if self.ledger.status(position) == "abandoned":
                    return
                self.ledger.finish(position, status, record, error, offset)
                self._unfinished -= 1
                self._cond.notify_all()
            if self.on_event is not None:
                self.on_event(ItemOutcome(self.ledger.items[position], status, record, error))
        except BaseException as exc:  # a bug: stop everything and re-raise in the main thread
            if self._crash is None and not self.aborted:
                self._crash = exc
            self.stop.set()
