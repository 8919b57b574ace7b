"""Run vibeimg in a pseudo-terminal, as a person at a terminal would see it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

COLUMNS, LINES = 80, 24


def vibeimg_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", "from vibeimg.cli.app import main; main()", *args]


def run_in_pty(
    argv: list[str], *, env: dict[str, str], cwd: Path,
    replies: tuple[tuple[bytes, bytes], ...] = (), timeout: float = 60.0,
    fresh: bool = False,
) -> tuple[int, bytes]:
    """Run ``argv`` with stdin, stdout and stderr on one terminal; answer prompts.

    ``replies`` pairs a text to wait for with what to type once it appears (with
    ``fresh``, it must appear after the previous reply was typed, as a prompt shown
    again does). Returns the exit code and everything the terminal showed.
    """
    full_env = {**env, "COLUMNS": str(COLUMNS), "LINES": str(LINES)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader with the terminal as its own
        try:
            os.chdir(cwd)
            os.execve(argv[0], argv, full_env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    output = b""
    pending = list(replies)
    seen = 0  # where the text awaited is looked for
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0] in output[seen:]:
                if pending[0][1] == b"\x03":
                    # readline sets the terminal up after it shows the prompt: a Ctrl-C
                    # in that instant can be lost, and no one types that fast.
                    time.sleep(0.1)
                os.write(fd, pending.pop(0)[1])
                seen = len(output) if fresh else 0
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output
