"""``chat-stream --session``: a conversation kept by vibeimg, checked by what the emulator got."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vibeimg.errors import ExitCode
from vibeimg.records.sessions import sessions_dir

FAST = ("--size", "1024x1024", "--quality", "low")


def turn(cli, prompt: str, *args: str, session: str = "coast"):
    result = cli("chat-stream", prompt, "--session", session, *FAST, *args)
    assert result.exit_code == 0, result.stderr
    return result


def last_body(emulator) -> dict[str, Any]:
    return emulator.api_requests()[-1].json()


def image_bytes(item: dict[str, Any]) -> bytes:
    assert item["type"] == "input_image"
    head, data = item["image_url"].split(",", 1)
    assert head == "data:image/png;base64"
    return base64.b64decode(data)


def texts(body: dict[str, Any]) -> list[str]:
    return [m["content"][0]["text"] for m in body["input"]]


def test_turn_two_carries_turn_one_words_and_image(cli, emulator, tmp_path: Path) -> None:
    """Turn 2 resends turn 1's words as a message and its image, byte for byte, with its own."""
    first = turn(cli, "a lighthouse at dawn")
    assert first.stdout == "coast-1-1.png\n"
    second = turn(cli, "now make it night")
    assert second.stdout == "coast-2-1.png\n"
    body = last_body(emulator)
    assert body["stream"] is True and body["instructions"]
    assert "previous_response_id" not in body
    assert [m["role"] for m in body["input"]] == ["user", "user"]
    assert body["input"][0]["content"] == [{"type": "input_text",
                                            "text": "a lighthouse at dawn"}]
    now = body["input"][1]["content"]
    assert now[0] == {"type": "input_text", "text": "now make it night"}
    assert len(now) == 2 and image_bytes(now[1]) == (tmp_path / "coast-1-1.png").read_bytes()
    assert "sending the words of 1 earlier turn and 1 earlier image (coast-1-1.png)" \
        in second.stderr
    assert "earlier images cost input tokens" in second.stderr
    assert "at most 16 images of 50 MB each" in second.stderr


def test_the_first_turn_sends_one_message(cli, emulator) -> None:
    """A new session's first turn is an ordinary request: one user message."""
    result = turn(cli, "a lighthouse at dawn")
    assert "session coast, turn 1: a new conversation" in result.stderr
    assert last_body(emulator)["input"] == [{"role": "user", "content": [
        {"type": "input_text", "text": "a lighthouse at dawn"}]}]


def test_context_all_carries_every_image(cli, emulator, tmp_path: Path) -> None:
    """--context all: each turn's image goes in the message after its turn's, all of them."""
    turn(cli, "a lighthouse at dawn")
    turn(cli, "now make it night")
    turn(cli, "add a storm", "--context", "all")
    body = last_body(emulator)
    assert texts(body) == ["a lighthouse at dawn", "now make it night", "add a storm"]
    first, second, third = (m["content"] for m in body["input"])
    assert len(first) == 1
    assert [image_bytes(i) for i in second[1:]] == [(tmp_path / "coast-1-1.png").read_bytes()]
    assert [image_bytes(i) for i in third[1:]] == [(tmp_path / "coast-2-1.png").read_bytes()]


def test_context_numbers_choose_the_most_recent_images(cli, emulator, tmp_path: Path) -> None:
    """--context 0 sends the words alone; --context 1 the latest image only."""
    turn(cli, "a lighthouse at dawn")
    turn(cli, "now make it night")
    turn(cli, "words only", "--context", "0")
    assert all(len(m["content"]) == 1 for m in last_body(emulator)["input"])
    turn(cli, "only the last", "--context", "1")
    body = last_body(emulator)
    images = [image_bytes(i) for m in body["input"] for i in m["content"][1:]]
    assert images == [(tmp_path / "coast-3-1.png").read_bytes()]  # made by "words only"


def test_undo_removes_the_turn_from_what_is_sent_next(cli, emulator, tmp_path: Path) -> None:
    """--undo drops the last turn: the next turn resends turn 1 only; the files stay."""
    turn(cli, "a lighthouse at dawn")
    turn(cli, "now make it night")
    undone = cli("chat-stream", "--session", "coast", "--undo")
    assert undone.exit_code == 0, undone.stderr
    assert undone.stdout == ""
    assert "turn 2 undone" in undone.stderr and "coast-2-1.png" in undone.stderr
    assert (tmp_path / "coast-2-1.png").exists()
    third = turn(cli, "make it sunny")
    assert third.stdout == "coast-3-1.png\n"  # numbers are never reused
    body = last_body(emulator)
    assert texts(body) == ["a lighthouse at dawn", "make it sunny"]
    images = [image_bytes(i) for m in body["input"] for i in m["content"][1:]]
    assert images == [(tmp_path / "coast-1-1.png").read_bytes()]


