"""``vibeimg chat``: through a pipe (one turn a line) and on a pseudo-terminal."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from conftest import TEST_KEY
from pictures import photo, save
from ptyrun import run_in_pty, vibeimg_argv

from vibeimg import preview
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.records import sessions

FAST = ("--size", "1024x1024", "--quality", "low")


def bodies(emulator) -> list[dict[str, Any]]:
    return [r.json() for r in emulator.api_requests()]


def texts(body: dict[str, Any]) -> list[str]:
    return [m["content"][0]["text"] for m in body["input"]]


def images_sent(body: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(item["image_url"].split(",", 1)[1])
            for message in body["input"] for item in message["content"][1:]]


# -- through a pipe -----------------------------------------------------------------------
def test_each_line_is_a_turn_and_the_paths_are_printed(cli, emulator, tmp_path: Path) -> None:
    """Piped: each line runs as a turn of one conversation; stdout has the paths alone."""
    result = cli("chat", "--session", "coast", *FAST,
                 input="a lighthouse at dawn\nnow make it night\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "coast-1-1.png\ncoast-2-1.png\n"
    first, second = bodies(emulator)
    assert texts(first) == ["a lighthouse at dawn"]
    assert texts(second) == ["a lighthouse at dawn", "now make it night"]
    assert images_sent(second) == [(tmp_path / "coast-1-1.png").read_bytes()]
    assert "earlier images cost input tokens" in result.stderr


def test_a_new_conversation_is_named_after_its_first_prompt(cli, emulator) -> None:
    """Without --session the conversation takes its first prompt's words; /new starts another."""
    result = cli("chat", *FAST, input="a red barn\n/new\na blue heron\nin the rain\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["a-red-barn-1-1.png", "a-blue-heron-1-1.png",
                                     "a-blue-heron-2-1.png"]
    assert [texts(b) for b in bodies(emulator)] == [
        ["a red barn"], ["a blue heron"], ["a blue heron", "in the rain"]]
    assert sessions.load("a-red-barn").live_turns[0].prompt == "a red barn"


def test_slash_commands_through_a_pipe(cli, emulator, tmp_path: Path) -> None:
    """/size, /quality, /format change the next turns; /images, /cost, /save answer on stdout."""
    script = ("a lighthouse\n/size 1536x1024\n/quality medium\n/format jpeg\n"
              "at night\n/images\n/cost\n/save best\n")
    result = cli("chat", "--session", "coast", *FAST, input=script)
    assert result.exit_code == 0, result.stderr
    tool = bodies(emulator)[-1]["tools"][0]
    assert (tool["size"], tool["quality"], tool["output_format"]) == (
        "1536x1024", "medium", "jpeg")
    lines = result.stdout.splitlines()
    first, second = (tmp_path / "coast-1-1.png").resolve(), (tmp_path / "coast-2-1.jpg").resolve()
    assert lines == ["coast-1-1.png", "coast-2-1.jpg", f"turn 1: {first}", f"turn 2: {second}",
                     lines[4], "best.jpg"]
    # The test emulator says it is one (x-vibeimg-emulator): its turns cost nothing.
    assert lines[4].startswith("session coast: 2 turns, 2 images; none (offline emulator); "
                               "text model ")
    assert (tmp_path / "best.jpg").read_bytes() == second.read_bytes()
    assert "size: 1536x1024" in result.stderr and "quality: medium" in result.stderr


def test_use_refines_another_image_for_one_turn(cli, emulator, tmp_path: Path) -> None:
    """/use PATH: the next turn sends that image instead of the last one, then back to usual."""
    save(tmp_path / "otter.png", photo((64, 48)))
    result = cli("chat", "--session", "coast", *FAST,
                 input="a lighthouse\n/use otter.png\nadd a scarf\nmake it blue\n")
    assert result.exit_code == 0, result.stderr
    _, used, after = bodies(emulator)
    assert images_sent(used) == [(tmp_path / "otter.png").read_bytes()]
    assert images_sent(after) == [(tmp_path / "coast-2-1.png").read_bytes()]
    assert sessions.load("coast").turns[1].inputs[0]["path"] == str(tmp_path / "otter.png")


