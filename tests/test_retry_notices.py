"""A retry that waits says so on stderr, once per wait, never with --quiet."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tinygateway import TinyGateway

from tests.conftest import Cli
from vibeimg.cli.retrynotice import RetryNotices, retry_notice
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import status_error
from vibeimg.settings.resolve import load_settings
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.retry import RetryWait

SMALL = ("--size", "1024x1024", "--quality", "low")


def notices(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ", retrying in " in line]


def test_a_long_retry_after_is_announced_with_its_capped_wait() -> None:
    """Retry-After: 100 against the client: one notice saying 60 s, retry 1 of 1."""
    sleeps: list[float] = []
    lines: list[str] = []
    with Emulator(EmulatorConfig(faults=["429"], retry_after=100)) as emu:
        settings = load_settings(api_key="k", base_url=emu.base_url, environ={}, file={},
                                 retries=1)
        on_retry = RetryNotices(lambda retry: lines.append(retry_notice(retry)))
        with GatewayClient(settings, sleep=sleeps.append, on_retry=on_retry) as client:
            body = {"model": "gpt-image-2", "prompt": "fox", "quality": "low"}
            with client.open("POST", "images/generations", json_body=body) as response:
                assert response.read_json()["data"]
    assert sleeps == [60.0]
    assert lines == ["gateway busy (429), retrying in 60 s (retry 1 of 1)"]


@pytest.mark.parametrize(("fault", "reason"), [("429", "gateway busy (429)"),
                                               ("503", "gateway unavailable (503)")])
def test_generate_says_it_waits(make_cli, tmp_path: Path, fault, reason) -> None:
    """generate --retries 1 after a busy answer: one notice line, then the image."""
    cli = make_cli(faults=[fault], retry_after=0.2)
    result = cli("generate", "fox", *SMALL, "--retries", "1")
    assert result.exit_code == 0, result.stderr
    [line] = notices(result.stderr)
    assert line.startswith(f"{reason}, retrying in ") and line.endswith(" s (retry 1 of 1)")
    if fault == "429":  # the emulator's 429 carries Retry-After, its 503 does not
        assert line == f"{reason}, retrying in 0.2 s (retry 1 of 1)"
    assert result.stdout == "fox.png\n"


def test_quiet_keeps_the_wait_silent(make_cli) -> None:
    """--quiet: the retry happens, nothing is said."""
    cli = make_cli(faults=["429"])
    result = cli("generate", "fox", *SMALL, "--quiet")
    assert result.exit_code == 0 and result.stderr == ""
    assert len(cli.emulator.api_requests()) == 2


def test_a_refused_connection_says_it_waits(tmp_path: Path, emulator) -> None:
    """Nothing listening: each backoff is announced with the reason, then the error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = Cli(emulator, tmp_path)("generate", "fox", "--retries", "2",
                                     env={"VIBEIMG_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    lines = notices(result.stderr)
    assert [line.rsplit("(", 1)[1] for line in lines] == ["retry 1 of 2)", "retry 2 of 2)"]
    assert all(line.startswith("cannot connect to http://127.0.0.1:") for line in lines)


def test_four_images_refused_together_share_one_notice(make_cli, tmp_path: Path) -> None:
    """-n 4, all four answered 429 at once: one wait, so one line, and four images."""
    cli = make_cli(faults=["429x4"], retry_after=1.0)
    result = cli("generate", "fox", *SMALL, "-n", "4")
    assert result.exit_code == 0, result.stderr
    assert notices(result.stderr) == ["gateway busy (429), retrying in 1.0 s (retry 1 of 3)"]
    assert len(result.stdout.splitlines()) == 4


def test_a_batch_refused_together_gets_one_notice(make_cli, tmp_path: Path) -> None:
    """A batch of six whose first six requests get 429: one notice among its lines."""
    cli = make_cli(faults=["429x6"], retry_after=1.0)
    (tmp_path / "p.txt").write_text("".join(f"p {i}\n" for i in range(6)), encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", "-c", "6", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["done"] == 6
    # The batch halves its concurrency at the first 429, so workers that had not sent
    # yet send after the wait and may meet the rest of the 429s: a second wait, a
    # second line. Never one line per refused request.
    said = notices(result.stderr)
    assert 1 <= len(said) < 6
    assert all(line.startswith("gateway busy (429), retrying in 1.0 s (retry ")
               for line in said)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("batch: 6 to send") and lines[-1].startswith("batch: 6 done")


def test_chat_stream_jsonl_gets_a_retry_record(make_cli) -> None:
    """--progress jsonl: the wait is a vibeimg.retry record, so every line stays JSON."""
    cli = make_cli(faults=["429"], retry_after=0.2)
    result = cli("chat-stream", "a fox", *SMALL, "--progress", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    retry = records[0]
    assert retry["type"] == "vibeimg.retry" and retry["attempt"] == 1
    assert retry["retries"] == 3 and retry["wait_seconds"] == 0.2
    assert retry["notice"] == "gateway busy (429), retrying in 0.2 s (retry 1 of 3)"
    assert records[-1]["type"] == "vibeimg.finished"


def test_chat_stream_plain_progress_says_it_waits(make_cli) -> None:
    """Plain progress (a log): the notice line comes before the stream opens."""
    cli = make_cli(faults=["429"], retry_after=0.2)
    result = cli("chat-stream", "a fox", *SMALL, "--progress", "plain")
    assert result.exit_code == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == "gateway busy (429), retrying in 0.2 s (retry 1 of 3)"


def test_a_notice_for_a_wait_announced_already_is_dropped() -> None:
    """Within an announced wait another retry is quiet; once it is over, the next speaks."""
    busy = status_error(429, "Too many requests")
    shown: list[int] = []
    on_retry = RetryNotices(lambda retry: shown.append(retry.attempt))
    on_retry(RetryWait(busy, seconds=30.0, attempt=1, retries=3))
    on_retry(RetryWait(busy, seconds=30.0, attempt=1, retries=3))  # a sibling request
    assert shown == [1]
    brief = RetryNotices(lambda retry: shown.append(retry.attempt))
    brief(RetryWait(busy, seconds=0.0, attempt=1, retries=3))
    brief(RetryWait(busy, seconds=1.0, attempt=2, retries=3))  # after the first wait
    assert shown == [1, 1, 2]


@pytest.mark.parametrize("header", ["nan", "-5", "inf", "Wed, 21 Oct 2015 07:28:10 GMT"])
def test_a_malformed_retry_after_falls_back_to_the_backoff(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, header: str) -> None:
    """Retry-After: nan, -5, inf or a past date: the retries wait the backoff (0.5 s,
    1 s...), never 'nan s' nor 0 s one after the other."""
    monkeypatch.setattr("vibeimg.wire.retry.random.uniform", lambda low, high: high)
    refusal = {"error": {"message": "busy", "type": "requests", "param": None, "code": None}}
    with TinyGateway(status=429, body=refusal, headers={"Retry-After": header}) as gateway:
        result = cli("generate", "a fox", *SMALL, "--retries", "2",
                     env={"VIBEIMG_BASE_URL": gateway.base_url})
        sent = len(gateway.posts())
    assert result.exit_code == 4
    assert notices(result.stderr) == ["gateway busy (429), retrying in 0.5 s (retry 1 of 2)",
                                      "gateway busy (429), retrying in 1.0 s (retry 2 of 2)"]
    assert sent == 3
