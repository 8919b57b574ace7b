"""Nothing from a prompt, a name or the gateway reaches the terminal as a control sequence.

A prompt holding ``ESC ] 0 ; title BEL ESC [ 2 J`` would retitle and clear the
terminal of whoever lists the history. Control characters are shown as visible
escapes (``\\x1b``) in every line meant for people; ordinary Unicode stays as it is;
JSON documents stay exact (JSON escapes them itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import Cli
from ptyrun import run_in_pty, vibeimg_argv
from tinygateway import TinyGateway

from vibeimg.ui import printable

EVIL = "a fox \x1b]0;pwned\x07\x1b[2J in snow"
SHOWN = "a fox \\x1b]0;pwned\\x07\\x1b[2J in snow"
RAW = ("\x1b]0;pwned", "\x07", "\x1b[2J")


def _clean(text: str) -> None:
    for sequence in RAW:
        assert sequence not in text


def test_printable_escapes_controls_and_keeps_unicode() -> None:
    """C0, DEL and C1 become escapes; Chinese and emoji stay; newlines only when asked."""
    assert printable(EVIL) == SHOWN
    assert printable("一只狐狸 🦊\x7f\x9b") == "一只狐狸 🦊\\x7f\\x9b"
    assert printable("two\nlines\r") == "two\\nlines\\r"
    assert printable("two\nlines\r", newlines=True) == "two\nlines\\r"


def test_history_list_and_show_escape_the_prompt(cli) -> None:
    """The listing and 'show' print the prompt escaped; --json keeps it exact."""
    made = cli("generate", "--quality", "low", "--", EVIL)
    assert made.exit_code == 0
    listed = cli("history")
    _clean(listed.stdout)
    assert SHOWN in listed.stdout
    shown = cli("history", "show", "1")
    _clean(shown.stdout)
    assert SHOWN in shown.stdout
    assert json.loads(cli("history", "show", "1", "--json").stdout)["prompt"] == EVIL


def test_chinese_prompts_stay_chinese_in_the_history(cli) -> None:
    """Escaping touches control characters only."""
    assert cli("generate", "一只在雪地里的狐狸", "--quality", "low").exit_code == 0
    assert "一只在雪地里的狐狸" in cli("history").stdout


def test_error_lines_escape_names_from_the_command_line(cli) -> None:
    """An unknown command or a missing file named with controls: escaped in the error."""
    unknown = cli("\x1b[2Jgenerate")
    assert unknown.exit_code == 2
    _clean(unknown.stderr)
    assert "\\x1b[2Jgenerate" in unknown.stderr
    missing = cli("edit", "a fox", "-i", "in\x1b]0;pwned\x07.png")
    assert missing.exit_code == 2
    _clean(missing.stderr)
    assert "in\\x1b]0;pwned\\x07.png does not exist" in missing.stderr


def test_a_gateway_message_with_controls_is_escaped() -> None:
    """The gateway's error message is shown escaped, with its request id."""
    body = {"error": {"message": "refused \x1b]0;pwned\x07\x1b[2J now", "type": "bad"}}
    with TinyGateway(status=400, body=body) as gateway:
        result = Cli(gateway, Path.cwd())("generate", "a fox")  # type: ignore[arg-type]
    assert result.exit_code == 4
    _clean(result.stderr)
    assert "refused \\x1b]0;pwned\\x07\\x1b[2J now" in result.stderr


def test_chat_stream_progress_escapes_the_revised_prompt(cli) -> None:
    """Plain progress lines (CI logs) show the model's revised prompt escaped."""
    result = cli("chat-stream", "--progress", "plain", "--quality", "low", "--", EVIL)
    assert result.exit_code == 0, result.stderr
    _clean(result.stderr)
    assert "\\x1b]0;pwned\\x07" in result.stderr


def test_jsonl_progress_stays_valid_json_with_c1_controls(cli) -> None:
    """A C1 control (U+009B, a one-character CSI) is a JSON \\u escape, never raw."""
    prompt = "a fox \x9b2J and \x7f here"
    result = cli("chat-stream", prompt, "--progress", "jsonl", "--quality", "low")
    assert result.exit_code == 0
    assert "\x9b" not in result.stderr and "\x7f" not in result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert any("\x9b2J" in json.dumps(r, ensure_ascii=False) for r in records)


def test_saved_paths_are_exact_on_a_pipe(cli, tmp_path: Path) -> None:
    """A script reading stdout gets the very name the file system has."""
    result = cli("generate", "a fox", "-o", "odd\x1b[2Jname.png", "--quality", "low")
    assert result.exit_code == 0
    assert result.stdout == "odd\x1b[2Jname.png\n"
    assert (tmp_path / "odd\x1b[2Jname.png").exists()


def test_nothing_reaches_a_real_terminal(tmp_path: Path) -> None:
    """In a terminal: generate, its saved path and the history show no raw sequence."""
    env = {**os.environ, "VIBEIMG_HOME": str(tmp_path / "home"), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    code, shown = run_in_pty(vibeimg_argv("generate", "--quality", "low", "--offline",
                                          "-o", "x\x1b]0;pwned\x07.png", "--", EVIL),
                             env=env, cwd=tmp_path)
    assert code == 0, shown
    code, listed = run_in_pty(vibeimg_argv("history"), env=env, cwd=tmp_path)
    assert code == 0
    for output in (shown, listed):
        assert b"\x1b]0;pwned" not in output and b"\x1b[2J" not in output
        assert b"\x07" not in output
    assert b"x\\x1b]0;pwned\\x07.png" in shown
    assert b"a fox \\x1b]0" in listed  # cut to the terminal's width


def test_doctor_escapes_what_the_gateway_says(tmp_path: Path) -> None:
    """A check that quotes the gateway's message shows its controls escaped."""
    body = {"error": {"message": "down \x1b]0;pwned\x07\x1b[2J now", "type": "server"}}
    with TinyGateway(status=500, body=body) as gateway:
        result = Cli(gateway, tmp_path)("doctor")  # type: ignore[arg-type]
    assert result.exit_code != 0
    _clean(result.stdout + result.stderr)
    assert "down \\x1b]0;pwned\\x07\\x1b[2J now" in result.stdout


def test_json_documents_carry_no_raw_c1_control(cli, tmp_path: Path) -> None:
    """--json and the sidecar write DEL and C1 as \\u escapes: valid, equal, inert."""
    prompt = "a fox \x9b2J \x7f"
    result = cli("generate", prompt, "--quality", "low", "--json")
    assert "\x9b" not in result.stdout and "\x7f" not in result.stdout
    assert "\\u009b2J" in result.stdout
    assert json.loads(result.stdout)["prompt"] == prompt
    sidecar = next(tmp_path.glob("*.json")).read_text(encoding="utf-8")
    assert "\x9b" not in sidecar and json.loads(sidecar)["prompt"] == prompt


def test_conversations_are_listed_and_shown_escaped(cli) -> None:
    """history sessions and history show NAME never print a turn's prompt raw."""
    made = cli("chat-stream", "--session", "coast", "--quality", "low", "--offline", "--",
               EVIL)
    assert made.exit_code == 0, made.stderr
    for args in (("history", "sessions"), ("history", "show", "coast")):
        shown = cli(*args)
        assert shown.exit_code == 0
        _clean(shown.stdout)
        assert "pwned" in shown.stdout
