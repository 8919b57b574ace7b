"""Conversations kept by vibeimg: one JSON Lines transcript per session in the data folder.

The gateway cannot hold a conversation (no ``previous_response_id``, SPEC.md section 5),
so vibeimg keeps it: ``DATA/sessions/NAME.jsonl`` holds a header line, then one line per
turn (prompt, options, what was sent, the images made with their SHA-256, request ids,
usage, cost). A turn that reached the gateway is written whatever its outcome, so turn
numbers (and the files named after them) are never reused; only the turns that saved an
image and were not undone are the conversation resent on the next turn.

The file is rewritten whole after each turn: written to a temporary file beside it,
flushed to disk, then renamed over it, under a lock, so a crash, a Ctrl-C or two
vibeimg processes at once never leave it half-written or drop a turn. A file edited
by hand into something else is never overwritten: every reader stops with
:class:`SessionError` (exit 2) naming the line and the fix.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vibeimg.records.transcript import SessionError, Transcript, Turn, damaged, now_text
from vibeimg.settings.folders import check_home
from vibeimg.settings.resolve import data_dir, make_private_folder

MAX_NAME = 64
SUFFIX = ".jsonl"


def sessions_dir() -> Path:
    """Where the transcripts live (in the private data folder)."""
    return data_dir() / "sessions"


def check_session_name(name: str) -> str:
    """A session name usable as a file name and in image names: letters (any script,
    with their marks), digits, ``-``, ``_`` and ``.``, starting with a letter or digit,
    not digits alone (those are the history's run ids), at most 64 characters."""
    text = unicodedata.normalize("NFC", name.strip())
    ok = (0 < len(text) <= MAX_NAME and text[0].isalnum() and not text.isdigit()
          and all(c.isalnum() or c in "-_." or unicodedata.category(c) in ("Mn", "Mc")
                  for c in text))  # marks: the vowel signs of Devanagari, Thai...
    if not ok:
        raise SessionError(
            f"{name!r} is not a usable session name",
            hint="use letters, digits, '-', '_' or '.', starting with a letter or digit, "
                 f"at most {MAX_NAME} characters, not digits alone (e.g. coast)")
    return text


# -- storage ------------------------------------------------------------------------------
def transcript_path(name: str) -> Path:
    return sessions_dir() / f"{check_session_name(name)}{SUFFIX}"


def exists(name: str) -> bool:
    """Whether anything is there under the session's name (a link or a FIFO too: then
    :func:`load` says what is wrong, rather than a new session taking its place)."""
    return os.path.lexists(transcript_path(name))


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _not_a_transcript(path: Path, mode: int) -> SessionError | None:
    """Why ``path`` (of this ``st_mode``) cannot be a transcript; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((words for test, words in _KINDS if test(mode)), "not a file")
    return SessionError(
        f"the session file {path} is {kind}, not a regular file",
        hint="move it aside: vibeimg keeps each session in a regular file of its own")


def _read_transcript(path: Path) -> bytes:
    """The transcript's bytes, refused unless it is a regular file: checked before it is
    opened (a link, a FIFO that would block for ever) and by its descriptor after."""
    refused = _not_a_transcript(path, os.lstat(path).st_mode)
    if refused is not None:
        raise refused
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        refused = _not_a_transcript(path, os.fstat(fd).st_mode)
        if refused is not None:
            raise refused
        os.set_blocking(fd, True)
        return file.read()


def load(name: str, *, create: bool = False) -> Transcript:
    """The session ``name``; a new, empty one with ``create`` (not written until a turn)."""
    path = transcript_path(name)
    try:
        data = _read_transcript(path)
    except FileNotFoundError:
        if create:
            return Transcript(name=check_session_name(name), created=now_text())
        raise unknown_session(name) from None
    except OSError as exc:
        raise SessionError(f"cannot read the session file {path}: {exc.strerror or exc}",
                           hint="check its permissions") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise damaged(path, "it is not UTF-8 text") from None
    return Transcript.parse(check_session_name(name), text, path)


def unknown_session(name: str) -> SessionError:
    known = [info.name for info in list_sessions()]
    from difflib import get_close_matches  # noqa: PLC0415 - only for this error

    close = get_close_matches(name, known, n=1)
    hint = (f"did you mean {close[0]!r}? " if close else "") + (
        "'vibeimg history sessions' lists them; --session NAME with a prompt starts one")
    return SessionError(f"there is no session {name!r}", hint=hint)


def save(transcript: Transcript) -> Path:
    """Write the whole transcript atomically: a temporary file, fsync, rename."""
    folder = make_private_folder(sessions_dir())
    path = transcript_path(transcript.name)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{transcript.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:  # mkstemp: mode 0600, as prompts are private
            out.write(transcript.to_text().encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself reaches the disk
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return path


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the session's lock: read, change and write it with no other vibeimg between."""
    folder = make_private_folder(sessions_dir())
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the rename alone protects it
    except ImportError:
        yield
        return
    handle = os.open(folder / f".{check_session_name(name)}.lock",
                     os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


def add_turn(name: str, turn: Turn) -> Transcript:
    """Record ``turn`` in the session (created by its first turn), re-read under the lock
    so that a turn another vibeimg added meanwhile is kept."""
    with locked(name):
        transcript = load(name, create=True)
        transcript.add(turn)
        save(transcript)
    return transcript


def undo_turn(name: str) -> tuple[Transcript, Turn]:
    """Drop the session's last turn from the conversation; its images stay on disk."""
    with locked(name):
        transcript = load(name)
        turn = transcript.undo()
        save(transcript)
    return transcript, turn


@dataclass(frozen=True)
class SessionInfo:
    """A session as the list shows it."""

    name: str
    path: Path
    modified: float  # the file's modification time: its last turn or undo


def list_sessions() -> list[SessionInfo]:
    """Every session, most recently changed first (none yet: an empty list, unless
    ``VIBEIMG_HOME`` cannot be a folder: a UsageError naming it)."""
    try:
        entries = list(os.scandir(sessions_dir()))
    except (FileNotFoundError, NotADirectoryError):
        check_home(create=True)
        return []
    except OSError:
        return []
    found = []
    for entry in entries:
        stem = entry.name[: -len(SUFFIX)]
        if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
            continue
        try:
            check_session_name(stem)
        except SessionError:
            continue  # not a transcript vibeimg wrote
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):  # a link or a FIFO is no transcript
                found.append(SessionInfo(stem, Path(entry.path), entry.stat().st_mtime))
    return sorted(found, key=lambda info: (info.modified, info.name), reverse=True)


def fresh_name(stem: str) -> str:
    """A name no session has yet, from ``stem`` (a prompt's slug): ``stem``, ``stem-2``..."""
    base = stem[:MAX_NAME - 10].strip("-_.")
    if not _usable(base):  # empty, digits alone (a run id), odd characters
        base = f"chat-{base}" if base and _usable(f"chat-{base}") else "chat"
    name, number = base, 1
    while exists(name):
        number += 1
        name = f"{base}-{number}"
    return name


def _usable(name: str) -> bool:
    try:
        check_session_name(name)
    except SessionError:
        return False
    return True


def latest_name() -> str:
    """The session changed most recently (``--continue``)."""
    sessions = list_sessions()
    if not sessions:
        raise SessionError("there is no session to continue yet",
                           hint="start one with --session NAME")
    return sessions[0].name
