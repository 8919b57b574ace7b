"""The retry rule, which never bills twice (README, "Retries and billing").

A request is resent only when the gateway cannot have done the work: the connection
failed before the request went out, or the gateway answered 429 or 503. A read
timeout, a dropped connection or a 500/502/504 after the request went out has an
unknown outcome (the image may have been made and billed), so it is reported and not
resent unless the user opts in (``--retry-unknown``). Waits back off exponentially
with full jitter, and honour ``Retry-After`` up to a cap.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from vibeimg.errors import VibeimgError

RETRY_STATUSES = frozenset({429, 503})
UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 504})
MAX_RETRY_AFTER = 60.0  # seconds: a Retry-After longer than this is capped
BACKOFF_BASE = 0.5
BACKOFF_MAX = 20.0
UNKNOWN_OUTCOME = "outcome unknown, not retried: the gateway may have made and billed it"


@dataclass(frozen=True)
class RetryWait:
    """A retry about to wait: why, for how long, and which retry of how many."""

    error: VibeimgError
    seconds: float
    attempt: int  # 1 for the first retry
    retries: int  # the most the settings allow


#: Told of each retry before its wait (from the thread that sends the request).
OnRetry = Callable[[RetryWait], None]


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s... at most 20 s."""
    return random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))


class Retryable(Exception):
    """This attempt failed in a way that is safe (or allowed) to retry."""

    def __init__(self, error: VibeimgError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
