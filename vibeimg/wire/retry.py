"""The retry rule, which never bills twice (README, "Retries and billing").

A request is resent only when the gateway cannot have done the work: the connection
failed before the request went out, or the gateway answered 429 or 503. A read
timeout, a dropped connection (before or while the answer is read) or a 500/502/504
after the request went out has an unknown outcome (the image may have been made and
billed), so it is reported and not resent unless the user opts in
(``--retry-unknown``). Waits back off exponentially with full jitter, and honour
``Retry-After`` up to a cap.

:class:`Attempts` is what one request's sends came to: how many were retried, and how
many went out with no answer to say what became of them. Each of those may have been
billed, so the jobs price them (``possible_cost_usd``) whether the request then
succeeded or not.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from vibeimg.errors import NotSent, VibeimgError

RETRY_STATUSES = frozenset({429, 503})
UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 504})
MAX_RETRY_AFTER = 60.0  # seconds: a Retry-After longer than this is capped
BACKOFF_BASE = 0.5
BACKOFF_MAX = 20.0
UNKNOWN_OUTCOME = "outcome unknown, not retried: the gateway may have made and billed it"


def unknown_outcome_hint(retries: int, unknown: int) -> str:
    """The words for an unknown outcome once ``retries`` retries were made, ``unknown``
    of the attempts (this last one included) with no answer to say what became of them."""
    if not retries:
        return UNKNOWN_OUTCOME
    attempts = retries + 1
    which = f"all {attempts}" if unknown >= attempts else f"{unknown} of the {attempts}"
    return (f"outcome unknown after {retries} {'retry' if retries == 1 else 'retries'}: "
            f"the gateway may have made and billed {which} attempts")


@dataclass
class Attempts:
    """The sends of one request so far (filled in by the client as it sends).

    ``unknown`` counts every attempt that went out and ended with no answer to say what
    became of it (a 500, 502 or 504, a timeout, a connection dropped before or while
    the answer was read): each may have been made and billed, even when a later
    attempt succeeded. ``retries`` counts the retries made, against ``--retries``.
    ``answered`` says that an answer with an image is being read or saved (billed).
    ``before_send``, when set, is called with these attempts just before each send
    goes out (a batch records a resend's intent, with what its earlier sends may have
    cost); what it raises ends the request unsent.
    """

    retries: int = 0
    unknown: int = 0
    last_unknown: VibeimgError | None = None  # the latest of those attempts' errors
    answered: bool = False
    before_send: Callable[[Attempts], None] | None = None

    def ended_unknown(self, error: VibeimgError) -> None:
        """One more attempt of unknown outcome, which ended with ``error``."""
        self.unknown += 1
        self.last_unknown = error

    def gave_up(self, error: VibeimgError) -> VibeimgError:
        """``error``, the last attempt's, as the request's own once no retry is left:
        an unknown outcome says how many retries were made and how many may be billed."""
        if error.outcome_unknown and self.retries and error.hint:
            error.hint = error.hint.replace(
                UNKNOWN_OUTCOME, unknown_outcome_hint(self.retries, self.unknown))
        return error

    def not_sent(self) -> VibeimgError:
        """The error of a request an interrupt dropped before it was sent (again):
        nothing was billed, unless an earlier attempt went out with an unknown outcome,
        in which case the request's outcome is that attempt's (it may be billed)."""
        error = self.last_unknown
        if error is None:
            return NotSent("interrupted before the request was sent: nothing was billed")
        error.hint = (f"outcome unknown; its retry was dropped by the interrupt: the "
                      f"gateway may have made and billed "
                      f"{'it' if self.unknown == 1 else f'{self.unknown} attempts'}")
        return error


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
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped;
    None (the backoff decides) when it says nothing usable.

    ``nan`` or ``inf`` is not a wait, and a negative one (or a date already past) would
    send the retries at once, one after the other: all are taken as no header at all,
    so the exponential backoff spaces them. ``0`` is kept: it means "now".
    """
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
        if seconds < 0:  # a date already past: nothing to wait for, by its own word
            return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s... at most 20 s."""
    return random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))


class Retryable(Exception):
    """This attempt failed in a way that is safe (or allowed) to retry."""

    def __init__(self, error: VibeimgError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
