"""--retry-unknown: what it resends (a connection dropped mid-answer included), how the
last error words it, and every attempt of unknown outcome counted as possibly billed,
in --json, the sidecar, the history and a batch's summary, report and manifest.

Each test counts what the emulator received: three sends for one image are one image
received and two possibly billed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pictures import photo, save
from vibeimg.batch.manifest import read_folder
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

LOW = ("--quality", "low", "--size", "1024x1024")  # $0.006 an image


def images_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".png")


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(".vibeimg-")]


@pytest.mark.parametrize("faults", [["500", "504"], ["500", "drop"], ["drop", "502"]],
                         ids=["500-504", "500-drop", "drop-502"])
def test_every_unknown_attempt_before_the_image_is_possibly_billed(
        make_cli, tmp_path: Path, faults: list[str]) -> None:
    """Two attempts of unknown outcome, then the image: three POSTs, one image received
    ($0.006), two possibly billed ($0.012) in --json, the image's entry and sidecar, the
    summary line and the history."""
    cli = make_cli(faults=faults)
    result = cli("generate", "fox r", *LOW, "--retry-unknown", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(cli.emulator.api_requests()) == 3
    document = json.loads(result.stdout)
    assert (document["estimated_cost_usd"], document["possible_cost_usd"]) == (0.006, 0.012)
    [image] = document["images"]
    assert image["possible_cost_usd"] == 0.012
    sidecar = json.loads((tmp_path / "fox-r.json").read_text(encoding="utf-8"))
    assert (sidecar["estimated_cost_usd"], sidecar["possible_cost_usd"]) == (0.006, 0.012)
    assert images_in(tmp_path) == ["fox-r.png"] and no_temporary_files(tmp_path)
    shown = json.loads(cli("history", "show", "1", "--json").stdout)
    assert (shown["estimated_cost_usd"], shown["possible_cost_usd"]) == (0.006, 0.012)


def test_a_clean_success_has_no_possible_cost(make_cli, tmp_path: Path) -> None:
    """No unknown attempt: possible cost 0 in --json and the sidecar."""
    cli = make_cli()
    document = json.loads(cli("generate", "fox", *LOW, "--retry-unknown", "--json").stdout)
    assert document["possible_cost_usd"] == 0 and document["images"][0]["possible_cost_usd"] == 0
    assert json.loads((tmp_path / "fox.json").read_text())["possible_cost_usd"] == 0


def test_every_unknown_attempt_of_a_failure_is_possibly_billed(make_cli) -> None:
    """500 then a dropped answer with --retries 1: two sends, both unknown, $0.012."""
    cli = make_cli(faults=["500", "drop"])
    result = cli("generate", "fox", *LOW, "--retry-unknown", "--retries", "1", "--json")
    assert result.exit_code == ExitCode.NETWORK
    assert len(cli.emulator.api_requests()) == 2
    document = json.loads(result.stdout)
    assert (document["estimated_cost_usd"], document["possible_cost_usd"]) == (0, 0.012)
    assert document["failures"][0]["possible_cost_usd"] == 0.012
    assert "after 1 retry: the gateway may have made and billed all 2 attempts" in result.stderr
    assert "not retried" not in result.stderr


def test_a_billed_but_unusable_answer_after_an_unknown_one_counts_both(make_cli) -> None:
    """500 (unknown), then an answer with bad base64 (billed, unusable): $0.012."""
    cli = make_cli(faults=["500", "bad-base64"])
    result = cli("generate", "fox", *LOW, "--retry-unknown", "--json")
    assert result.exit_code == ExitCode.SERVER
    assert len(cli.emulator.api_requests()) == 2
    assert json.loads(result.stdout)["possible_cost_usd"] == 0.012


def test_a_refusal_after_an_unknown_attempt_keeps_its_cost(make_cli) -> None:
    """504 (unknown), then a 400 (certainly not billed): the 504 alone, $0.006, and
    the image's outcome stays unknown (the 504 may have made it)."""
    cli = make_cli(faults=["504", "400"])
    result = cli("generate", "fox", *LOW, "--retry-unknown", "--json")
    assert result.exit_code == ExitCode.API
    assert len(cli.emulator.api_requests()) == 2
    document = json.loads(result.stdout)
    assert document["possible_cost_usd"] == 0.006
    assert document["failures"][0]["outcome_unknown"] is True
    assert "an earlier attempt had an unknown outcome" in result.stderr


