"""The first Ctrl-C (or SIGTERM, SIGHUP) sends nothing more but waits for the requests on
the wire, which the gateway makes and bills anyway, and saves them; a second abandons
them. generate, edit and chat-stream do as a batch does.

Each test sends real signals to a vibeimg process against a slow emulator, and checks
the files saved, the exit code and what the emulator received."""

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
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

LATENCY = 2.0  # long enough to signal while the requests are out, short to wait for
LOW = ("--quality", "low", "--size", "1024x1024")  # $0.006 an image


def run_signalled(tmp_path: Path, emu: Emulator, args: list[str], *, sent: int,
                  signals: list[int], stdout_bytes: bool = False
                  ) -> tuple[int, str | bytes, str]:
    """Run vibeimg ARGS; once ``sent`` requests reached the emulator, send ``signals``
    (0.3 s apart); the exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(VIBEIMG_BASE_URL=emu.base_url, VIBEIMG_API_KEY="sk-test-waits")
    process = subprocess.Popen([sys.executable, "-m", "vibeimg", *args], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(emu.api_requests()) < sent:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    time.sleep(0.3)  # well inside the latency: the requests are on the wire
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.3)
    out, err = process.communicate(timeout=30)
    time.sleep(LATENCY + 0.5)  # whatever would be sent after the signal has been by now
    return process.returncode, out if stdout_bytes else out.decode(), err.decode()


def files(folder: Path, suffix: str = ".png") -> list[str]:
    return sorted(p.name for p in folder.rglob(f"*{suffix}"))


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(".vibeimg-")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_generate_n_waits_for_the_requests_on_the_wire(tmp_path: Path, signum: int) -> None:
    """generate -n 4 -c 2, one signal while two requests are out: it says it waits,
    sends nothing more, saves the two (with sidecars), exits 130; the document and the
    history say interrupted, 2 received ($0.012), 2 not sent, nothing possibly billed."""
    with Emulator(EmulatorConfig(latency=LATENCY)) as emu:
        code, stdout, stderr = run_signalled(
            tmp_path, emu, ["generate", "fox", "-n", "4", "-c", "2", *LOW, "--json"],
            sent=2, signals=[signum])
        assert [r.status for r in emu.api_requests()] == [200, 200]
    assert code == ExitCode.INTERRUPTED, stderr
    assert "waiting for 2 requests on the wire, which the gateway makes and bills anyway; " \
           "Ctrl-C again to abandon them" in stderr
    assert files(tmp_path) == ["fox-1.png", "fox-2.png"]
    assert files(tmp_path, ".json") == ["fox-1.json", "fox-2.json"]
    assert no_temporary_files(tmp_path)
    document = json.loads(stdout)
    assert (document["status"], document["received"]) == ("interrupted", 2)
    assert document["missing"] == [{"index": 3, "phase": "not-sent"},
                                   {"index": 4, "phase": "not-sent"}]
    assert (document["estimated_cost_usd"], document["possible_cost_usd"]) == (0.012, 0)
    assert "error: interrupted: 2 of 4 images saved" in stderr
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    shown = json.loads(subprocess.run(
        [sys.executable, "-m", "vibeimg", "history", "show", "1", "--json"], cwd=tmp_path,
        env=env, capture_output=True, text=True, check=True).stdout)
    assert shown["outcome"] == "interrupted" and shown["estimated_cost_usd"] == 0.012


def test_a_second_signal_abandons_them(tmp_path: Path) -> None:
    """generate -n 4 -c 2, two signals: the two on the wire are abandoned (possibly
    billed, $0.012), nothing saved, nothing more sent, exit 130."""
    with Emulator(EmulatorConfig(latency=30)) as emu:
        code, stdout, stderr = run_signalled(
            tmp_path, emu, ["generate", "fox", "-n", "4", "-c", "2", *LOW, "--json"],
            sent=2, signals=[signal.SIGINT, signal.SIGINT])
        assert len(emu.api_requests()) == 2
    assert code == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert [m["phase"] for m in document["missing"]] == [
        "abandoned", "abandoned", "not-sent", "not-sent"]
    assert document["possible_cost_usd"] == 0.012 and document["received"] == 0
    assert files(tmp_path) == [] and no_temporary_files(tmp_path)


def test_a_single_generate_waits_for_its_request(tmp_path: Path) -> None:
    """One image on the wire and one SIGINT: it lands and is saved, exit 130."""
    with Emulator(EmulatorConfig(latency=LATENCY)) as emu:
        code, stdout, stderr = run_signalled(tmp_path, emu, ["generate", "fox", *LOW],
                                             sent=1, signals=[signal.SIGINT])
        assert len(emu.api_requests()) == 1
    assert code == ExitCode.INTERRUPTED, stderr
    assert "waiting for 1 request on the wire" in stderr and "abandon it" in stderr
    assert stdout == "fox.png\n" and files(tmp_path) == ["fox.png"]


def test_an_image_to_stdout_is_waited_for_too(tmp_path: Path) -> None:
    """-o - and one SIGTERM: the image still reaches stdout whole, exit 130."""
    with Emulator(EmulatorConfig(latency=LATENCY)) as emu:
        code, stdout, stderr = run_signalled(tmp_path, emu,
                                             ["generate", "fox", *LOW, "-o", "-"], sent=1,
                                             signals=[signal.SIGTERM], stdout_bytes=True)
        assert len(emu.api_requests()) == 1
    assert code == ExitCode.INTERRUPTED, stderr
    assert isinstance(stdout, bytes) and stdout.startswith(b"\x89PNG\r\n\x1a\n")
    assert list(tmp_path.iterdir()) == []


def test_edit_n_waits_for_the_requests_on_the_wire(tmp_path: Path) -> None:
    """edit -n 2 and one SIGTERM: both edits land and are saved, nothing more is sent."""
    save(tmp_path / "in.png", photo())
    with Emulator(EmulatorConfig(latency=LATENCY)) as emu:
        code, _, stderr = run_signalled(
            tmp_path, emu, ["edit", "warmer", "-i", "in.png", "-n", "3", "-c", "2", *LOW],
            sent=2, signals=[signal.SIGTERM])
        assert len(emu.api_requests()) == 2
    assert code == ExitCode.INTERRUPTED, stderr
    assert "waiting for 2 requests on the wire" in stderr
    assert files(tmp_path) == ["in.png", "warmer-1.png", "warmer-2.png"]


def test_chat_stream_waits_for_its_stream(tmp_path: Path) -> None:
    """chat-stream -n 2 and one SIGINT while the stream runs: the stream is read to its
    end, both images saved, one request, exit 130, the document says interrupted with
    both received and nothing possibly billed."""
    with Emulator(EmulatorConfig(latency=LATENCY, keepalive_interval=0.1)) as emu:
        code, stdout, stderr = run_signalled(
            tmp_path, emu, ["chat-stream", "a fox", "-n", "2", *LOW, "--json"],
            sent=1, signals=[signal.SIGINT])
        assert len(emu.api_requests()) == 1
    assert code == ExitCode.INTERRUPTED, stderr
    assert "waiting for 1 request on the wire" in stderr
    assert files(tmp_path) == ["a-fox-1.png", "a-fox-2.png"] and no_temporary_files(tmp_path)
    document = json.loads(stdout)
    assert (document["status"], document["received"]) == ("interrupted", 2)
    assert document["possible_cost_usd"] == 0 and document["exit_code"] == 130


def test_chat_stream_abandons_on_a_second_signal(tmp_path: Path) -> None:
    """chat-stream -n 2, two SIGINTs before any image: abandoned at once, exit 130, both
    images possibly billed ($0.012), no file left."""
    with Emulator(EmulatorConfig(latency=30, keepalive_interval=0.1)) as emu:
        code, stdout, stderr = run_signalled(
            tmp_path, emu, ["chat-stream", "a fox", "-n", "2", *LOW, "--json"],
            sent=1, signals=[signal.SIGINT, signal.SIGINT])
        assert len(emu.api_requests()) == 1
    assert code == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert (document["status"], document["received"]) == ("interrupted", 0)
    assert document["possible_cost_usd"] == 0.012
    assert list(tmp_path.iterdir()) == []


def history_of(tmp_path: Path) -> dict[str, object]:
    """The latest run in the history, as `history show 1 --json` gives it."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    shown: dict[str, object] = json.loads(subprocess.run(
        [sys.executable, "-m", "vibeimg", "history", "show", "1", "--json"], cwd=tmp_path,
        env=env, capture_output=True, text=True, check=True).stdout)
    return shown


