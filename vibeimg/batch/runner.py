"""Run a batch: workers send items under an adaptive limit and record each in the manifest.

Each item is one :func:`vibeimg.jobs.image_requests.fetch_image` call, so retries, atomic saving
and sidecars behave exactly as in ``generate``. One item's failure never stops the
others; the gateway saying it is busy (429, 503) slows the whole batch down (see
:mod:`vibeimg.batch.limiter`) and puts the item back in the queue, which is safe
because the gateway did no work. A refused key stops the batch: every other item
would be refused too. Ctrl-C sends nothing more and lets the requests in flight land
(they are billed anyway); a second Ctrl-C abandons them. What is complete is kept,
the rest is reported as not run, and the same command resumes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.batch.items import BatchItem
from vibeimg.batch.limiter import AdaptiveLimit, Ticket
from vibeimg.batch.manifest import FolderLock, ManifestWriter, Record
from vibeimg.batch.plan import BatchPlan
from vibeimg.batch.records import failure_record, plan_record, success_record
from vibeimg.batch.requests import build_request
from vibeimg.errors import AuthError, GatewayError, VibeimgError, WriteError
from vibeimg.files.atomic import AtomicFile, ensure_output_dir
from vibeimg.files.naming import NamePlan
from vibeimg.jobs.image_requests import ImageRequest, fetch_image
from vibeimg.records.runs import Entry
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.retry import RETRY_STATUSES, RetryWait, backoff_seconds

MAX_REQUEUES = 5  # times a busy-refused item goes back in the queue
ABANDON_WAIT = 0.5  # seconds for abandoned requests to wind down after a second Ctrl-C


@dataclass
class ItemOutcome:
    """What became of one item in this run."""

    item: BatchItem
    status: str = "not-run"  # done, skipped (done before), failed, not-run
    record: Record | None = None
    error: VibeimgError | None = None

    def as_json(self, out_dir: Path) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "key": self.item.key, "line": self.item.line, "index": self.item.index,
            "kind": self.item.kind, "prompt": self.item.prompt, "status": self.status,
        }
        record = self.record or {}
        for name in ("path", "sidecar"):
            if record.get(name):
                entry[name] = str(out_dir / record[name])
        for name in ("sha256", "bytes", "format", "size", "quality", "revised_prompt",
                     "request_id", "elapsed_seconds", "estimated_cost_usd",
                     "cost_extrapolated", "offline", "error", "exit_code", "http_status"):
            if name in record:
                entry[name] = record[name]
        return entry

    def history_entry(self, out_dir: Path, *, offline: bool) -> Entry | None:
        """The history's record of this item; None for an item that was not run."""
        if self.status not in ("done", "failed"):
            return None
        item, record = self.item, self.record or {}
        path = record.get("path")
        done = self.status == "done"
        return Entry(
            command="batch",
            prompt=item.prompt,
            revised_prompt=record.get("revised_prompt"),
            model=item.options.model,
            parameters={"endpoint": item.endpoint, **(record.get("parameters") or {}),
                        "batch_key": item.key, "line": item.line, "index": item.index,
                        "inputs": record.get("inputs") or []},
            outputs=[str((out_dir / path).resolve())] if path else [],
            request_ids=[record["request_id"]] if record.get("request_id") else [],
            usage=record.get("usage") if isinstance(record.get("usage"), dict) else None,
            estimated_cost_usd=float(record.get("estimated_cost_usd") or 0.0),
            cost_extrapolated=bool(record.get("cost_extrapolated")),
            outcome="completed" if done else "failed",
            error=record.get("error"),
            offline=offline or bool(record.get("offline")),
            images=1 if done else 0,
            elapsed_seconds=record.get("elapsed_seconds"),
        )


@dataclass
class Progress:
    """A snapshot for progress displays."""

    total: int  # items this run set out to send
    skipped: int
    done: int
    failed: int
    in_flight: int
    limit: int
    spent: float
    elapsed: float

    @property
    def eta(self) -> float | None:
        finished = self.done + self.failed
        if not finished or finished >= self.total:
            return None
        return self.elapsed / finished * (self.total - finished)


