"""Periods of the history: when ``--since`` and ``--until`` start."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from vibeimg.errors import UsageError


def parse_since(text: str, *, today: date | None = None) -> str:
    """A start time for ``--since``: a date, a date and time, ``today``, or ``7d``/``2w``.

    Dates are local; the result is UTC in the form the database stores.
    """
    raw = text.strip().lower()
    today = today or date.today()
    relative = re.fullmatch(r"(\d+)\s*([dw])", raw)
    start: datetime
    if raw == "today":
        start = datetime.combine(today, datetime.min.time())
    elif raw == "yesterday":
        start = datetime.combine(today - timedelta(days=1), datetime.min.time())
    elif relative:
        days = int(relative.group(1)) * (7 if relative.group(2) == "w" else 1)
        start = datetime.combine(today - timedelta(days=days), datetime.min.time())
    else:
        try:
            start = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            raise UsageError(
                f"invalid date {text!r}",
                hint="use YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, 7d or 2w",
            ) from exc
    if start.tzinfo is None:
        start = start.astimezone()  # a local time
    return start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
