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

# C0 controls, DEL and C1 controls: what a terminal may act on instead of showing.
_CONTROLS = "".join(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))
_ESCAPES = {ord(c): f"\\x{ord(c):02x}" for c in _CONTROLS} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_KEEP_NEWLINES = {k: v for k, v in _ESCAPES.items() if k != ord("\n")}


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` safe for a terminal: each control character shown as an escape.

    A prompt, a model name, a file name or a gateway message may hold ``ESC ] 0 ;`` or
    ``ESC [ 2 J``, which a terminal would obey (retitle, clear, rewrite lines) instead
    of printing. C0 and C1 controls and DEL become visible escapes (``\\x1b``,
    ``\\n``); every other character, Chinese or emoji, is kept as it is. With
    ``newlines`` a line break stays a line break (multi-line text of our own).
    """
    return text.translate(_KEEP_NEWLINES if newlines else _ESCAPES)


# JSON escapes C0 controls itself, but with ensure_ascii=False leaves DEL and C1 as
# they are: as \u escapes they stay valid JSON, and the same text once read.
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


def json_controls_escaped(text: str) -> str:
    """JSON text (from ``ensure_ascii=False``) with DEL and C1 controls as ``\\u`` escapes."""
    return text.translate(_JSON_ESCAPES)


def json_line(record: object) -> str:
    """``record`` as one line of JSON, readable UTF-8 with no raw control character."""
    return json_controls_escaped(json_dumps(record, ensure_ascii=False, default=str))


def json_dumps(document: object, **options: Any) -> str:
    """``json.dumps`` that never writes ``NaN`` or ``Infinity``, which are not JSON (a
    script's parser would refuse the whole document): such a number is written null."""
    import json  # noqa: PLC0415 - only where JSON is written; this module loads with --help

    try:
        return json.dumps(document, allow_nan=False, **options)
    except ValueError:
        return json.dumps(_finite_numbers(document), allow_nan=False, **options)


def _finite_numbers(value: Any) -> Any:
    """``value`` with every NaN or infinite float, however deep, replaced by None."""
    if isinstance(value, float):
        return value if value - value == 0 else None  # inf - inf and NaN are NaN
    if isinstance(value, dict):
        return {key: _finite_numbers(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_numbers(item) for item in value]
    return value


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
        text = printable(text, newlines=True)
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
        self.json_record({"type": kind, "message": message})

    def json_record(self, record: object) -> None:
        """One JSON line on stderr (``--progress jsonl``); not with --quiet."""
        if not self.quiet:
            line = json_line(record)
            with self._lock:
                self.stream.write(line + "\n")
                self.stream.flush()

    def note(self, message: str) -> None:
        """A line worth seeing in a terminal (a summary, a saved path)."""
        if self.interactive:
            self._write(message, "dim")

    def status(self, message: str) -> None:
        """A plain progress line for non-terminals when verbose; in terminals, the spinner."""
        if self._status is not None:
            self._status.update(printable(message))
        elif self.verbose:
            self._write(message)

    def progress(self, message: str) -> None:
        """A plain progress line (a phase, a JSON line) that CI logs keep; not with --quiet."""
        if not self.quiet:
            message = printable(message, newlines=True)
            with self._lock:
                self.stream.write(message + "\n")
                self.stream.flush()

    def trace(self, message: str) -> None:
        if self.verbose:
            self._write(message, "cyan")

    def error(self, message: str) -> None:
        """Errors are always shown, even with --quiet; on one line."""
        message = printable(message)
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
        text = _ElapsedText(printable(message))
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
