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
    assert document["status"] == "error"
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
    assert document["status"] == "error" and document["exit_code"] == ExitCode.NETWORK
    assert document["request_id"] is None and "cannot connect" in document["error"]


def test_jsonl_progress_ends_with_the_finished_record(make_cli) -> None:
    """--progress jsonl: a vibeimg.finished record with the error, then the error line."""
    cli = make_cli(faults=["400"])
    result = cli("chat-stream", "a fox", *FAST, "--progress", "jsonl")
    assert result.exit_code == ExitCode.API
    *records, last = result.stderr.splitlines()
    finished = json.loads(records[-1])
    assert finished["type"] == "vibeimg.finished"
    assert finished["status"] == "error" and finished["received"] == 0
    assert finished["exit_code"] == ExitCode.API
    assert finished["request_id"] == cli.emulator.requests[0].request_id
    assert last == f"error: {finished['error']}" and "HTTP 400" in last


def test_usage_error_prints_no_document(cli) -> None:
    """No key: a usage error, nothing attempted, so no document on stdout."""
    result = cli("chat-stream", "a fox", "--json", key=None)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == "" and "no API key" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_before_the_answer_prints_an_interrupted_document(tmp_path: Path) -> None:
    """SIGINT while waiting for the gateway's first byte: exit 130 and an interrupted document."""
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
            stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    document = json.loads(stdout)
    assert document["status"] == "interrupted" and document["received"] == 0
    assert document["exit_code"] == ExitCode.INTERRUPTED
    assert "interrupted before the gateway answered" in stderr
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []
