"""Who makes a run in progress, and whether that process is still there.

A run's row names its owner before its first request goes out: the host, the boot,
the process id and the process's start time (``/proc/self/stat``, in clock ticks since
boot), and a random token of the run. A process id alone is reused once the process is
gone; with its start time and the boot it is not, so a later vibeimg can tell a run
still being made (never touched) from one whose process was killed before it could
record its end. The token tells two runs of one process apart (the Python API, from
threads).

Where there is no ``/proc`` (macOS), the start time and boot are left empty and a
process id that answers ``kill(pid, 0)`` counts as alive: a reused id then keeps a
killed run ``running`` (never the reverse: a live run is never taken for killed).
A run made on another host (a history on a shared folder), or on Windows, is never
judged.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

_PROC = Path("/proc")


class Owner:
    """The process making a run, and the run's own token (a plain class: the history
    loads this module at each opening, and a dataclass costs milliseconds to make)."""

    __slots__ = ("boot", "host", "pid", "started", "token")

    def __init__(self, host: str, boot: str, pid: int, started: str, token: str) -> None:
        self.host, self.boot, self.pid, self.started, self.token = (
            host, boot, pid, started, token)

    def text(self) -> str:
        return "|".join((self.host, self.boot, str(self.pid), self.started, self.token))

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        parts = text.split("|")
        if len(parts) != 5 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3], parts[4])


def new_owner() -> Owner:
    """This process, with a fresh token: the owner of a run about to start."""
    host, boot, pid, started = _this_process()
    return Owner(host, boot, pid, started, os.urandom(8).hex())


@functools.cache
def _this_process() -> tuple[str, str, int, str]:
    pid = os.getpid()
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    return host, _boot_id(), pid, _start_time(pid)[1]


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_time(pid: int) -> tuple[str, str]:
    """A process's state letter and start time (``/proc/PID/stat`` fields 3 and 22);
    ``("", "")`` when it cannot be read (no such process, or no ``/proc``)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return "", ""
    # The command name (field 2) is in parentheses and may hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 2:].split()
    if len(fields) < 20:  # field 22 is the 20th after the name
        return "", ""
    return fields[0].decode("ascii", "replace"), fields[19].decode("ascii", "replace")


def is_gone(text: str) -> bool:
    """Whether the process that owns a run (an owner's ``text``) has ended: True only
    when that is certain."""
    owner = Owner.parse(text)
    if owner is None:
        return False  # not ours to judge
    host, boot, pid, started = _this_process()
    if owner.host != host:
        return False  # another machine's process: nothing here can tell
    if owner.boot and boot and owner.boot != boot:
        return True  # the machine was restarted since
    if (owner.pid, owner.started) == (pid, started):
        return False  # this very process
    if owner.started and (_PROC / "self").exists():
        state, now_started = _start_time(owner.pid)
        # Gone, replaced by a later process of the same id, or dead and not yet reaped.
        return now_started != owner.started or state in ("Z", "X")
    if os.name == "nt":  # there, kill(pid, 0) would end the process: never judged
        return False
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process (EPERM): it exists
        return False
    return False