def test_a_batch_item_busy_after_an_unknown_attempt_is_not_queued_again(
        make_cli, tmp_path: Path) -> None:
    """Batch --retry-unknown --retries 1: a 500, then a 429 with no retry left. The item
    is not put back in the queue as a busy refusal would be (its first send may have
    been billed): two requests in all, recorded unknown, $0.006 possibly billed."""
    cli = make_cli(faults=["500", "429x10"])
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", *LOW, "--retry-unknown", "--retries", "1")
    assert len(cli.emulator.api_requests()) == 2
    summary = json.loads(result.stdout)
    assert (summary["unknown"], summary["possible_cost_usd"]) == (1, 0.006)
    records, _ = read_folder(tmp_path / "out")
    assert [r["status"] for r in records if r.get("type") == "item"] == ["unknown"]
    assert "outcome unknown after 1 retry: the gateway may have made and billed 1 of the " \
           "2 attempts; the last refused as busy (HTTP 429)" in summary["error"]


def test_a_dropped_answer_is_not_resent_without_the_flag(make_cli, tmp_path: Path) -> None:
    """A connection dropped mid-answer: one request, exit 6, 'not retried', $0.006."""
    cli = make_cli(faults=["drop"])
    result = cli("generate", "fox d", *LOW, "--json")
    assert result.exit_code == ExitCode.NETWORK
    assert len(cli.emulator.api_requests()) == 1
    assert "outcome unknown, not retried" in result.stderr
    assert json.loads(result.stdout)["possible_cost_usd"] == 0.006
    assert images_in(tmp_path) == [] and no_temporary_files(tmp_path)


def test_retry_unknown_resends_a_dropped_answer_whole(make_cli, tmp_path: Path) -> None:
    """A connection dropped mid-answer with --retry-unknown: the request is sent again,
    the second answer saved whole (no trace of the first), exit 0, one image received
    and one possibly billed."""
    cli = make_cli(faults=["drop"])
    result = cli("generate", "fox d", *LOW, "--retry-unknown", "--json")
    assert result.exit_code == 0, result.stderr
    received = cli.emulator.api_requests()
    assert [r.fault for r in received] == ["drop", None]
    assert received[0].json() == received[1].json()  # the same request, whole
    assert "retrying in" in result.stderr
    document = json.loads(result.stdout)
    assert (document["estimated_cost_usd"], document["possible_cost_usd"]) == (0.006, 0.006)
    assert images_in(tmp_path) == ["fox-d.png"] and no_temporary_files(tmp_path)
    assert (tmp_path / "fox-d.png").stat().st_size == document["images"][0]["bytes"]


def test_edit_resends_a_dropped_answer_with_its_images(make_cli, tmp_path: Path) -> None:
    """edit: the multipart request, input image included, is sent whole again."""
    save(tmp_path / "in.png", photo())
    cli = make_cli(faults=["drop"])
    result = cli("edit", "warmer", "-i", "in.png", *LOW, "--retry-unknown")
    assert result.exit_code == 0, result.stderr
    first, second = cli.emulator.api_requests()
    assert (first.form, first.files) == (second.form, second.files)
    assert second.files["image[]"][0][2] == (tmp_path / "in.png").read_bytes()


