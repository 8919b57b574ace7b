"""Intent lines: a request on the wire when a batch is killed is never paid for twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vibeimg.batch.manifest import read_folder, unanswered
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

PROMPTS = [f"a kite over the dunes, take {i}" for i in range(8)]
LOW_PRICE = 0.006  # one low-quality image priced as 1024x1024


def batch_process(emulator: Emulator, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(VIBEIMG_BASE_URL=emulator.base_url, VIBEIMG_API_KEY="sk-test-process")
    return subprocess.Popen(
        [sys.executable, "-m", "vibeimg", "batch", "p.txt", "-d", "out", "-c", "3",
         "--quality", "low", *extra],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, dict, str]:
    stdout, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    return process.returncode, json.loads(stdout), stderr


def sent(emulator: Emulator) -> list[str]:
    return sorted(r.json()["prompt"] for r in emulator.api_requests())


def test_kill_9_with_requests_in_flight_does_not_send_them_again(tmp_path: Path) -> None:
    """kill -9 while three requests are on the wire: the rerun sends every other item but
    not those three, reports them as of unknown outcome with their possible cost (summary,
    report, exit 7); the next rerun still holds them; --retry-unknown sends them."""
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    with Emulator(EmulatorConfig(latency=2)) as slow:
        process = batch_process(slow, tmp_path)
        deadline = time.monotonic() + 30
        while len(slow.api_requests()) < 3:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        process.kill()  # SIGKILL: no handler runs, nothing more is written
        process.communicate(timeout=10)
        on_the_wire = sent(slow)
    assert on_the_wire == sorted(PROMPTS[:3])
    assert list(out.glob("*.png")) == []

    with Emulator(EmulatorConfig()) as emulator:
        code, summary, stderr = finish(batch_process(emulator, tmp_path, "--report", "r.html"))
        assert sent(emulator) == sorted(PROMPTS[3:])  # the three are not paid for twice
    assert code == ExitCode.PARTIAL, stderr
    assert (summary["done"], summary["unknown"], summary["not_resent"]) == (5, 3, 0)
    assert summary["possible_cost_usd"] == round(3 * LOW_PRICE, 4)
    assert summary["status"] == "partial" and summary["exit_code"] == ExitCode.PARTIAL
    unknown = [o for o in summary["outcomes"] if o["status"] == "unknown"]
    assert sorted(o["prompt"] for o in unknown) == on_the_wire
    assert all(o["possible_cost_usd"] == LOW_PRICE for o in unknown)
    assert all("killed" in o["error"] for o in unknown)
    assert stderr.count("outcome unknown in an earlier run") == 3
    assert "--retry-unknown" in stderr
    assert "3 of unknown outcome (may have been billed)" in stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "3 of unknown outcome" in page and f"${3 * LOW_PRICE:.3f} possibly billed" in page
    # The killed run could not write its history; the rerun does, possible cost included.
    history = subprocess.run([sys.executable, "-m", "vibeimg", "history", "--json", "-n", "20"],
                             capture_output=True, text=True, check=True)
    runs = json.loads(history.stdout)["runs"]
    held = [r for r in runs if r["possible_cost_usd"]]
    assert sorted(r["prompt"] for r in held) == on_the_wire
    assert all(r["possible_cost_usd"] == LOW_PRICE and r["images"] == 0 for r in held)
    # The rerun wrote down what it found: the lines are the usual unknown ones now.
    records, skipped = read_folder(out)
    assert skipped == 0 and unanswered(records) == {}
    assert sorted(r["prompt"] for r in records
                  if r.get("type") == "item" and r["status"] == "unknown") == on_the_wire

    with Emulator(EmulatorConfig()) as emulator:
        code, summary, stderr = finish(batch_process(emulator, tmp_path))
        assert sent(emulator) == []
    assert code == ExitCode.PARTIAL, stderr
    assert (summary["skipped"], summary["not_resent"], summary["unknown"]) == (5, 3, 0)

    with Emulator(EmulatorConfig()) as emulator:
        code, summary, stderr = finish(batch_process(emulator, tmp_path, "--retry-unknown"))
        assert sent(emulator) == on_the_wire  # sent again only when asked
    assert code == 0, stderr
    assert (summary["skipped"], summary["done"]) == (5, 3)
    assert len(list(out.glob("*.png"))) == len(PROMPTS)


def write_prompts(tmp_path: Path, *prompts: str) -> None:
    (tmp_path / "p.txt").write_text("".join(f"{p}\n" for p in prompts), encoding="utf-8")


def manifest_lines(out: Path) -> list[dict]:
    text = (out / "vibeimg-manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_each_request_is_announced_before_it_is_sent(cli, emulator, tmp_path: Path) -> None:
    """Every item gets an intent line, with its possible cost, before its finished line."""
    write_prompts(tmp_path, "a fox", "a heron")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    lines = manifest_lines(tmp_path / "out")
    for key in {r["key"] for r in lines if r["type"] == "item"}:
        own = [r for r in lines if r.get("key") == key]
        assert [r["type"] for r in own] == ["sending", "item"]
        assert own[0]["possible_cost_usd"] == LOW_PRICE and own[0]["line"] == own[1]["line"]


def test_a_request_refused_as_busy_takes_its_intent_back(make_cli, tmp_path: Path) -> None:
    """A 429 after the retries queues the item again: an "unsent" line takes its first
    intent back (it was not billed), so a run killed then would send it again."""
    cli = make_cli(faults=["429x2"])
    write_prompts(tmp_path, "a fox")
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--retries", "1")
    assert result.exit_code == 0, result.stderr
    lines = manifest_lines(tmp_path / "out")
    assert [r["type"] for r in lines] == ["plan", "sending", "unsent", "sending", "item"]
    assert unanswered(lines[:3]) == {}  # killed after the 429s: nothing held back
    assert list(unanswered(lines[:4])) == [lines[3]["key"]]  # killed on the wire: held


def test_a_request_that_could_not_go_out_takes_its_intent_back(
        make_cli, tmp_path: Path) -> None:
    """Nothing listening (connection refused, every retry): the item failed, certainly
    unbilled, and a rerun sends it."""
    cli = make_cli()
    write_prompts(tmp_path, "a fox")
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--retries", "0",
                 "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == ExitCode.NETWORK, result.stderr
    lines = manifest_lines(tmp_path / "out")
    assert [r["type"] for r in lines] == ["plan", "sending", "item"]
    assert lines[-1]["status"] == "failed"
    again = cli("batch", "p.txt", "-d", "out", "--quality", "low")
    assert again.exit_code == 0, again.stderr
    assert len(cli.emulator.api_requests()) == 1


def test_merge_counts_a_request_left_on_the_wire_as_unknown(cli, emulator,
                                                            tmp_path: Path) -> None:
    """A shard killed with a request on the wire (its intent the item's last line):
    batch-merge reports that item as unknown, with its possible cost, and exits 7."""
    write_prompts(tmp_path, "a fox", "a heron")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    manifest = tmp_path / "out" / "vibeimg-manifest.jsonl"
    kept = [line for line in manifest.read_text(encoding="utf-8").splitlines()
            if json.loads(line).get("prompt") != "a heron" or json.loads(line)["type"] != "item"]
    manifest.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    result = cli("batch-merge", "out", "-d", "all")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["unknown"]) == (1, 1)
    assert summary["possible_cost_usd"] == LOW_PRICE
    [heron] = [o for o in summary["outcomes"] if o["status"] == "unknown"]
    assert heron["prompt"] == "a heron"
    merged = manifest_lines(tmp_path / "all")
    assert [r["status"] for r in merged if r["type"] == "item"].count("unknown") == 1


def test_a_resend_after_an_unknown_outcome_is_announced_with_both_sends(
        make_cli, tmp_path: Path) -> None:
    """--retry-unknown: a 500 (maybe billed), then the resend. The resend gets an intent
    line of its own counting both sends, so a run killed while it is on the wire leaves
    both counted for the rerun (two requests received, $0.012)."""
    cli = make_cli(faults=["500"])
    write_prompts(tmp_path, "a fox")
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--retry-unknown")
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in cli.emulator.api_requests()] == [500, 200]
    lines = manifest_lines(tmp_path / "out")
    assert [r["type"] for r in lines] == ["plan", "sending", "sending", "item"]
    # The image's own line counts its earlier send, maybe billed.
    assert [r["possible_cost_usd"] for r in lines[1:]] == [LOW_PRICE, 2 * LOW_PRICE, LOW_PRICE]
    held = unanswered(lines[:3])  # killed with the resend on the wire
    assert [r["possible_cost_usd"] for r in held.values()] == [2 * LOW_PRICE]


def test_a_second_ctrl_c_counts_the_earlier_sends_of_what_it_abandons(
        tmp_path: Path) -> None:
    """--retry-unknown: a 500, then the resend on the wire when two SIGINTs come. Two
    requests reached the emulator; the summary and the manifest count both ($0.012)."""
    write_prompts(tmp_path, "a fox")
    with Emulator(EmulatorConfig(latency=30, faults=["500"], retry_after=0.05)) as slow:
        process = batch_process(slow, tmp_path, "--retry-unknown")
        deadline = time.monotonic() + 30
        while len(slow.api_requests()) < 2:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        time.sleep(0.3)
        for _ in range(2):
            process.send_signal(signal.SIGINT)
            time.sleep(0.3)
        code, summary, stderr = finish(process)
        assert len(slow.api_requests()) == 2
    assert code == ExitCode.INTERRUPTED, stderr
    assert summary["abandoned"] == 1
    assert summary["possible_cost_usd"] == 2 * LOW_PRICE
    abandoned = [r for r in manifest_lines(tmp_path / "out") if r.get("abandoned")]
    assert [r["possible_cost_usd"] for r in abandoned] == [2 * LOW_PRICE]


def test_merge_of_one_item_says_one_item(cli, tmp_path: Path) -> None:
    """A merge of a single item says "1 item", on stderr and in the report, not "1 items"."""
    write_prompts(tmp_path, "a fox")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    result = cli("batch-merge", "out", "-d", "all", "--report", "all/report.html")
    assert result.exit_code == 0, result.stderr
    assert "not run, 1 item\n" in result.stderr
    page = (tmp_path / "all" / "report.html").read_text(encoding="utf-8")
    assert '<p class="totals">1 item: 1 done' in page and "1 items" not in page
