"""The Python API never spends silently: every request that may have been billed is in
the error it raises (words and ``possible_cost_usd``) and, with ``history=True``, in the
history, as the emulator's count of requests says."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_KEY

import vibeimg
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.records.history import History

LOW = 0.006  # one low-quality 1024x1024 image


def _client(emulator: Emulator, tmp_path: Path) -> vibeimg.Client:
    return vibeimg.Client(base_url=emulator.base_url, api_key=TEST_KEY, out_dir=tmp_path,
                          history=True)


@pytest.fixture
def slow() -> Iterator[Emulator]:
    """An emulator that takes 30 s an answer, with keepalives in streams every 0.1 s."""
    with Emulator(EmulatorConfig(latency=30, keepalive_interval=0.1)) as emu:
        yield emu


def ctrl_c_once_sent(emulator: Emulator, requests: int) -> threading.Thread:
    """Ctrl-C in this (the main) thread once ``requests`` reached the emulator."""
    def press() -> None:
        deadline = time.monotonic() + 20
        while len(emulator.api_requests()) < requests and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # on the wire
        _thread.interrupt_main()

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


def recorded_possible_cost() -> list[float]:
    with History() as store:
        return [run.possible_cost_usd for run in store.recent()]


def test_an_interrupted_chat_stream_says_it_may_have_been_billed(slow: Emulator,
                                                                  tmp_path: Path) -> None:
    """Ctrl-C while the stream runs: the request went out (the emulator has it), so the
    Interrupted error says it may have been billed and carries its cost, as the history."""
    ctrl_c_once_sent(slow, 1)
    with _client(slow, tmp_path) as client, pytest.raises(vibeimg.Interrupted) as caught:
        client.chat_stream("a fox", n=2, size="1024x1024", quality="low")
    assert len(slow.api_requests()) == 1
    assert caught.value.possible_cost_usd == 2 * LOW
    assert f"may have been billed (up to ${2 * LOW:.3f})" in caught.value.one_line()
    assert recorded_possible_cost() == [2 * LOW]


def test_an_interrupted_generate_carries_what_it_may_have_cost(slow: Emulator,
                                                                tmp_path: Path) -> None:
    """Ctrl-C with two requests on the wire: both abandoned, and the Interrupted error's
    possible_cost_usd counts them, as its words and the history do."""
    ctrl_c_once_sent(slow, 2)
    with _client(slow, tmp_path) as client, pytest.raises(vibeimg.Interrupted) as caught:
        client.generate("a fox", n=2, size="1024x1024", quality="low")
    assert len(slow.api_requests()) == 2
    assert caught.value.possible_cost_usd == 2 * LOW
    assert f"may have been billed (up to ${2 * LOW:.3f})" in caught.value.one_line()
    assert recorded_possible_cost() == [2 * LOW]


@pytest.mark.parametrize("fault", ["500", "400"])
def test_a_chat_stream_refused_before_its_stream_is_recorded(emulator: Emulator,
                                                              tmp_path: Path,
                                                              fault: str) -> None:
    """A 500 (maybe billed) or a 400 (not billed) before any stream: the error is raised
    and the run is in the history with what it may have cost, as the command line has it."""
    emulator.add_fault(fault)
    with _client(emulator, tmp_path) as client, pytest.raises(vibeimg.VibeimgError) as caught:
        client.chat_stream("a fox", size="1024x1024", quality="low")
    assert len(emulator.api_requests()) == 1
    expected = LOW if fault == "500" else 0.0
    assert caught.value.possible_cost_usd == expected
    assert recorded_possible_cost() == [expected]