@pytest.mark.parametrize("command", [["generate", "fox"], ["edit", "fox", "-i", "in.png"]],
                         ids=["generate", "edit"])
def test_abandoned_requests_count_their_earlier_unknown_sends(tmp_path: Path,
                                                              command: list[str]) -> None:
    """--retry-unknown, -n 2: each request's first send gets a 500 (maybe billed) and is
    sent again; two signals abandon the resends on the wire. The emulator received 4
    sends, and the document and the history count all 4 as possibly billed ($0.024)."""
    save(tmp_path / "in.png", photo())
    with Emulator(EmulatorConfig(latency=30, faults=["500x2"])) as emu:
        code, stdout, stderr = run_signalled(
            tmp_path, emu, [*command, "-n", "2", "-c", "2", *LOW, "--json",
                            "--retry-unknown"], sent=4, signals=[signal.SIGINT, signal.SIGINT])
        # Two 500s, then the two resends, still on the wire (not yet answered).
        assert [r.status for r in emu.api_requests()] == [500, 500, 0, 0]
    assert code == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert [m["phase"] for m in document["missing"]] == ["abandoned", "abandoned"]
    assert (document["received"], document["possible_cost_usd"]) == (0, 0.024)
    assert "may have been billed (up to $0.024)" in stderr
    assert history_of(tmp_path)["possible_cost_usd"] == 0.024
