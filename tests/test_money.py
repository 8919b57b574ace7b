"""Money at the edges: nothing sent after an interrupt, no unknown outcome resent by a
rerun, every billed or possibly billed answer counted apart from the images received.

Each test asserts on what the emulator received, the exit code and the documents."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vibeimg.batch.manifest import read_folder
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode
from vibeimg.files.naming import NamePlan
from vibeimg.jobs.image_requests import ImageRequest
from vibeimg.jobs.image_runs import fetch_many
from vibeimg.params import ImageOptions
from vibeimg.settings.resolve import load_settings
from vibeimg.wire.client import GatewayClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

LONG_WAIT = 30  # the Retry-After of the busy emulator: far longer than any test waits


def start(args: list[str], cwd: Path, emu: Emulator) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(VIBEIMG_BASE_URL=emu.base_url, VIBEIMG_API_KEY="sk-test-money")
    return subprocess.Popen([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Signalled:
    """The requests the emulator had received when the signal was sent."""

    count = 0


def signal_in_retry_wait(process: subprocess.Popen[str], emu: Emulator, refused: int,
                         signum: int) -> tuple[str, str, float]:
    """Once ``refused`` requests were answered 429 (so their retries wait), send
    ``signum``; the output, and how long the process took to end after it."""
    deadline = time.monotonic() + 30
    while len(emu.api_requests()) < refused:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # well into the 30 s wait
    Signalled.count = len(emu.api_requests())
    process.send_signal(signum)
    sent_at = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=15)  # half the Retry-After
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return stdout, stderr, time.monotonic() - sent_at


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_an_interrupted_batch_drops_the_requests_waiting_to_retry(
        tmp_path: Path, signum: int) -> None:
    """429 with Retry-After 30, a batch of 2, then a signal: no request is sent after it,
    the process ends at once with 130, and nothing claims the two were billed."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    with Emulator(EmulatorConfig(faults=["429x2"], retry_after=LONG_WAIT)) as emu:
        process = start(["batch", "p.txt", "-d", "out", "--quality", "low"], tmp_path, emu)
        # The batch pauses new requests for the Retry-After too: the second item may be
        # refused, or still waiting to be sent, when the signal comes.
        stdout, stderr, took = signal_in_retry_wait(process, emu, 1, signum)
        time.sleep(0.2)
        received = [r.status for r in emu.api_requests()]
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert received == [429] * Signalled.count  # nothing after the signal
    assert took < 10, took  # loosely: not the 30 s the retry would have waited
    # (an emulator's run says "offline: nothing billed", which claims no bill either)
    claims = stderr.replace("nothing billed", "")
    assert "billed" not in claims and "waiting for" not in stderr, stderr
    summary = json.loads(stdout)
    assert (summary["status"], summary["done"], summary["not_run"]) == ("interrupted", 0, 2)
    assert summary["estimated_cost_usd"] == 0 and summary["possible_cost_usd"] == 0
    records, _ = read_folder(tmp_path / "out")
    assert [r for r in records if r.get("type") == "item"] == []  # nothing to hold back

    with Emulator(EmulatorConfig()) as emu:  # the rerun sends both, once each
        rerun = start(["batch", "p.txt", "-d", "out", "--quality", "low"], tmp_path, emu)
        _, stderr = rerun.communicate(timeout=60)
        assert sorted(r.json()["prompt"] for r in emu.api_requests()) == ["a fox", "a heron"]
    assert rerun.returncode == 0, stderr