def test_undo_in_the_chat(cli, emulator, tmp_path: Path) -> None:
    """/undo drops the last turn from what the next one sends; its file stays."""
    result = cli("chat", "--session", "coast", *FAST,
                 input="a lighthouse\nat night\n/undo\nin fog\n")
    assert result.exit_code == 0, result.stderr
    assert texts(bodies(emulator)[-1]) == ["a lighthouse", "in fog"]
    assert (tmp_path / "coast-2-1.png").exists()
    assert result.stdout.split() == ["coast-1-1.png", "coast-2-1.png", "coast-3-1.png"]


def test_the_shell_and_the_chat_continue_each_others_sessions(cli, emulator) -> None:
    """A session started by chat-stream goes on in chat, and the other way round."""
    assert cli("chat-stream", "a lighthouse", "--session", "coast", *FAST).exit_code == 0
    assert cli("chat", "--session", "coast", input="at night\n").exit_code == 0
    assert texts(bodies(emulator)[-1]) == ["a lighthouse", "at night"]
    assert bodies(emulator)[-1]["tools"][0]["quality"] == "low"  # kept from turn 1
    assert cli("chat-stream", "in fog", "--continue").stdout == "coast-3-1.png\n"
    assert texts(bodies(emulator)[-1]) == ["a lighthouse", "at night", "in fog"]


def test_a_bad_line_stops_a_piped_chat(cli, emulator) -> None:
    """Piped, the first bad line ends the run with its error and exit code; no more turns."""
    result = cli("chat", "--session", "coast", *FAST,
                 input="a lighthouse\n/use missing.png\nat night\n")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "error: the input image missing.png does not exist (check the path)")
    assert len(emulator.api_requests()) == 1
    unknown = cli("chat", input="/bogus\n")
    assert unknown.exit_code == 2 and "unknown command /bogus" in unknown.stderr


def test_a_failed_turn_stops_a_piped_chat_with_its_code(make_cli) -> None:
    """A refused turn (the gateway's 400) ends the run with exit 4; later lines are not sent."""
    cli = make_cli()
    cli.emulator.add_fault("400")
    result = cli("chat", "--session", "coast", *FAST, input="a lighthouse\nat night\n")
    assert result.exit_code == 4
    assert len(cli.emulator.api_requests()) == 1
    assert not sessions.exists("coast")  # a turn refused before any stream is no turn
    [run] = json.loads(cli("history", "--json").stdout)["runs"]
    assert run["outcome"] == "failed" and run["parameters"]["session"] == "coast"


def test_chat_with_a_damaged_session_is_a_usage_error(cli, emulator) -> None:
    """--session with a transcript broken by hand: one line, exit 2, nothing sent."""
    folder = sessions.sessions_dir()
    folder.mkdir(parents=True)
    (folder / "coast.jsonl").write_text("{oops\n")
    result = cli("chat", "--session", "coast", input="at night\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the session file ")
    assert len(result.stderr.splitlines()) == 1
    assert emulator.api_requests() == []


def test_each_turn_is_in_the_history(cli) -> None:
    """Every turn is a chat-stream run in the history, with its session and turn."""
    assert cli("chat", "--session", "coast", *FAST, input="a fox\nin snow\n").exit_code == 0
    runs = json.loads(cli("history", "--json").stdout)["runs"]
    assert [(r["parameters"]["session"], r["parameters"]["turn"]) for r in runs] == [
        ("coast", 2), ("coast", 1)]