def test_timeouts_say_after_how_many_retries(make_cli) -> None:
    """--latency 1.5, --timeout 1 --retries 2 --retry-unknown: three timed-out sends,
    each possibly billed ($0.018); the error says 'after 2 retries', not 'not retried'."""
    cli = make_cli(latency=1.5)
    result = cli("generate", "fox t", *LOW, "--timeout", "1", "--retries", "2",
                 "--retry-unknown", "--json")
    assert result.exit_code == ExitCode.NETWORK
    assert len(cli.emulator.api_requests()) == 3
    assert "(retry 2 of 2)" in result.stderr
    error = json.loads(result.stdout)["error"]
    assert "outcome unknown after 2 retries: the gateway may have made and billed all 3 " \
           "attempts" in error and "not retried" not in result.stderr
    assert json.loads(result.stdout)["possible_cost_usd"] == 0.018


def test_a_batch_counts_every_unknown_attempt(make_cli, tmp_path: Path) -> None:
    """Batch --retry-unknown: an item made after two unknown attempts is done, with
    $0.012 possibly billed in the summary, its outcome, its manifest line and the
    report; the item that failed after two unknown attempts counts $0.012 too."""
    cli = make_cli(faults=["500", "drop"])
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    done = cli("batch", "p.txt", "-d", "out", *LOW, "--retry-unknown", "--report",
               "out/report.html")
    assert done.exit_code == 0, done.stderr
    assert len(cli.emulator.api_requests()) == 3
    summary = json.loads(done.stdout)
    assert (summary["estimated_cost_usd"], summary["possible_cost_usd"]) == (0.006, 0.012)
    assert summary["outcomes"][0]["possible_cost_usd"] == 0.012
    records, _ = read_folder(tmp_path / "out")
    [line] = [r for r in records if r.get("type") == "item"]
    assert (line["status"], line["possible_cost_usd"]) == ("ok", 0.012)
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "up to $0.012 possibly billed" in report

    cli.emulator.add_fault("500")
    cli.emulator.add_fault("drop")
    (tmp_path / "q.txt").write_text("a heron\n", encoding="utf-8")
    failed = cli("batch", "q.txt", "-d", "out2", *LOW, "--retry-unknown", "--retries", "1")
    assert failed.exit_code == ExitCode.NETWORK
    assert len(cli.emulator.api_requests()) == 5
    summary = json.loads(failed.stdout)
    assert (summary["unknown"], summary["possible_cost_usd"]) == (1, 0.012)
    assert "after 1 retry" in summary["outcomes"][0]["error"]


def test_chat_stream_counts_an_unknown_send_before_its_stream(make_cli) -> None:
    """chat-stream -n 2 --retry-unknown after a 500: two sends, the first may have made
    both images ($0.012 possibly billed) while the second brought them."""
    cli = make_cli(faults=["500"])
    result = cli("chat-stream", "a fox", "-n", "2", *LOW, "--retry-unknown", "--json",
                 "--progress", "off")
    assert result.exit_code == 0, result.stderr
    assert len(cli.emulator.api_requests()) == 2
    document = json.loads(result.stdout)
    assert (document["estimated_cost_usd"], document["possible_cost_usd"]) == (0.012, 0.012)


def test_chat_stream_never_resends_a_cut_stream(make_cli) -> None:
    """A stream dropped once images arrived is not sent again, even with --retry-unknown:
    that would ask for (and bill) the saved images again."""
    cli = make_cli(faults=["drop"])
    result = cli("chat-stream", "a fox", "-n", "2", *LOW, "--retry-unknown", "--progress",
                 "off")
    assert result.exit_code in (ExitCode.NETWORK, ExitCode.PARTIAL)
    assert len(cli.emulator.api_requests()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_interrupted_retry_after_an_unknown_attempt_is_not_called_unbilled(
        tmp_path: Path) -> None:
    """500 (unknown), then 429 with a 30 s Retry-After, then Ctrl-C: nothing more is
    sent, and the image is reported of unknown outcome, possibly billed, not 'nothing
    was billed'."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with Emulator(EmulatorConfig(faults=["500", "429"], retry_after=30)) as emu:
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "generate", "fox", *LOW, "--retry-unknown",
             "--json", "--base-url", emu.base_url, "--api-key", "k"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while len(emu.api_requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
        assert len(emu.api_requests()) == 2
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert document["possible_cost_usd"] == 0.006
    assert "nothing was billed" not in stderr
