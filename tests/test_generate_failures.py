"""How generate reports what goes wrong on the gateway's side, and what it leaves on disk."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, Cli
from vibeimg.errors import ExitCode


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_wrong_key_is_an_auth_error(make_cli) -> None:
    """401: the gateway's message, its request id, the auth exit code, and no key shown."""
    cli = make_cli(api_key="sk-the-right-key-123456")
    result = cli("generate", "fox")
    assert result.exit_code == ExitCode.AUTH
    request_id = cli.emulator.requests[0].request_id
    assert "HTTP 401" in result.stderr and "Incorrect API key" in result.stderr
    assert request_id in result.stderr
    assert TEST_KEY not in result.stderr + result.stdout


def test_bad_request_shows_the_gateway_message(make_cli, tmp_path) -> None:
    """400 with an error body: one line with status, message and request id; API exit code."""
    cli = make_cli(faults=["400"])
    result = cli("generate", "fox")
    assert result.exit_code == ExitCode.API
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "HTTP 400: Injected bad request." in lines[0]
    assert cli.emulator.requests[0].request_id in lines[0]
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("status", ["429", "503"])
def test_busy_gateway_is_retried_then_succeeds(make_cli, tmp_path, status) -> None:
    """429 and 503 mean no work was done: retried, and the image is saved."""
    cli = make_cli(faults=[status])
    result = cli("generate", "fox", "--verbose")
    assert result.exit_code == 0, result.stderr
    assert len(cli.emulator.api_requests()) == 2
    assert "retry 1/3" in result.stderr
    assert (tmp_path / "fox.png").exists()


def test_retries_give_up_after_the_limit(make_cli) -> None:
    """--retries 2 against a storm of 429s: three attempts, then the 429 is reported."""
    cli = make_cli(faults=["429x5"])
    result = cli("generate", "fox", "--retries", "2")
    assert result.exit_code == ExitCode.API
    assert "HTTP 429" in result.stderr
    assert len(cli.emulator.api_requests()) == 3


def test_retries_zero_turns_retrying_off(make_cli) -> None:
    """--retries 0: a single attempt."""
    cli = make_cli(faults=["503"])
    assert cli("generate", "fox", "--retries", "0").exit_code == ExitCode.SERVER
    assert len(cli.emulator.api_requests()) == 1


def test_server_error_is_not_retried(make_cli, tmp_path) -> None:
    """500 after the request went out: outcome unknown, not retried, server exit code."""
    cli = make_cli(faults=["500"])
    result = cli("generate", "fox")
    assert result.exit_code == ExitCode.SERVER
    assert "outcome unknown, not retried" in result.stderr
    assert len(cli.emulator.api_requests()) == 1
    assert files_in(tmp_path) == []


def test_retry_unknown_opts_in_to_resending(make_cli, tmp_path) -> None:
    """--retry-unknown resends after a 500, at the user's own risk."""
    cli = make_cli(faults=["500"])
    assert cli("generate", "fox", "--retry-unknown").exit_code == 0
    assert len(cli.emulator.api_requests()) == 2


def test_read_timeout_is_not_retried(make_cli, tmp_path) -> None:
    """No answer within --timeout: network exit code, outcome unknown, one request only."""
    cli = make_cli(latency=1.5)
    result = cli("generate", "fox", "--timeout", "0.3")
    assert result.exit_code == ExitCode.NETWORK
    assert "no answer within 0.3 s" in result.stderr
    assert "outcome unknown" in result.stderr
    assert len(cli.emulator.api_requests()) == 1
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        ("bad-json", ExitCode.SERVER, "not valid JSON"),
        ("bad-base64", ExitCode.SERVER, "not valid base64"),
        ("not-image", ExitCode.SERVER, "not a PNG, JPEG or WebP image"),
        ("drop", ExitCode.NETWORK, "connection dropped while receiving"),
    ],
)
def test_broken_answers_leave_no_file(make_cli, tmp_path, fault, code, message) -> None:
    """A corrupt or cut answer: a clear line, its exit code, and nothing on disk."""
    cli = make_cli(faults=[fault])
    result = cli("generate", "fox", "--size", "2048x2048")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert cli.emulator.requests[0].request_id in result.stderr  # it answered: show its id
    assert files_in(tmp_path) == []  # no image, no sidecar, no .part file


def test_connection_refused_is_a_network_error(tmp_path, emulator) -> None:
    """Nothing listening: retried (safe), then a network error naming --offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli = Cli(emulator, tmp_path)
    result = cli("generate", "fox", "--retries", "1",
                 env={"VIBEIMG_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert result.exit_code == ExitCode.NETWORK
    assert "cannot connect" in result.stderr and "--offline" in result.stderr


def test_one_failure_among_four_is_partial_success(make_cli, tmp_path) -> None:
    """-n 4 with one injected 500: three images saved, the partial-success exit code."""
    cli = make_cli(faults=["500"])
    result = cli("generate", "fox", "-n", "4")
    assert result.exit_code == ExitCode.PARTIAL
    saved = result.stdout.splitlines()
    assert len(saved) == 3
    assert all((tmp_path / name).exists() for name in saved)
    assert "3 of 4 images saved, 1 failed" in result.stderr
    assert "HTTP 500" in result.stderr
    assert len([n for n in files_in(tmp_path) if n.endswith(".png")]) == 3


def test_all_failing_keeps_the_error_kind(make_cli) -> None:
    """-n 2 with both failing: the error's own exit code, not partial success."""
    cli = make_cli(faults=["400x2"])
    result = cli("generate", "fox", "-n", "2")
    assert result.exit_code == ExitCode.API
    assert "all 2 images failed" in result.stderr


def test_verbose_traces_without_the_key(make_cli) -> None:
    """--verbose shows method, URL, status and request id, never the key or Bearer header."""
    cli = make_cli()
    result = cli("generate", "fox", "--verbose")
    assert result.exit_code == 0
    assert "-> POST" in result.stderr and "<- 200" in result.stderr
    assert cli.emulator.requests[0].request_id in result.stderr
    everything = result.stdout + result.stderr
    assert TEST_KEY not in everything and "Bearer" not in everything
