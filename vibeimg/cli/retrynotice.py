"""The line on stderr that says a retry is waiting, so a long wait is never silent.

A ``Retry-After`` of a minute used to pass without a word unless ``--verbose``. Now
each wait is announced once: "gateway busy (429), retrying in 60 s (retry 1 of 3)".
Requests sent together (``-n``, a batch) that are refused together share one wait,
so they share one line too: while an announced wait runs, further retries are quiet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vibeimg.errors import GatewayError

if TYPE_CHECKING:  # the client (httpx) is imported only by commands that send
    from vibeimg.wire.retry import RetryWait

BUSY_WORDS = {429: "gateway busy", 503: "gateway unavailable"}


def retry_notice(retry: RetryWait) -> str:
    """One line: why, how long, which retry of how many."""
    error = retry.error
    if isinstance(error, GatewayError):
        reason = f"{BUSY_WORDS.get(error.status, 'gateway error')} ({error.status})"
    else:
        reason = " ".join(error.message.split())
    wait = f"{retry.seconds:.0f}" if retry.seconds >= 10 else f"{retry.seconds:.1f}"
    return f"{reason}, retrying in {wait} s (retry {retry.attempt} of {retry.retries})"


class RetryNotices:
    """A client retry listener that shows each wait once, from any thread."""

    def __init__(self, show: Callable[[RetryWait], None]) -> None:
        self.show = show
        self._quiet_until = 0.0
        self._lock = threading.Lock()

    def __call__(self, retry: RetryWait) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._quiet_until:
                return  # a wait already announced covers this one
            self._quiet_until = now + retry.seconds
        self.show(retry)
