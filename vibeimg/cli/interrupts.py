"""SIGTERM and SIGHUP stop a run as Ctrl-C does.

``timeout``, a cancelled CI job and ``docker stop`` send SIGTERM; closing a terminal
sends SIGHUP. Python's default for both is to die at once, leaving hidden ``.part``
files, no ``--json`` document and no history entry. Raised as KeyboardInterrupt
instead, they take the path Ctrl-C takes: the temporary files are removed, what was
saved is printed and recorded, and the exit code is 130.

That path has two steps in every command that sends (``generate``, ``edit``,
``chat-stream``, ``batch``): the first interrupt sends nothing more and waits for the
requests on the wire, which the gateway makes and bills anyway (:func:`waiting_text`
says so); a second abandons them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vibeimg.units import count_of

#: The signals treated as Ctrl-C (SIGHUP is missing on Windows).
INTERRUPTING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def _interrupt(signum: int, frame: Any) -> None:
    del signum, frame
    raise KeyboardInterrupt


@contextmanager
def signals_as_interrupt(*, then_ignore: bool = False) -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread.

    After it they get their old handlers back, or with ``then_ignore`` (a process about
    to exit, its result printed) are ignored: a SIGTERM in the last milliseconds would
    otherwise kill with 143 a run whose document already says it succeeded.
    """
    previous: dict[int, Any] = {}
    try:
        for signum in INTERRUPTING:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # nohup: the user asked for this one to be ignored
            previous[signum] = signal.signal(signum, _interrupt)
    except ValueError:  # not the main thread (vibeimg called from a worker): leave them
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if then_ignore else handler)


def waiting_text(on_wire: int) -> str:
    """What the first interrupt says when requests are on the wire."""
    return (f"interrupted: nothing more is sent; waiting for {count_of(on_wire, 'request')} "
            "on the wire, which the gateway makes and bills anyway; Ctrl-C again to "
            f"abandon {'it' if on_wire == 1 else 'them'}")
