"""Session transcripts in the data folder: names, atomic writes, damaged files, turns."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vibeimg.records import sessions
from vibeimg.records.transcript import SessionError, Transcript, Turn, TurnImage


def a_turn(number: int, prompt: str = "a fox", status: str = "completed") -> Turn:
    image = TurnImage(path=f"/pictures/fox-{number}-1.png", sha256="0" * 64, bytes=10,
                      format="png")
    return Turn(number=number, prompt=prompt, status=status, images=[image])


@pytest.mark.parametrize("name", ["coast", "Coast_2", "海岸", "हिन्दी", "a.b-c", "x" * 64])
def test_usable_names(name: str) -> None:
    """Letters of any script, digits, '-', '_' and '.' make a session name."""
    assert sessions.check_session_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "-flag", "12", "a b",
                                  "x" * 65, "tab\there", "{n}"])
def test_unusable_names(name: str) -> None:
    """Names that could leave the folder, hide, read as a flag or a run id are refused."""
    with pytest.raises(SessionError):
        sessions.check_session_name(name)


def test_a_transcript_round_trips() -> None:
    """What is saved is read back the same: header, turns, undone marks."""
    transcript = Transcript(name="coast", created="2026-01-01T00:00:00+00:00")
    transcript.add(a_turn(1))
    transcript.add(a_turn(2, "at night"))
    transcript.undo()
    sessions.save(transcript)
    again = sessions.load("coast")
    assert again == transcript
    assert [t.number for t in again.live_turns] == [1]
    assert again.next_number == 3  # an undone turn's number is not reused


def test_the_transcript_is_private_and_one_file() -> None:
    """The file is 0600 in a 0700 folder, with no temporary file left beside it."""
    sessions.add_turn("coast", a_turn(1))
    path = sessions.transcript_path("coast")
    assert path.stat().st_mode & 0o777 == 0o600
    assert sessions.sessions_dir().stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in sessions.sessions_dir().iterdir()) == [
        ".coast.lock", "coast.jsonl"]


def test_a_crash_while_saving_leaves_the_old_transcript(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """A failure (or a kill) before the rename leaves the previous file whole."""
    sessions.add_turn("coast", a_turn(1))
    before = sessions.transcript_path("coast").read_bytes()

    def crash(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(os, "replace", crash)
        sessions.add_turn("coast", a_turn(2))
    assert sessions.transcript_path("coast").read_bytes() == before
    assert not [p for p in sessions.sessions_dir().iterdir() if p.suffix == ".part"]


def test_turns_added_at_once_are_all_kept() -> None:
    """Two writers at once: the lock keeps every turn, each with its own number."""
    threads = [threading.Thread(target=sessions.add_turn, args=("coast", a_turn(1, f"p{i}")))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    transcript = sessions.load("coast")
    assert sorted(t.prompt for t in transcript.turns) == [f"p{i}" for i in range(8)]
    assert sorted(t.number for t in transcript.turns) == list(range(1, 9))


@pytest.mark.parametrize(("content", "why"), [
    ("not json\n", "line 1 is not a turn vibeimg wrote"),
    ('{"type": "turn", "prompt": "x"}\n', "line 1 is not a turn vibeimg wrote (a turn "
     "without a number)"),
    ('[1, 2]\n', "not a JSON object"),
    ('{"type": "turn", "turn": 1, "prompt": "x", "images": [{"bytes": 1}]}\n',
     "an image without a path"),
    ('{"type": "something"}\n', "neither a session header nor a turn"),
])
def test_a_damaged_transcript_is_named_with_its_line(content: str, why: str) -> None:
    """Anything vibeimg did not write is an error naming the file and line, never a guess."""
    folder = sessions.sessions_dir()
    folder.mkdir(parents=True)
    (folder / "coast.jsonl").write_text(content)
    with pytest.raises(SessionError) as caught:
        sessions.load("coast")
    assert why in caught.value.message and str(folder / "coast.jsonl") in caught.value.message
    assert caught.value.exit_code == 2


def test_a_transcript_that_is_not_utf8_is_damaged() -> None:
    """Bytes that are not UTF-8: a damaged file, not a crash."""
    folder = sessions.sessions_dir()
    folder.mkdir(parents=True)
    (folder / "coast.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SessionError, match="not UTF-8"):
        sessions.load("coast")


def test_sessions_are_listed_newest_first() -> None:
    """list_sessions and latest_name go by the last change; other files are ignored."""
    sessions.add_turn("older", a_turn(1))
    sessions.add_turn("newer", a_turn(1))
    os.utime(sessions.transcript_path("older"), (1, 1))
    (sessions.sessions_dir() / "notes.txt").write_text("x")
    assert [s.name for s in sessions.list_sessions()] == ["newer", "older"]
    assert sessions.latest_name() == "newer"


def test_fresh_names_never_take_an_existing_session() -> None:
    """A new conversation named after its prompt gets -2, -3... when the name is taken."""
    assert sessions.fresh_name("a-fox") == "a-fox"
    sessions.add_turn("a-fox", a_turn(1))
    assert sessions.fresh_name("a-fox") == "a-fox-2"
    assert sessions.fresh_name("") == "chat" and sessions.fresh_name("42") == "chat-42"


def test_undo_skips_turns_outside_the_conversation(tmp_path: Path) -> None:
    """Failed and cancelled turns are not the conversation: undo drops the last live one."""
    transcript = Transcript(name="coast")
    transcript.add(a_turn(1))
    transcript.add(a_turn(2, status="interrupted"))
    transcript.add(Turn(number=3, prompt="x", status="failed"))
    assert transcript.undo().number == 1
    with pytest.raises(SessionError, match="no turn to undo"):
        transcript.undo()