# -- on a terminal ------------------------------------------------------------------------
def _terminal_env(emulator: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TERM_PROGRAM", "KITTY_WINDOW_ID", "LC_TERMINAL", "NO_COLOR")}
    return {**env, "TERM": "xterm-256color", "VIBEIMG_BASE_URL": emulator.base_url,
            "VIBEIMG_API_KEY": TEST_KEY}


def test_slash_commands_and_ctrl_d_on_a_terminal(emulator: Emulator, tmp_path: Path) -> None:
    """On a terminal: a turn with its thumbnail, /images, /quality, /help, then Ctrl-D."""
    code, shown = run_in_pty(
        vibeimg_argv("chat", "--session", "tty", *FAST),
        env=_terminal_env(emulator), cwd=tmp_path, fresh=True, replies=(
            (b"tty> ", b"a green fox\r"),
            (b"tty> ", b"/images\r"),
            (b"tty> ", b"/quality high\r"),
            (b"tty> ", b"/help\r"),
            (b"tty> ", b"\x04"),
        ))
    text = shown.decode(errors="replace")
    assert code == 0, text
    assert (tmp_path / "tty-1-1.png").exists()
    assert text.count(preview.UPPER_HALF) > 100  # the thumbnail
    assert f"turn 1: {(tmp_path / 'tty-1-1.png').resolve()}" in text
    assert "quality: high" in text and "/save NAME" in text
    assert "Traceback" not in text


def test_ctrl_c_cancels_the_turn_in_progress(tmp_path: Path) -> None:
    """Ctrl-C mid-turn: nothing half-written, the conversation as it was, the chat goes on."""
    with Emulator(EmulatorConfig(latency=30, keepalive_interval=0.2)) as slow:
        code, shown = run_in_pty(
            vibeimg_argv("chat", "--session", "tty", *FAST, "--no-preview"),
            env=_terminal_env(slow), cwd=tmp_path, fresh=True, timeout=30, replies=(
                (b"tty> ", b"a green fox\r"),
                (b"generating", b"\x03"),
                (b"tty> ", b"/images\r"),
                (b"tty> ", b"\x03"),  # Ctrl-C while typing: a fresh prompt
                (b"tty> ", b"\x04"),
            ))
    text = shown.decode(errors="replace")
    assert code == 0, text
    assert "turn 1 cancelled (the conversation is as it was)" in text
    assert "(no image yet)" in text
    assert list(tmp_path.iterdir()) == []  # no image, no .part file
    transcript = sessions.load("tty")
    assert [t.status for t in transcript.turns] == ["interrupted"]
    assert transcript.live_turns == []


def test_a_double_slash_sends_a_prompt_that_starts_with_a_slash(cli, emulator) -> None:
    """'//r/pics style' is the prompt '/r/pics style', not a command."""
    result = cli("chat", "--session", "coast", *FAST, input="//r/pics style fox\n")
    assert result.exit_code == 0, result.stderr
    assert texts(bodies(emulator)[-1]) == ["/r/pics style fox"]


def test_a_chinese_conversation_is_named_in_its_own_letters(cli, emulator) -> None:
    """A new conversation takes its first prompt's own letters; --ascii-names, pinyin."""
    result = cli("chat", *FAST, input="一只水彩风格的水獭\n戴上红围巾\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["一只水彩风格的水獭-1-1.png", "一只水彩风格的水獭-2-1.png"]
    ascii_run = cli("chat", *FAST, "--ascii-names", input="一只水獭\n")
    assert ascii_run.stdout.split() == ["yi-zhi-shui-ta-1-1.png"]


def test_cost_after_undo_says_the_undone_turn_is_counted(cli, emulator) -> None:
    """/undo then /cost: 0 turns, and the line says the undone turn's tokens are still in
    the spend (it was sent), instead of counting them under '0 turns' without a word."""
    result = cli("chat", "--session", "coast", *FAST, input="a lighthouse\n/undo\n/cost\n")
    assert result.exit_code == 0, result.stderr
    cost = result.stdout.splitlines()[-1]
    assert cost.startswith("session coast: 0 turns (1 more undone, failed or cancelled: "
                           "counted in the spend), 0 images; none (offline emulator); "
                           "text model ")
    assert not cost.endswith("text model 0 tokens, image tokens 0")
