"""An adaptive limit on requests in flight, shared by a batch's workers.

It starts at the asked concurrency. When the gateway says it is busy (429, 503) the
limit halves and new requests wait out the gateway's ``Retry-After``; after as many
successes in a row as the limit allows, it grows by one again, up to the asked
concurrency (additive increase, multiplicative decrease). Requests already in flight
when the limit drops were sent under the old limit: their own 429s do not halve it
again, so one burst of refusals counts once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vibeimg.errors import GatewayError, VibeimgError
from vibeimg.wire.retry import RETRY_STATUSES


def busy(error: VibeimgError) -> bool:
    """The gateway refused for load: it did no work, so sending again cannot bill twice."""
    return isinstance(error, GatewayError) and error.status in RETRY_STATUSES


@dataclass
class Ticket:
    """One request's permission to be in flight, and the limit it was sent under."""

    epoch: int


class AdaptiveLimit:
    """A counting gate whose size follows the gateway's signals."""

    def __init__(self, maximum: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if maximum < 1:
            raise ValueError("the concurrency must be at least 1")
        self.maximum = maximum
        self.limit = maximum
        self.lowest = maximum
        self.throttles = 0
        self._clock = clock
        self._in_flight = 0
        self._epoch = 0
        self._streak = 0
        self._resume_at = 0.0
        self._cond = threading.Condition()

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def acquire(self, stop: threading.Event) -> Ticket | None:
        """Wait for a free slot (and the end of any pause); None once ``stop`` is set."""
        with self._cond:
            while True:
                if stop.is_set():
                    return None
                pause = self._resume_at - self._clock()
                if pause <= 0 and self._in_flight < self.limit:
                    self._in_flight += 1
                    return Ticket(self._epoch)
                self._cond.wait(timeout=min(max(pause, 0.01), 0.25) if pause > 0 else 0.25)

    def wake(self) -> None:
        """Wake every waiting worker now (the stop event was set)."""
        with self._cond:
            self._cond.notify_all()

    def release(self, ticket: Ticket, *, succeeded: bool) -> None:
        with self._cond:
            self._in_flight -= 1
            if succeeded and ticket.epoch == self._epoch:
                self._streak += 1
                if self._streak >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()

    def throttled(self, ticket: Ticket, wait: float) -> None:
        """The gateway refused a request as busy; ``wait`` is its Retry-After (or backoff)."""
        with self._cond:
            self.throttles += 1
            if ticket.epoch >= self._epoch:
                self.limit = max(1, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                self._epoch += 1
                self._streak = 0
            # The request's retry (or requeue) is sent under the new limit.
            ticket.epoch = self._epoch
            self._resume_at = max(self._resume_at, self._clock() + wait)
            self._cond.notify_all()
