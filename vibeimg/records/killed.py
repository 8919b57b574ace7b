"""Runs killed before they could record their end, found when the history is opened.

A run that spends is in the history before its first request goes out, ``running``,
with its owner (:mod:`vibeimg.records.owners`) and its requests sent kept current,
each priced in ``possible_cost_usd`` as it goes out. A run that ends in any way its
process lives through (success, failure, Ctrl-C, SIGTERM) replaces that row with its
record. One that does not (SIGKILL, the out-of-memory killer, a CI job's timeout, a
power cut) leaves it ``running``; the next vibeimg to open the history finds its
process gone and marks it ``killed``: its requests are of unknown outcome, and each
may have been made and billed.
"""

from __future__ import annotations

import sqlite3

from vibeimg.records.owners import is_gone
from vibeimg.units import count_of


def killed_error(sent: int | None) -> str:
    """What the history says of a killed run that sent ``sent`` requests."""
    requests = count_of(sent or 0, "request")
    return (f"killed: its process ended before the run could record its end (SIGKILL, out "
            f"of memory, a job's time limit); {requests} sent, each of unknown outcome: "
            f"the gateway may have made and billed {'it' if sent == 1 else 'them'}")


def mark_killed(conn: sqlite3.Connection) -> int:
    """Mark ``killed`` the runs in progress whose process is gone; how many were.

    Never fails: a database it cannot write now (locked, read-only) is left as it is,
    for a later opening to mark."""
    try:
        rows = conn.execute("SELECT id, owner, requests_sent FROM runs "
                            "WHERE owner IS NOT NULL").fetchall()
    except sqlite3.Error:
        return 0
    gone = [(killed_error(sent), run, owner) for run, owner, sent in rows if is_gone(owner)]
    if not gone:
        return 0
    try:
        with conn:
            conn.executemany("UPDATE runs SET outcome = 'killed', owner = NULL, error = ? "
                             "WHERE id = ? AND owner = ?", gone)
    except sqlite3.Error:
        return 0
    return len(gone)