@dataclass
class BatchResult:
    outcomes: list[ItemOutcome]
    elapsed: float
    limiter: AdaptiveLimit
    interrupted: bool = False
    stopped_by: VibeimgError | None = None
    cleaned: list[Path] = field(default_factory=list)
    offline: bool = False  # sent to vibeimg's emulator: nothing billed

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def spent(self) -> float:
        return _spent(self.outcomes)

    @property
    def cost_extrapolated(self) -> bool:
        """Whether some of :attr:`spent` is priced outside the published table."""
        return any((o.record or {}).get("cost_extrapolated") for o in self.outcomes
                   if o.status in ("done", "failed"))


EventHook = Callable[[ItemOutcome], None]
TickHook = Callable[[Progress], None]


@dataclass
class _Job:
    outcome: ItemOutcome
    requeues: int = 0


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
        self._name_plans = {
            item.key: NamePlan.build(item.name, plan.out_dir, count=item.count, force=force)
            for item in plan.to_send
        }
        self._outcomes = {item.key: ItemOutcome(item) for item in plan.selected}
        for key, record in plan.done.items():
            self._outcomes[key].status, self._outcomes[key].record = "skipped", record
        self._queue = deque(_Job(self._outcomes[item.key]) for item in plan.to_send)
        self._unfinished = len(self._queue)
        self._cond = threading.Condition()
        self._local = threading.local()
        self._manifest: ManifestWriter | None = None
        self._stopped_by: VibeimgError | None = None
        self._crash: BaseException | None = None
        self._started = time.monotonic()

    # -- the run ---------------------------------------------------------------

    def run(self) -> BatchResult:
        """Send everything left; returns when all is done, or after Ctrl-C (interrupted).

        The first Ctrl-C sends nothing more but lets the requests in flight finish: the
        gateway is making (and billing) those images anyway. A second Ctrl-C abandons them.
        """
        folders = {p.directory for p in self._name_plans.values()}
        for folder in sorted({self.plan.out_dir, *folders}):
            ensure_output_dir(folder)
        self._started = time.monotonic()
        interrupted = False
        self.plan.settle()
        with FolderLock(self.plan.out_dir, folders) as lock, \
                ManifestWriter(self.plan.manifest_path) as manifest:
            self._manifest = manifest
            manifest.append(plan_record(self.plan))
            for record in self.plan.recovered:
                manifest.append(record)
            self.client.retry_listeners.append(self._on_retry)
            self._live = min(self.limiter.maximum, max(1, self._unfinished))
            for n in range(self._live):
                threading.Thread(target=self._work, name=f"vibeimg-batch-{n}",
                                 daemon=True).start()
            try:
                self._wait()
            except KeyboardInterrupt:
                interrupted = True
                self.stop.set()
                self._drain()
            finally:
                with self._cond:
                    self._manifest = None
            lock.clean_if_alone()
            cleaned = lock.cleaned
        if self._crash is not None:
            raise self._crash
        return BatchResult(
            outcomes=[self._outcomes[item.key] for item in self.plan.selected],
            elapsed=time.monotonic() - self._started, limiter=self.limiter,
            interrupted=interrupted, stopped_by=self._stopped_by, cleaned=cleaned,
            offline=self.client.offline,
        )

    def _drain(self) -> None:
        """After Ctrl-C: let the requests in flight land, unless Ctrl-C comes again."""
        in_flight = self.limiter.in_flight
        try:
            if in_flight and self.on_interrupt is not None:
                self.on_interrupt(in_flight)
            self._wait()
        except KeyboardInterrupt:
            self.aborted = True
            AtomicFile.discard_all()  # the images in flight will never be complete
            self._wait(deadline=time.monotonic() + ABANDON_WAIT)

    def _wait(self, deadline: float | None = None) -> None:
        """Until every worker has ended (counted by the workers themselves: a join that
        Ctrl-C interrupted can leave ``Thread.is_alive`` wrong)."""
        while True:
            with self._cond:
                if self._live == 0:
                    return
                self._cond.wait(timeout=self.tick_interval)
            if deadline is not None and time.monotonic() > deadline:
                return
            if self.on_tick is not None:
                self.on_tick(self.progress())

    def progress(self) -> Progress:
        outcomes = self._outcomes.values()
        return Progress(
            total=len(self.plan.to_send), skipped=len(self.plan.done),
            done=sum(1 for o in outcomes if o.status == "done"),
            failed=sum(1 for o in outcomes if o.status == "failed"),
            in_flight=self.limiter.in_flight, limit=self.limiter.limit,
            spent=_spent(outcomes),
            elapsed=time.monotonic() - self._started,
        )

    # -- workers ---------------------------------------------------------------

    def _work(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                ticket = self.limiter.acquire(self.stop)
                if ticket is None:
                    return
                self._local.ticket = ticket
                self._attempt(job, ticket)
        except BaseException as exc:  # a bug: stop everything and re-raise in the main thread
            if not self.aborted:
                self._crash = exc
            self.stop.set()
        finally:
            with self._cond:
                self._live -= 1
                self._cond.notify_all()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self.stop.is_set():
                if self._queue:
                    return self._queue.popleft()
                if self._unfinished == 0:
                    return None
                self._cond.wait(timeout=0.25)
            return None

    def _attempt(self, job: _Job, ticket: Ticket) -> None:
        item = job.outcome.item
        try:
            request = self.build(item)
            saved = fetch_image(self.client, request, index=item.index,
                                plan=self._name_plans[item.key], sidecar=self.sidecar)
            record = success_record(item, request, saved, self.plan)
        except (VibeimgError, OSError, RuntimeError) as exc:
            self.limiter.release(ticket, succeeded=False)
            if self.aborted:
                return  # abandoned after a second Ctrl-C: the item stays not run
            if isinstance(exc, RuntimeError):
                raise
            error = exc if isinstance(exc, VibeimgError) else VibeimgError(
                f"cannot save the image: {exc}")
            # --retries 0 means no second try of any kind, the batch's own included.
            requeues = MAX_REQUEUES if self.client.settings.retries else 0
            if _busy(error) and job.requeues < requeues and not self.stop.is_set():
                job.requeues += 1
                self.limiter.throttled(ticket, backoff_seconds(job.requeues))
                with self._cond:
                    self._queue.append(job)
                    self._cond.notify_all()
                return
            self._finish(job, "failed", failure_record(item, error, self.plan), error)
            if isinstance(error, AuthError):
                self._stopped_by = error
                self.stop.set()
            return
        self.limiter.release(ticket, succeeded=True)
        self._finish(job, "done", record, None)

    def _on_retry(self, retry: RetryWait) -> None:
        ticket = getattr(self._local, "ticket", None)
        if ticket is not None and _busy(retry.error):
            self.limiter.throttled(ticket, retry.seconds)

    def _finish(self, job: _Job, status: str, record: Record, error: VibeimgError | None) -> None:
        with self._cond:
            if self._manifest is not None:
                try:
                    self._manifest.append(record)
                except WriteError as problem:
                    # Nothing more is sent: its results could not be recorded. A saved
                    # image is still found by its sidecar when the batch is run again.
                    self._manifest = None
                    self._stopped_by = self._stopped_by or problem
                    self.stop.set()
            job.outcome.status, job.outcome.record, job.outcome.error = status, record, error
            self._unfinished -= 1
            self._cond.notify_all()
        if self.on_event is not None:
            self.on_event(job.outcome)


def _spent(outcomes: Iterable[ItemOutcome]) -> float:
    """The estimated cost of the images made: saved, or lost to the disk (billed too)."""
    return round(sum(float((o.record or {}).get("estimated_cost_usd") or 0)
                     for o in outcomes if o.status in ("done", "failed")), 4)


def _busy(error: VibeimgError) -> bool:
    """The gateway refused for load: it did no work, so sending again cannot bill twice."""
    return isinstance(error, GatewayError) and error.status in RETRY_STATUSES


def nothing_to_send(plan: BatchPlan, *, concurrency: int) -> BatchResult:
    """The result of a run whose items were all done before: no connection needed.

    The run is still recorded, so that a merge knows this shard ran (even empty)."""
    ensure_output_dir(plan.out_dir)
    plan.settle()
    with ManifestWriter(plan.manifest_path) as manifest:
        manifest.append(plan_record(plan))
        for record in plan.recovered:
            manifest.append(record)
    outcomes = [ItemOutcome(item, "skipped", plan.done.get(item.key)) for item in plan.selected]
    return BatchResult(outcomes=outcomes, elapsed=0.0, limiter=AdaptiveLimit(concurrency))
