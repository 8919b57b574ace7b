"""The HTTP core: the retry rule, Retry-After, and error mapping, against the emulator."""

from __future__ import annotations

import httpx
import pytest

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ApiError, AuthError, NetworkError, ServerError
from vibeimg.settings.resolve import load_settings
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.response import error_from_response
from vibeimg.wire.retry import retry_after_seconds


def client_for(emulator: Emulator, sleeps: list[float], **settings: object) -> GatewayClient:
    resolved = load_settings(api_key="k", base_url=emulator.base_url, environ={}, file={},
                             **settings)  # type: ignore[arg-type]
    return GatewayClient(resolved, sleep=sleeps.append)


def generate(client: GatewayClient) -> dict:
    body = {"model": "gpt-image-2", "prompt": "fox", "size": "1024x1024", "quality": "low"}
    with client.open("POST", "images/generations", json_body=body) as response:
        return response.read_json()


def test_retry_after_is_honoured() -> None:
    """A 429 with Retry-After: 2 makes the client wait 2 s (capped) before the retry."""
    sleeps: list[float] = []
    with Emulator(EmulatorConfig(faults=["429"], retry_after=2)) as emu:
        with client_for(emu, sleeps) as client:
            assert generate(client)["data"][0]["b64_json"]
        assert len(emu.api_requests()) == 2
    assert sleeps == [2.0]


def test_backoff_grows_when_there_is_no_retry_after() -> None:
    """503s without Retry-After back off exponentially, with jitter, within the cap."""
    sleeps: list[float] = []
    with Emulator(EmulatorConfig(faults=["503x3"])) as emu, client_for(emu, sleeps) as client:
        # The emulator's 503 carries no Retry-After.
        generate(client)
    assert len(sleeps) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps, (0.5, 1.0, 2.0), strict=True))


@pytest.mark.parametrize("status", ["500", "502", "504"])
def test_unknown_outcome_statuses_are_not_retried(status: str) -> None:
    """500/502/504 are raised at once: the work may have been done and billed."""
    sleeps: list[float] = []
    with Emulator(EmulatorConfig(faults=[status])) as emu, client_for(emu, sleeps) as client:
        with pytest.raises(ServerError) as caught:
            generate(client)
        assert len(emu.api_requests()) == 1
    assert sleeps == []
    assert "outcome unknown" in caught.value.one_line()


def test_auth_and_api_errors_keep_the_gateway_message() -> None:
    """401 becomes AuthError, other 4xx ApiError, each with the request id."""
    sleeps: list[float] = []
    config = EmulatorConfig(api_key="right")
    with Emulator(config) as emu, client_for(emu, sleeps) as client:
        with pytest.raises(AuthError) as caught:
            generate(client)
        assert caught.value.request_id == emu.requests[0].request_id
    with (
        Emulator(EmulatorConfig(faults=["400"])) as emu,
        client_for(emu, sleeps) as client,
        pytest.raises(ApiError, match="Injected bad request"),
    ):
        generate(client)


def test_dropped_body_is_a_network_error() -> None:
    """A connection closed half-way through the body is a NetworkError, not a crash."""
    with (
        Emulator(EmulatorConfig(faults=["drop"])) as emu,
        client_for(emu, []) as client,
        pytest.raises(NetworkError, match="dropped"),
    ):
        generate(client)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("0", 0.0), ("-4", None), ("100000", 60.0), ("soon", None),
     (None, None), ("nan", None), ("inf", None), ("-inf", None)],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    """Retry-After in seconds is read and capped; nonsense, NaN, infinity and negative
    waits are ignored (the backoff decides)."""
    assert retry_after_seconds(value) == expected


def test_retry_after_as_http_date() -> None:
    """Retry-After as an HTTP date counts from now."""
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "Bad size", "type": "invalid_request_error"}}', "Bad size"),
        (b'{"error": "plain string"}', "plain string"),
        (b"<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>"),
        (b"", "Bad Request"),
    ],
)
def test_error_bodies_of_any_shape(body: bytes, message: str) -> None:
    """The message is taken from OpenAI's shape, a bare string, or the raw text."""
    response = httpx.Response(400, headers={"x-request-id": "req_1"}, content=body)
    error = error_from_response(response, body)
    assert error.message == message and error.request_id == "req_1"
