"""What people see on stderr: progress, warnings, summaries. Never on stdout.

stdout carries results only (paths, JSON, image bytes). Progress and summaries are
shown only when stderr is a terminal; warnings and ``--verbose`` traces are always
written (a CI log needs them) unless ``--quiet``. Rich is imported only when a
terminal will actually show something, which keeps start-up fast.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


def is_terminal(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Reporter:
    """The one place the command-line layer writes human-facing text."""

    def __init__(
        self, *, quiet: bool = False, verbose: bool = False, stream: IO[str] | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.interactive = not quiet and is_terminal(self.stream)
        self._lock = threading.Lock()
        self._console: Any = None
        self._status: Any = None
        self.json_lines = False  # --progress jsonl: every line on stderr is a JSON record

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415 - only for terminals

            self._console = Console(
                file=self.stream, highlight=False, no_color=bool(os.environ.get("NO_COLOR"))
            )
        return self._console

    def _write(self, text: str, style: str | None = None) -> None:
        with self._lock:
            if self.interactive:
                self.console.print(text, style=style, markup=False, soft_wrap=True)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def warn(self, message: str) -> None:
        if self.quiet:
            return
        if self.json_lines:
            self._record("vibeimg.warning", message)
        else:
            self._write(f"warning: {message}", "yellow")

    def info(self, message: str) -> None:
        """A line worth keeping in a log too: a change made on the user's behalf, a report."""
        if self.quiet:
            return
        if self.json_lines:
            self._record("vibeimg.notice", message)
        else:
            self._write(message)

    def _record(self, kind: str, message: str) -> None:
        import json  # noqa: PLC0415 - only in jsonl mode; this module loads with --help

        self.progress(json.dumps({"type": kind, "message": message}, ensure_ascii=False))

    def note(self, message: str) -> None:
        """A line worth seeing in a terminal (a summary, a saved path)."""
        if self.interactive:
            self._write(message, "dim")

    def status(self, message: str) -> None:
        """A plain progress line for non-terminals when verbose; in terminals, the spinner."""
        if self._status is not None:
            self._status.update(message)
        elif self.verbose:
            self._write(message)

    def progress(self, message: str) -> None:
        """A plain progress line (a phase, a JSON line) that CI logs keep; not with --quiet."""
        if not self.quiet:
            with self._lock:
                self.stream.write(message + "\n")
                self.stream.flush()

    def trace(self, message: str) -> None:
        if self.verbose:
            self._write(message, "cyan")

    def error(self, message: str) -> None:
        """Errors are always shown, even with --quiet."""
        with self._lock:
            if is_terminal(self.stream) and not os.environ.get("NO_COLOR"):
                self.stream.write(f"\x1b[31merror:\x1b[0m {message}\n")
            else:
                self.stream.write(f"error: {message}\n")
            self.stream.flush()

    @contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        """A spinner with elapsed time while waiting on the gateway (terminals only)."""
        if not self.interactive:
            yield
            return
        text = _ElapsedText(message)
        with self.console.status(text):
            self._status = text
            try:
                yield
            finally:
                self._status = None


class _ElapsedText:
    """A spinner message that shows the seconds elapsed each time Rich redraws it."""

    def __init__(self, message: str) -> None:
        self.message = message
        self._started = time.monotonic()

    def update(self, message: str) -> None:
        self.message = message

    def __rich__(self) -> Any:
        from rich.text import Text  # noqa: PLC0415 - rich is loaded once a spinner runs

        return Text(f"{self.message} ({time.monotonic() - self._started:.0f} s)")
