"""Output that fits its reader: a few lines for a person at a terminal, JSON for scripts."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ptyrun import run_in_pty, vibeimg_argv

from vibeimg.cli.batchview import summary_text


def _terminal_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TERM_PROGRAM", "KITTY_WINDOW_ID", "LC_TERMINAL", "NO_COLOR", "TMUX")}
    return {**env, "TERM": "xterm-256color"}


def _shown(output: bytes) -> list[str]:
    """The lines a terminal ends up showing, without escape sequences or redraws."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode())
    return [line.split("\r")[-1] for line in text.replace("\r\n", "\n").split("\n")]


def _prompts(folder: Path) -> None:
    (folder / "p.jsonl").write_text(
        '{"prompt": "a fox"}\n{"prompt": "a heron"}\n{"prompt": "an owl", "n": 2}\n')


def test_batch_on_a_terminal_prints_a_summary_for_people(tmp_path: Path) -> None:
    """stdout a terminal: counts, cost and where the manifest and report are, no JSON."""
    _prompts(tmp_path)
    code, shown = run_in_pty(vibeimg_argv(
        "batch", "p.jsonl", "--offline", "--quality", "low", "-d", "shots",
        "--report", "shots/report.html", "--no-history"), env=_terminal_env(), cwd=tmp_path)
    lines = _shown(shown)
    assert code == 0, lines
    start = lines.index("batch p.jsonl: completed")
    assert lines[start + 1].startswith("  4 items: 4 done, 0 already done, 0 failed, 0 not run in ")
    assert lines[start + 2] == "  estimated cost $0.024 (offline: nothing billed)"
    assert "  images in shots, manifest shots/vibeimg-manifest.jsonl" in lines
    assert "  report shots/report.html" in lines
    assert not any(line.lstrip().startswith(("{", '"')) for line in lines)
    assert len([line for line in lines if line.strip()]) < 15


def test_batch_json_on_a_terminal_with_json(tmp_path: Path) -> None:
    """--json prints the JSON document on a terminal too."""
    _prompts(tmp_path)
    code, shown = run_in_pty(vibeimg_argv("batch", "p.jsonl", "--offline", "--quality",
                                          "low", "--json", "--no-history"),
                             env=_terminal_env(), cwd=tmp_path)
    text = "\n".join(_shown(shown))
    assert code == 0, text
    document = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert document["command"] == "batch" and document["done"] == 4


def test_batch_into_a_pipe_prints_json_even_with_a_terminal_around(tmp_path: Path) -> None:
    """stdout to a file, stderr on a terminal: the JSON document, as before."""
    _prompts(tmp_path)
    command = " ".join([*(f"'{w}'" for w in vibeimg_argv(
        "batch", "p.jsonl", "--offline", "--quality", "low", "--no-history")), "> out.json"])
    code, shown = run_in_pty(["/bin/sh", "-c", command], env=_terminal_env(), cwd=tmp_path)
    assert code == 0, shown
    assert json.loads((tmp_path / "out.json").read_text())["status"] == "completed"
    assert "batch: 4 done" in shown.decode()  # the line for the log stays on stderr


def test_batch_failures_are_listed_in_the_summary(make_cli, tmp_path: Path) -> None:
    """A failed item: the summary names its line and error; the count matches."""
    _prompts(tmp_path)
    cli = make_cli(faults=["400"])
    result = cli("batch", "p.jsonl", "--quality", "low", "-c", "1", "--json")
    document = json.loads(result.stdout)
    text = summary_text(document)
    assert "  4 items: 3 done, 0 already done, 1 failed, 0 not run in " in text
    assert re.search(r"^  failed: line 1: HTTP 400: .*\[request id req_\w+\]$", text, re.M)
    assert text.splitlines()[0] == "batch p.jsonl: partial"


def test_summary_words_for_one_and_for_many() -> None:
    """'busy 1 time', not '1 times'; more than five failures are counted, not listed."""
    document = {
        "command": "batch", "status": "partial", "file": "p.jsonl", "shard": "2/4",
        "out_dir": "out", "manifest": "out/m.jsonl", "report": None, "items": 8, "done": 1,
        "skipped": 0, "failed": 7, "not_run": 0, "elapsed_seconds": 2.0,
        "estimated_cost_usd": 0.006, "concurrency": {"busy_refusals": 1, "lowest": 2},
        "outcomes": [{"status": "failed", "line": n, "error": f"bad\n{n}"} for n in range(7)],
    }
    lines = summary_text(document).splitlines()
    assert lines[0] == "batch p.jsonl (shard 2/4): partial"
    assert "  the gateway was busy 1 time; concurrency went down to 2" in lines
    assert "  failed: line 0: bad 0" in lines
    assert "  ... and 2 more failed" in lines
    assert not any("report" in line for line in lines)


def test_the_ci_log_line_counts_busy_answers_in_words(make_cli, tmp_path: Path) -> None:
    """One 429 in a batch: the closing stderr line says 'busy 1 time'."""
    _prompts(tmp_path)
    cli = make_cli(faults=["429"], retry_after=0.01)
    result = cli("batch", "p.jsonl", "--quality", "low", "-c", "1")
    assert result.exit_code == 0, result.stderr
    assert "the gateway was busy 1 time, concurrency went down to 1" in result.stderr
    assert "1 times" not in result.stderr


def test_batch_merge_on_a_terminal_prints_a_summary(tmp_path: Path) -> None:
    """batch-merge on a terminal: a few lines; into a pipe: the JSON, as before."""
    _prompts(tmp_path)
    env = _terminal_env()
    code, _ = run_in_pty(vibeimg_argv("batch", "p.jsonl", "--offline", "--quality", "low",
                                      "-d", "shots", "--no-history", "--json"),
                         env=env, cwd=tmp_path)
    assert code == 0
    code, shown = run_in_pty(vibeimg_argv("batch-merge", "shots", "-d", "shots"),
                             env=env, cwd=tmp_path)
    lines = _shown(shown)
    assert code == 0, lines
    assert "batch-merge: completed" in lines
    assert "  4 items: 4 done, 0 failed, 0 not run" in lines


def test_history_has_column_headers_on_a_terminal(cli, tmp_path: Path) -> None:
    """'vibeimg history' on a terminal starts with a header row; in a pipe, rows only."""
    assert cli("generate", "a fox", "--quality", "low").exit_code == 0
    env = {**_terminal_env(), "VIBEIMG_HOME": os.environ["VIBEIMG_HOME"]}
    code, shown = run_in_pty(vibeimg_argv("history"), env=env, cwd=tmp_path)
    lines = [line for line in _shown(shown) if line.strip()]
    assert code == 0, lines
    assert lines[0].split() == ["ID", "TIME", "COMMAND", "OUTCOME", "IMAGES", "COST", "PROMPT"]
    assert lines[1].split()[0] == "1" and lines[1].endswith("a fox")
    assert lines[0].index("COMMAND") == lines[1].index("generate")
    piped = cli("history").stdout.splitlines()
    assert len(piped) == 1 and piped[0].split()[0] == "1"


def test_an_empty_history_says_so_on_stderr(cli) -> None:
    """'vibeimg history' with nothing recorded: nothing on stdout, one line on stderr."""
    result = cli("history")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.startswith("the history is empty: runs are recorded as they are made")
    assert cli("history", "--json").stdout.strip().startswith("{")
    assert cli("generate", "a fox", "--quality", "low").exit_code == 0
    only = cli("history", "--command", "edit")
    assert (only.stdout, only.stderr) == ("", "no edit run in the history yet\n")