def test_only_the_request_on_the_wire_is_waited_for(tmp_path: Path) -> None:
    """One request on the wire (3 s), then one refused 429 (waiting 30 s to retry):
    Ctrl-C waits for the first only, which lands; the second is never sent again."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    faults = ["no-metadata", "429"]  # the first request answers slowly, the second busy
    with Emulator(EmulatorConfig(faults=faults, retry_after=LONG_WAIT, latency=3)) as emu:
        process = start(["batch", "p.txt", "-d", "out", "--quality", "low", "-c", "2"],
                        tmp_path, emu)
        stdout, stderr, took = signal_in_retry_wait(process, emu, 2, signal.SIGINT)
        received = sorted(r.status for r in emu.api_requests())
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert received == [200, 429] and took < 10
    assert "waiting for the 1 request on the wire" in stderr
    summary = json.loads(stdout)
    assert (summary["done"], summary["not_run"]) == (1, 1)
    assert summary["estimated_cost_usd"] == 0.006 and summary["possible_cost_usd"] == 0


def test_an_interrupted_generate_n_sends_nothing_more(tmp_path: Path) -> None:
    """generate -n 2 --json in a retry wait, then Ctrl-C: exit 130, no request after it,
    both images missing as not-sent (never billed), no possible cost."""
    with Emulator(EmulatorConfig(faults=["429x2"], retry_after=LONG_WAIT)) as emu:
        process = start(["generate", "fox", "-n", "2", "--json", "--quality", "low"],
                        tmp_path, emu)
        stdout, stderr, _ = signal_in_retry_wait(process, emu, 2, signal.SIGINT)
        assert [r.status for r in emu.api_requests()] == [429, 429]
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert document["missing"] == [{"index": 1, "phase": "not-sent"},
                                   {"index": 2, "phase": "not-sent"}]
    assert document["possible_cost_usd"] == 0 and "abandoned" not in stderr


def test_an_interrupted_chat_stream_says_nothing_was_billed(tmp_path: Path) -> None:
    """chat-stream in a retry wait, then SIGTERM: exit 130 at once, one request only,
    and the error says the request was not sent."""
    with Emulator(EmulatorConfig(faults=["429"], retry_after=LONG_WAIT)) as emu:
        process = start(["chat-stream", "fox", "--json", "--quality", "low"], tmp_path, emu)
        stdout, stderr, took = signal_in_retry_wait(process, emu, 1, signal.SIGTERM)
        assert len(emu.api_requests()) == 1
    assert process.returncode == ExitCode.INTERRUPTED and took < 10
    assert "interrupted before the request was sent: nothing was billed" in stderr
    assert json.loads(stdout)["possible_cost_usd"] == 0


def test_fetch_many_cancels_its_retry_waits_on_ctrl_c(tmp_path: Path) -> None:
    """From Python: Ctrl-C during fetch_many's retry wait ends it, and the worker threads
    send nothing afterwards (they would have, 2 s later)."""
    with Emulator(EmulatorConfig(faults=["429x2"], retry_after=2)) as emu:
        settings = load_settings(api_key="k", base_url=emu.base_url)
        request = ImageRequest(endpoint="images/generations", prompt="fox",
                               options=ImageOptions.build(quality="low"),
                               json_body={"model": "gpt-image-2", "prompt": "fox",
                                          "quality": "low"})

        def interrupt_when_refused() -> None:
            while len(emu.api_requests()) < 2:
                time.sleep(0.02)
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_when_refused, daemon=True).start()
        with GatewayClient(settings) as client:
            outcome = fetch_many(client, request, count=2, concurrency=2,
                                 plan=NamePlan.build(None, tmp_path, count=2))
            time.sleep(3)  # past the 2 s Retry-After
        assert outcome.interrupted and outcome.abandoned == []
        assert [r.status for r in emu.api_requests()] == [429, 429]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fault", ["500", "502", "504", "drop"])
def test_an_unknown_outcome_is_not_resent_by_a_rerun(make_cli, tmp_path: Path,
                                                      fault: str) -> None:
    """An item sent with no answer to say what became of it is recorded as unknown, with
    its possible cost; the rerun does not send it again and says so with the command
    that would; --retry-unknown sends it (and only it)."""
    cli = make_cli(faults=[fault])
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    first = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "1")
    assert first.exit_code == ExitCode.PARTIAL, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["done"], summary["unknown"], summary["failed"]) == (1, 1, 0)
    assert summary["estimated_cost_usd"] == 0.006 and summary["possible_cost_usd"] == 0.006
    [unknown] = [o for o in summary["outcomes"] if o["status"] == "unknown"]
    assert unknown["possible_cost_usd"] == 0.006
    records, _ = read_folder(tmp_path / "out")
    assert sorted(r["status"] for r in records if r.get("type") == "item") == ["ok", "unknown"]
    assert "--retry-unknown" in first.stderr
    sent = len(cli.emulator.api_requests())

    second = cli("batch", "p.txt", "-d", "out", "--quality", "low")
    assert len(cli.emulator.api_requests()) == sent  # nothing was sent again
    assert second.exit_code != 0
    assert second.stderr.count("outcome unknown in an earlier run") == 1
    assert "--retry-unknown" in second.stderr
    summary = json.loads(second.stdout)
    assert (summary["skipped"], summary["not_resent"], summary["possible_cost_usd"]) == (1, 1, 0)

    third = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--retry-unknown")
    assert third.exit_code == 0, third.stderr
    again = [r.json()["prompt"] for r in cli.emulator.api_requests()[sent:]]
    assert again == [unknown["prompt"]]
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0


def test_a_timeout_is_an_unknown_outcome_across_reruns(make_cli, tmp_path: Path) -> None:
    """--timeout 1 against a 3 s gateway: 3 unknown outcomes counted as possible spend;
    the rerun sends none of them (six billed requests for three images, no more)."""
    cli = make_cli(latency=3)
    (tmp_path / "p.txt").write_text("a fox\na heron\na cat\n", encoding="utf-8")
    first = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--timeout", "1")
    assert first.exit_code == ExitCode.NETWORK, first.stderr
    summary = json.loads(first.stdout)
    assert summary["unknown"] == 3 and summary["possible_cost_usd"] == 0.018
    second = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--timeout", "1")
    assert second.exit_code == ExitCode.NETWORK
    assert len(cli.emulator.api_requests()) == 3
    held = [line for line in second.stderr.splitlines() if line.startswith("warning: line")]
    assert len(held) == 3 and all("not sent again, so it cannot be billed twice" in line
                                  and "--retry-unknown" in line for line in held)
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low", "--dry-run"
               ).exit_code == 0


def test_billed_but_unusable_answers_count_as_possible_spend(make_cli, tmp_path: Path) -> None:
    """bad-base64 and not-image answers were billed: the batch counts them apart from the
    images received, in the summary, the report and the history; a rerun sends them
    again (their outcome is known: no image)."""
    cli = make_cli(faults=["bad-base64", "not-image"])
    (tmp_path / "p.txt").write_text("a fox\na heron\na cat\n", encoding="utf-8")
    first = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "1",
                "--report", "out/report.html")
    assert first.exit_code == ExitCode.PARTIAL
    summary = json.loads(first.stdout)
    assert (summary["done"], summary["failed"], summary["unknown"]) == (1, 2, 0)
    assert summary["estimated_cost_usd"] == 0.006 and summary["possible_cost_usd"] == 0.012
    assert "up to $0.012 possibly billed" in first.stderr
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "up to $0.012 possibly billed" in report
    history = json.loads(cli("history", "--json", "-n", "10").stdout)["runs"]
    assert sorted(e["possible_cost_usd"] for e in history) == [0.0, 0.006, 0.006]
    # The test emulator says it is one: its runs count only with --include-offline.
    cost = json.loads(cli("history", "cost", "--include-offline", "--json").stdout)
    assert (cost["estimated_cost_usd"], cost["possible_cost_usd"]) == (0.006, 0.012)
    sent = len(cli.emulator.api_requests())
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    assert len(cli.emulator.api_requests()) == sent + 2


@pytest.mark.parametrize("fault", ["bad-base64", "not-image", "500"])
def test_generate_json_shows_possible_spend_apart(make_cli, fault: str) -> None:
    """generate --json: an answer billed but unusable, or a 500, is possible spend, not $0."""
    cli = make_cli(faults=[fault])
    result = cli("generate", "fox", "--quality", "low", "--size", "1024x1024", "--json")
    assert result.exit_code == ExitCode.SERVER
    document = json.loads(result.stdout)
    assert document["estimated_cost_usd"] == 0 and document["possible_cost_usd"] == 0.006
    assert document["failures"][0]["possible_cost_usd"] == 0.006
    assert document["failures"][0]["outcome_unknown"] is (fault == "500")
    shown = json.loads(cli("history", "show", "1", "--json").stdout)
    assert shown["possible_cost_usd"] == 0.006


def test_a_cut_stream_counts_what_it_may_have_cost(make_cli) -> None:
    """chat-stream -n 2 cut before response.completed: both images may have been made."""
    cli = make_cli(faults=["stream-cut"])
    result = cli("chat-stream", "a fox", "-n", "2", "--quality", "low", "--size",
                 "1024x1024", "--json", "--progress", "off")
    document = json.loads(result.stdout)
    assert document["stream_status"] == "truncated"
    received = document["received"]
    assert document["estimated_cost_usd"] == round(received * 0.006, 4)
    assert document["possible_cost_usd"] == round((2 - received) * 0.006, 4)
    assert document["possible_cost_usd"] > 0


def test_batch_merge_carries_the_unknown_outcome(make_cli, tmp_path: Path) -> None:
    """A shard's unknown item stays unknown in the merge (not failed, not done), with its
    possible cost, and a batch in the merged folder does not send it again."""
    cli = make_cli(faults=["502"])
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "1"
               ).exit_code == ExitCode.PARTIAL
    merged = cli("batch-merge", "out", "-d", "out")
    assert merged.exit_code == ExitCode.PARTIAL
    summary = json.loads(merged.stdout)
    assert (summary["done"], summary["unknown"], summary["failed"]) == (1, 1, 0)
    assert summary["possible_cost_usd"] == 0.006
    assert "1 of unknown outcome" in merged.stderr
    lines = (tmp_path / "out" / "vibeimg-manifest.jsonl").read_text().splitlines()
    assert sorted(json.loads(line).get("status", "plan") for line in lines) == [
        "ok", "plan", "unknown"]
    sent = len(cli.emulator.api_requests())
    cli("batch", "p.txt", "-d", "out", "--quality", "low")
    assert len(cli.emulator.api_requests()) == sent
