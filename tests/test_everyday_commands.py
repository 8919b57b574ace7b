"""History, previews, config defaults and completions reach edit, mask-convert, chat-stream
and batch."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pictures import bw_mask, photo, save
from ptyrun import run_in_pty, vibeimg_argv

from vibeimg import preview
from vibeimg.records.history import History, database_path

SMALL = ("--size", "1024x1024", "--quality", "low")


def _runs() -> list:
    with History() as store:
        return store.recent(100)


def _terminal_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TERM_PROGRAM", "KITTY_WINDOW_ID", "LC_TERMINAL", "NO_COLOR")}
    return {**env, "TERM": "xterm-256color", "COLORTERM": "truecolor"}


def test_edit_is_recorded_with_its_inputs(cli, emulator, tmp_path: Path) -> None:
    """An edit run is in the history: command, prompt, saved file, the inputs it sent."""
    save(tmp_path / "otter.png", photo((64, 48)))
    result = cli("edit", "add a red scarf", "-i", "otter.png", *SMALL)
    assert result.exit_code == 0, result.stderr
    [run] = _runs()
    assert (run.command, run.prompt, run.outcome) == ("edit", "add a red scarf", "completed")
    assert run.parameters["endpoint"] == "images/edits"
    assert "otter.png" in json.dumps(run.parameters["inputs"])
    assert run.outputs == [str(tmp_path / "add-a-red-scarf.png")]
    assert run.request_ids == [emulator.api_requests()[0].request_id]


def test_edit_no_history(cli, tmp_path: Path) -> None:
    """--no-history keeps an edit out of the history."""
    save(tmp_path / "otter.png", photo((64, 48)))
    assert cli("edit", "a scarf", "-i", "otter.png", *SMALL, "--no-history").exit_code == 0
    assert not database_path().exists()


def test_chat_stream_is_recorded_with_revised_prompts(cli) -> None:
    """A chat-stream run records its images and revised prompts, which search finds."""
    result = cli("chat-stream", "a lighthouse at dawn", "-n", "2", *SMALL)
    assert result.exit_code == 0, result.stderr
    [run] = _runs()
    assert (run.command, run.images, run.outcome) == ("chat-stream", 2, "completed")
    assert run.parameters["text_model"] == "gpt-5.5" and run.model == "gpt-image-2"
    assert run.revised_prompt and run.usage and run.request_ids
    assert len(run.outputs) == 2 and all(Path(p).exists() for p in run.outputs)
    assert run.estimated_cost_usd == 0.012
    word = run.revised_prompt.split()[-1].strip(".,")
    found = cli("history", "search", word, "--json")
    assert [r["id"] for r in json.loads(found.stdout)["runs"]] == [run.id]


def test_chat_stream_failure_is_recorded(cli, emulator) -> None:
    """A stream that fails is recorded as failed, with its error."""
    emulator.add_fault("stream-failed")
    result = cli("chat-stream", "a lighthouse", *SMALL)
    assert result.exit_code != 0
    [run] = _runs()
    assert run.outcome == "failed" and run.error and run.images == 0


def test_config_defaults_reach_edit_but_not_the_text_model(cli, tmp_path: Path) -> None:
    """The file's size reaches edit and chat-stream; its model is not chat-stream's text model."""
    save(tmp_path / "otter.png", photo((64, 48)))
    cli("config", "set", "size", "portrait")
    cli("config", "set", "model", "gpt-image-2")
    edit = json.loads(cli("edit", "a scarf", "-i", "otter.png", "--dry-run").stdout)
    assert edit["request"]["body"]["size"] == "1024x1536"
    chat = json.loads(cli("chat-stream", "a fox", "--dry-run").stdout)["request"]["body"]
    assert chat["model"] == "gpt-5.5" and chat["tools"][0]["size"] == "1024x1536"


def test_mask_convert_preview_draws_on_the_terminal(tmp_path: Path) -> None:
    """mask-convert --preview shows the alpha mask (transparency as a checkerboard)."""
    save(tmp_path / "scribble.png", bw_mask((64, 48)))
    code, shown = run_in_pty(vibeimg_argv("mask-convert", "scribble.png", "--preview"),
                             env=_terminal_env(), cwd=tmp_path)
    assert code == 0, shown
    assert (tmp_path / "scribble-alpha.png").exists()
    assert preview.UPPER_HALF in shown.decode()


def test_edit_and_chat_stream_preview_on_the_terminal(tmp_path: Path) -> None:
    """edit --preview and chat-stream --preview draw the saved images on a terminal."""
    save(tmp_path / "otter.png", photo((64, 48)))
    for argv in (("edit", "a scarf", "-i", "otter.png"),
                 ("chat-stream", "a fox", "--progress", "plain")):
        code, shown = run_in_pty(
            vibeimg_argv(*argv, *SMALL, "--offline", "--preview", "--no-history"),
            env=_terminal_env(), cwd=tmp_path)
        assert code == 0, shown
        assert shown.decode().count(preview.UPPER_HALF) > 100, argv


def _bash(cli, line: str) -> list[str]:
    words = line.split(" ")
    result = cli(env={"_VIBEIMG_COMPLETE": "complete_bash", "COMP_WORDS": line,
                      "COMP_CWORD": str(len(words) - 1)})
    return [word for word in result.stdout.splitlines() if word]


def test_completion_of_the_other_commands(cli, tmp_path: Path) -> None:
    """--action and --progress offer their choices; image options offer image files."""
    (tmp_path / "otter.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    assert _bash(cli, "vibeimg chat-stream --action ") == ["auto", "generate", "edit"]
    assert _bash(cli, "vibeimg chat-stream --progress j") == ["jsonl"]
    assert _bash(cli, "vibeimg batch --input-format ") == ["auto", "jsonl", "text"]
    for line in ("vibeimg edit -i ", "vibeimg edit --mask ", "vibeimg chat-stream -i ",
                 "vibeimg mask-convert ", "vibeimg mask-convert a.png --match "):
        assert _bash(cli, line) == ["otter.png"], line


def test_each_batch_item_is_recorded_once(cli, emulator, tmp_path: Path) -> None:
    """Every finished batch item is one history run; a rerun skips done items silently."""
    emulator.add_fault("400")
    args = ("batch", "-", "-d", "shots", "-c", "1", *SMALL)
    result = cli(*args, input="a fox\na heron\n")
    assert result.exit_code != 0  # one item failed
    runs = {run.prompt: run for run in _runs()}
    assert set(runs) == {"a fox", "a heron"}
    assert {run.command for run in runs.values()} == {"batch"}
    done, failed = sorted(runs.values(), key=lambda run: run.images, reverse=True)
    assert (failed.outcome, failed.images) == ("failed", 0) and "HTTP 400" in failed.error
    assert done.outcome == "completed" and done.images == 1 and done.estimated_cost_usd == 0.006
    assert Path(done.outputs[0]).parent == tmp_path / "shots" and Path(done.outputs[0]).exists()
    assert cli(*args, input="a fox\na heron\n").exit_code == 0
    assert len(_runs()) == 3  # only the retried item is new
    assert cli(*args, "--no-history", "-d", "more", input="a stork\n").exit_code == 0
    assert len(_runs()) == 3