def test_undo_with_nothing_left_is_a_usage_error(cli) -> None:
    """Undoing past the first turn: one line, exit 2."""
    turn(cli, "a lighthouse at dawn")
    assert cli("chat-stream", "--session", "coast", "--undo").exit_code == 0
    again = cli("chat-stream", "--session", "coast", "--undo")
    assert again.exit_code == 2
    assert again.stderr.strip() == ("error: the session coast has no turn to undo "
                                    "('vibeimg history show coast' lists its turns)")


def test_sidecar_and_json_record_session_and_turn(cli, tmp_path: Path) -> None:
    """The sidecar and the --json document say which session and turn an image belongs to."""
    turn(cli, "a lighthouse at dawn")
    result = turn(cli, "now make it night", "--json")
    document = json.loads(result.stdout)
    assert document["session"] == "coast" and document["turn"] == 2
    assert document["context"] == "last" and document["earlier_turns"] == 1
    assert document["images_resent"] == [str((tmp_path / "coast-1-1.png").resolve())]
    assert document["images"][0]["path"] == "coast-2-1.png"
    sidecar = json.loads((tmp_path / "coast-2-1.json").read_text())
    assert sidecar["session"] == "coast" and sidecar["turn"] == 2
    assert sidecar["input_images"] == [str((tmp_path / "coast-1-1.png").resolve())]


def test_options_come_from_the_last_turn_unless_given(cli, emulator) -> None:
    """A turn keeps the last turn's size and quality; a flag given again wins."""
    cli("chat-stream", "a lighthouse", "--session", "coast", "--size", "1536x1024",
        "--quality", "low")
    assert cli("chat-stream", "at night", "--session", "coast").exit_code == 0
    tool = last_body(emulator)["tools"][0]
    assert (tool["size"], tool["quality"]) == ("1536x1024", "low")
    assert cli("chat-stream", "in fog", "--session", "coast", "--quality", "medium").exit_code == 0
    tool = last_body(emulator)["tools"][0]
    assert (tool["size"], tool["quality"]) == ("1536x1024", "medium")


def test_continue_takes_the_most_recent_session(cli, emulator) -> None:
    """--continue continues the session changed last."""
    turn(cli, "a lighthouse", session="coast")
    turn(cli, "a red barn", session="farm")
    result = cli("chat-stream", "in snow", "--continue")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "farm-2-1.png\n"
    assert texts(last_body(emulator)) == ["a red barn", "in snow"]


