"""chat-stream --json and --progress jsonl when the run fails before any stream opens."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Cli
from vibeimg.errors import ExitCode

FAST = ("--size", "1024x1024", "--quality", "low")


@pytest.mark.parametrize(
    ("fault", "exit_code"),
    [("400", ExitCode.API), ("401", ExitCode.AUTH), ("500", ExitCode.SERVER)],
)
def test_error_status_still_prints_one_document(make_cli, tmp_path: Path, fault,
                                                exit_code) -> None:
    """An HTTP error before the stream: one document with the error, the same exit code."""
    cli = make_cli(faults=[fault])
    result = cli("chat-stream", "a fox", *FAST, "--json")
    assert result.exit_code == exit_code, result.stderr
    document = json.loads(result.stdout)
    request_id = cli.emulator.requests[0].request_id
    assert (document["status"], document["stream_status"]) == ("failed", "error")
    assert document["requested"] == 1 and document["received"] == 0
    assert document["images"] == []
    assert document["missing"] == [{"index": 1, "item_id": None, "phase": "not-started"}]
    assert document["error"].startswith(f"HTTP {fault}: ")
    assert document["request_id"] == request_id and request_id in document["error"]
    assert document["exit_code"] == exit_code
    assert result.stderr == f"error: {document['error']}\n"  # the line stays on stderr
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_prints_a_document(tmp_path: Path, emulator) -> None:
    """Nothing listening: a network error, and still a document (no request id)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli = Cli(emulator, tmp_path)
    result = cli("chat-stream", "a fox", "--json", "--retries", "0",
                 env={"VIBEIMG_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert result.exit_code == ExitCode.NETWORK
    document = json.loads(result.stdout)
    assert (document["status"], document["stream_status"]) == ("failed", "error")
    assert document["exit_code"] == ExitCode.NETWORK
    assert document["request_id"] is None and "cannot connect" in document["error"]


def test_jsonl_progress_ends_with_the_finished_record(make_cli) -> None:
    """--progress jsonl: the vibeimg.finished record carries the error and ends stderr."""
    cli = make_cli(faults=["400"])
    result = cli("chat-stream", "a fox", *FAST, "--progress", "jsonl")
    assert result.exit_code == ExitCode.API
    records = [json.loads(line) for line in result.stderr.splitlines()]
    finished = records[-1]
    assert finished["type"] == "vibeimg.finished"
    assert (finished["status"], finished["stream_status"]) == ("failed", "error")
    assert finished["received"] == 0
    assert finished["exit_code"] == ExitCode.API
    assert finished["request_id"] == cli.emulator.requests[0].request_id
    assert "HTTP 400" in finished["error"] and "error: " not in result.stderr


@pytest.mark.parametrize(
    ("faults", "prompt", "exit_code"),
    [([], "Generate 3 images of a fox", 0),
     (["bad-base64"], "Generate 3 images of a fox", ExitCode.PARTIAL),
     (["stream-cut"], "a fox", ExitCode.PARTIAL),
     (["500"], "a fox", ExitCode.SERVER)],
)
def test_jsonl_progress_keeps_every_stderr_line_json(make_cli, faults, prompt,
                                                     exit_code) -> None:
    """--progress jsonl: every line of stderr parses, whatever the ending."""
    cli = make_cli(faults=faults)
    result = cli("chat-stream", prompt, *FAST, "--progress", "jsonl", "-n", "2",
                 "--size", "2560x1600")
    assert result.exit_code == exit_code, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    types = [r["type"] for r in records]
    assert types[-1] == "vibeimg.finished" and types.count("vibeimg.finished") == 1
    assert records[-1]["exit_code"] == exit_code
    notices = [r["message"] for r in records if r["type"] == "vibeimg.notice"]
    assert notices == (["-n 2 wins over the 3 images the prompt asks for: the prompt is "
                        "sent asking for 2"] if "3 images" in prompt else [])
    warnings = [r["message"] for r in records if r["type"] == "vibeimg.warning"]
    assert any("experimental" in w for w in warnings)


def test_jsonl_progress_with_quiet_keeps_the_error_line(make_cli) -> None:
    """--quiet silences the records, so the error keeps its plain line."""
    cli = make_cli(faults=["400"])
    result = cli("chat-stream", "a fox", *FAST, "--progress", "jsonl", "--quiet")
    assert result.exit_code == ExitCode.API
    assert result.stderr.startswith("error: HTTP 400: ")
    assert len(result.stderr.splitlines()) == 1


def test_usage_error_prints_no_document(cli) -> None:
    """No key: a usage error, nothing attempted, so no document on stdout."""
    result = cli("chat-stream", "a fox", "--json", key=None)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == "" and "no API key" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_before_the_answer_prints_an_interrupted_document(tmp_path: Path) -> None:
    """SIGINT twice while waiting for the gateway's first byte (the first waits for the
    request on the wire, the second abandons it): exit 130 and an interrupted document."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(30)
        env = {**os.environ, "VIBEIMG_BASE_URL": f"http://127.0.0.1:{server.getsockname()[1]}/v1",
               "VIBEIMG_API_KEY": "k"}
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "chat-stream", "a fox", "--json"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        connection, _ = server.accept()
        with connection:
            connection.settimeout(30)
            assert connection.recv(65536).startswith(b"POST /v1/responses")  # sent, unanswered
            time.sleep(0.2)
            process.send_signal(signal.SIGINT)
            time.sleep(0.5)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert document["status"] == "interrupted" and document["received"] == 0
    assert document["exit_code"] == ExitCode.INTERRUPTED
    assert "waiting for 1 request on the wire" in stderr
    assert "interrupted before the gateway answered" in stderr
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []
