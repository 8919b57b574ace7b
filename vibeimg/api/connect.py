"""Opening the gateway: a ready :class:`~vibeimg.wire.client.GatewayClient`, to the
configured base URL, or offline to an emulator started in-process on a free loopback
port. The command line and the Python API open it the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from vibeimg.settings.resolve import Settings, load_settings

if TYPE_CHECKING:
    from vibeimg.wire.client import GatewayClient
    from vibeimg.wire.response import Trace
    from vibeimg.wire.retry import OnRetry

#: The key sent to the offline emulator, which accepts any.
OFFLINE_KEY = "offline-emulator-key"


def connection_settings(
    *,
    offline: bool = False,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    retry_unknown: bool = False,
    verbose: bool = False,
) -> Settings:
    """Settings resolved as everywhere (argument > ``VIBEIMG_*`` environment > config file >
    ``OPENAI_*`` environment > default);
    offline, a stand-in key, since the emulator needs none."""
    return load_settings(
        api_key=api_key or (OFFLINE_KEY if offline else None),
        base_url=base_url,
        timeout=timeout,
        retries=retries,
        retry_unknown=retry_unknown,
        verbose=verbose,
    )


@contextmanager
def open_gateway(
    settings: Settings,
    *,
    offline: bool = False,
    trace: Trace | None = None,
    on_retry: OnRetry | None = None,
) -> Iterator[GatewayClient]:
    """A GatewayClient for ``settings``; ``offline`` points it at a fresh emulator.

    Raises MissingKeyError before anything is sent when no key is set and not offline.
    """
    from vibeimg.wire.client import GatewayClient  # noqa: PLC0415 - httpx only when sending

    if not offline:
        settings.require_key()
        with GatewayClient(settings, trace=trace, on_retry=on_retry) as client:
            yield client
        return
    from vibeimg.emulator import Emulator  # noqa: PLC0415 - the emulator only offline

    with Emulator() as emulator:
        if trace is not None:
            trace(f"offline: emulator at {emulator.base_url}")
        local = replace(settings, base_url=emulator.base_url)
        with GatewayClient(local, trace=trace, on_retry=on_retry, emulated=True) as client:
            yield client