def test_dry_run_prints_the_next_turn_and_sends_nothing(cli, emulator, tmp_path: Path) -> None:
    """--dry-run --session shows the whole conversation to be sent, images abbreviated."""
    turn(cli, "a lighthouse at dawn")
    transcript = (sessions_dir() / "coast.jsonl").read_bytes()
    result = cli("chat-stream", "now make it night", "--session", "coast", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert len(emulator.api_requests()) == 1
    document = json.loads(result.stdout)
    assert document["dry_run"] is True and document["session"] == "coast"
    assert document["turn"] == 2 and document["approximate_input_bytes"] > 1000
    messages = document["request"]["body"]["input"]
    assert [m["content"][0]["text"] for m in messages] == ["a lighthouse at dawn",
                                                           "now make it night"]
    assert messages[1]["content"][1]["image_url"].endswith(
        f"bytes from {(tmp_path / 'coast-1-1.png').resolve()})")
    assert (sessions_dir() / "coast.jsonl").read_bytes() == transcript
    assert not (tmp_path / "coast-2-1.png").exists()


def test_a_turn_cut_mid_stream_leaves_the_conversation_as_it_was(make_cli, tmp_path: Path
                                                                  ) -> None:
    """A truncated turn is recorded as failed and is not resent; the next builds on turn 1."""
    cli = make_cli()
    turn(cli, "a lighthouse at dawn")
    cli.emulator.add_fault("stream-cut")
    cut = cli("chat-stream", "now make it night", "--session", "coast")
    assert cut.exit_code == 6
    assert not list(tmp_path.glob(".vibeimg-*"))
    turn(cli, "make it sunny")
    body = cli.emulator.api_requests()[-1].json()
    assert texts(body) == ["a lighthouse at dawn", "make it sunny"]
    lines = (sessions_dir() / "coast.jsonl").read_text().splitlines()
    assert [json.loads(line).get("status") for line in lines[1:]] == \
        ["completed", "failed", "completed"]


def test_history_lists_sessions_and_shows_their_turns(cli, tmp_path: Path) -> None:
    """history sessions lists conversations; history show NAME gives each turn in full."""
    turn(cli, "a lighthouse at dawn")
    turn(cli, "now make it night")
    listed = cli("history", "sessions")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.startswith("coast ") and "2 turns" in listed.stdout
    assert "now make it night" in listed.stdout
    shown = cli("history", "show", "coast")
    assert shown.exit_code == 0, shown.stderr
    assert "turn 1" in shown.stdout and "turn 2" in shown.stdout
    assert str((tmp_path / "coast-2-1.png").resolve()) in shown.stdout
    assert "the words of 1 earlier turn and 1 image (coast-1-1.png)" in shown.stdout
    document = json.loads(cli("history", "show", "coast", "--json").stdout)
    assert [t["turn"] for t in document["turns"]] == [1, 2]
    runs = cli("history").stdout
    assert "[coast 2] now make it night" in runs and "[coast 1] a lighthouse" in runs
    sessions = json.loads(cli("history", "sessions", "--json").stdout)["sessions"]
    assert [(s["name"], s["turns"], s["images"]) for s in sessions] == [("coast", 2, 2)]


# -- bad input: one line, exit 2, nothing sent, the session untouched --------------------
def test_an_unknown_session_is_a_usage_error(cli, emulator) -> None:
    """Undoing or showing a session that does not exist: one line naming it, exit 2."""
    turn(cli, "a lighthouse at dawn")
    for args in (("chat-stream", "--session", "coats", "--undo"),
                 ("history", "show", "coats")):
        result = cli(*args)
        assert result.exit_code == 2
        assert result.stderr.startswith("error: there is no session 'coats' (did you mean "
                                        "'coast'?")
        assert len(result.stderr.splitlines()) == 1


def test_continue_without_any_session_is_a_usage_error(cli, emulator) -> None:
    """--continue before any conversation exists: exit 2, nothing sent."""
    result = cli("chat-stream", "a fox", "--continue")
    assert result.exit_code == 2 and "no session to continue" in result.stderr
    assert emulator.api_requests() == []


def test_bad_session_names_and_flags_are_refused(cli, emulator) -> None:
    """A name that could leave the folder, --context without a session or of a bad value."""
    for args in (("--session", "../escape"), ("--session", "12"),
                 ("--context", "all"), ("--session", "coast", "--context", "many")):
        result = cli("chat-stream", "a fox", *args)
        assert result.exit_code == 2, args
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert emulator.api_requests() == []


def test_a_session_file_edited_into_invalid_json(cli, emulator) -> None:
    """A transcript broken by hand: one line naming the file and line, exit 2, file kept."""
    turn(cli, "a lighthouse at dawn")
    path = sessions_dir() / "coast.jsonl"
    broken = path.read_text() + '{"type": "turn", "turn": 2, oops\n'
    path.write_text(broken)
    for args in (("chat-stream", "now make it night", "--session", "coast"),
                 ("chat-stream", "--session", "coast", "--undo"),
                 ("history", "show", "coast")):
        result = cli(*args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith(f"error: the session file {path} cannot be read: "
                                        "line 3 is not a turn vibeimg wrote")
        assert len(result.stderr.splitlines()) == 1
    assert path.read_text() == broken
    assert len(emulator.api_requests()) == 1
    listed = cli("history", "sessions")
    assert listed.exit_code == 0 and "cannot be read" in listed.stderr


def test_an_image_of_the_session_deleted_from_disk(cli, emulator, tmp_path: Path) -> None:
    """The image to resend is gone: one line with the ways out, exit 2; --context 0 works."""
    turn(cli, "a lighthouse at dawn")
    (tmp_path / "coast-1-1.png").unlink()
    result = cli("chat-stream", "now make it night", "--session", "coast")
    assert result.exit_code == 2
    assert "image of turn 1 of session coast" in result.stderr
    assert "is no longer on disk" in result.stderr and "--context 0" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert len(emulator.api_requests()) == 1
    assert turn(cli, "now make it night", "--context", "0").stdout == "coast-2-1.png\n"


def test_too_many_images_are_refused_before_sending(cli, emulator) -> None:
    """More than 16 images in the context: refused with the limit and the fix, exit 2."""
    many = "Generate 9 different images of a fox"
    turn(cli, many)
    turn(cli, many, "--context", "0")
    result = cli("chat-stream", "in snow", "--session", "coast", "--context", "all")
    assert result.exit_code == 2
    assert "would send 18 images" in result.stderr and "--context N" in result.stderr
    assert len(emulator.api_requests()) == 2


def test_undo_takes_no_prompt_and_no_dry_run(cli) -> None:
    """--undo with a prompt or --dry-run is refused: the session is left as it was."""
    turn(cli, "a lighthouse at dawn")
    before = (sessions_dir() / "coast.jsonl").read_bytes()
    for args in (("more fog",), ("--dry-run",)):
        result = cli("chat-stream", *args, "--session", "coast", "--undo")
        assert result.exit_code == 2 and "--undo takes no prompt" in result.stderr
    assert (sessions_dir() / "coast.jsonl").read_bytes() == before


def test_session_names_complete(cli) -> None:
    """--session and history show complete the names of the conversations kept."""
    turn(cli, "a lighthouse", session="coast")
    turn(cli, "a barn", session="farm")
    for line in ("vibeimg chat-stream --session c", "vibeimg chat --session c",
                 "vibeimg history show c"):
        words = line.split(" ")
        result = cli(env={"_VIBEIMG_COMPLETE": "complete_bash", "COMP_WORDS": line,
                          "COMP_CWORD": str(len(words) - 1)})
        assert result.stdout.split() == ["coast"], line


def _offline(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """vibeimg in its own process (a hang fails the test by its timeout, not forever)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run([sys.executable, "-m", "vibeimg", *args, "--offline"], cwd=cwd,
                          env=env, input=stdin, capture_output=True, text=True, timeout=30,
                          check=False)


@pytest.mark.parametrize("command", ["chat-stream", "chat"])
def test_a_fifo_in_place_of_a_transcript_is_refused(tmp_path: Path, command: str) -> None:
    """sessions/NAME.jsonl a FIFO: exit 2 at once naming it, no image, no hang."""
    folder = sessions_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "coast.jsonl")
    args = ("chat-stream", "a fox") if command == "chat-stream" else ("chat",)
    result = _offline(*args, "--session", "coast", cwd=tmp_path, stdin="a fox\n")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr == (
        f"error: the session file {folder / 'coast.jsonl'} is a FIFO (named pipe), not a "
        "regular file (move it aside: vibeimg keeps each session in a regular file of its "
        "own)\n")
    assert list(tmp_path.iterdir()) == []


def test_a_link_in_place_of_a_transcript_is_refused(cli, emulator, tmp_path: Path) -> None:
    """sessions/NAME.jsonl a symbolic link: exit 2 naming it; the target is not touched."""
    turn(cli, "a lighthouse at dawn", session="real")
    real = sessions_dir() / "real.jsonl"
    before = real.read_bytes()
    (sessions_dir() / "coast.jsonl").symlink_to(real)
    sent = len(emulator.api_requests())
    result = cli("chat-stream", "now at night", "--session", "coast", *FAST)
    assert result.exit_code == ExitCode.USAGE
    assert "coast.jsonl is a symbolic link, not a regular file" in result.stderr
    assert len(emulator.api_requests()) == sent
    assert real.read_bytes() == before


def test_a_cut_turn_keeps_what_it_may_have_cost(make_cli) -> None:
    """A turn whose stream is cut (one request received, its image maybe billed) records
    that in the transcript; the session's cost (history show, /cost) says it apart from
    the images received, once the turn is the real gateway's."""
    cli = make_cli(faults=["stream-cut"])
    cut = cli("chat-stream", "a lighthouse", "--session", "coast", *FAST)
    assert cut.exit_code == ExitCode.NETWORK, cut.stderr
    assert len(cli.emulator.api_requests()) == 1
    path = sessions_dir() / "coast.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[-1]["possible_cost_usd"] == 0.006
    # The same turn as the gateway would have made it: not offline, so it counts.
    lines[-1]["offline"] = False
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    shown = cli("history", "show", "coast")
    assert shown.exit_code == 0, shown.stderr
    assert "$0.000 (image output only), and up to $0.006 possibly billed" in shown.stdout
    listed = json.loads(cli("history", "sessions", "--json").stdout)
    assert listed["sessions"][0]["possible_cost_usd"] == 0.006
