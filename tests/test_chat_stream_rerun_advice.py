"""After a chat-stream cut half-way, the advice never sends people to pay twice: it says
how many images were saved and how many are missing, that the same command asks for
(and bills) all of them again, and how to ask for the missing ones alone.

Each test counts what the emulator received and what the suggested command asks for."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

THREE = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"
FAST = ("--size", "1024x1024", "--quality", "low")


def pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.png"))


@pytest.mark.parametrize("fault", ["stream-cut", "drop"])
def test_a_numbered_list_cut_half_way_names_what_is_missing(make_cli, tmp_path: Path,
                                                             fault: str) -> None:
    """Two of three saved, then the stream is cut: exit 7, one request, and the error
    says 2 of 3 saved, 1 missing, that a rerun asks for all 3 and bills the 2 saved
    again, and names the item missing; it no longer says "run again for the rest"."""
    cli = make_cli(faults=[fault])
    result = cli("chat-stream", THREE, *FAST, "--progress", "off", "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    assert len(cli.emulator.api_requests()) == 1
    assert pngs(tmp_path) == ["a-blue-square-2.png", "a-red-circle-1.png"]
    error = json.loads(result.stdout)["error"]
    assert error in result.stderr
    assert "2 of 3 images saved, complete; 1 missing" in error
    assert "Sending the same prompt again asks for all 3 again, and bills the 2 saved " \
           "again" in error
    assert "ask for them alone: 3) a green triangle" in error
    assert "run again for the rest" not in error and "-n 1" not in error


def test_nothing_saved_says_so(make_cli) -> None:
    """A stream cut before any image: no claim about saved images, exit 6."""
    cli = make_cli(faults=["stream-cut"])
    result = cli("chat-stream", "a fox", *FAST, "--progress", "off")
    assert result.exit_code == ExitCode.NETWORK
    assert "no image was saved" in result.stderr and "run again for the rest" not in result.stderr


@pytest.mark.parametrize("fault", ["stream-cut", "drop"])
def test_takes_of_one_prompt_get_the_command_for_the_missing_alone(
        tmp_path: Path, fault: str) -> None:
    """-n 3 cut after two images: the error gives the same command with -n 1; run as
    given, it sends one request asking for one image and saves one more, so three
    images cost three, not five."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with Emulator(EmulatorConfig(faults=[fault])) as emu:
        env.update(VIBEIMG_BASE_URL=emu.base_url, VIBEIMG_API_KEY="sk-test-advice")
        first = subprocess.run(
            [sys.executable, "-m", "vibeimg", "chat-stream", "a fox", "-n", "3", *FAST,
             "--progress", "off", "-d", "out"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert first.returncode == ExitCode.PARTIAL, first.stderr
        assert "2 of 3 images saved, complete; 1 missing" in first.stderr
        marker = "for the 1 missing alone: "
        assert marker in first.stderr, first.stderr
        command = first.stderr.split(marker, 1)[1].split(")\n", 1)[0]
        assert command == "vibeimg chat-stream 'a fox' --size 1024x1024 --quality low " \
                          "--progress off -d out -n 1"
        argv = shlex.split(command)
        assert argv[0] == "vibeimg"
        second = subprocess.run([sys.executable, "-m", "vibeimg", *argv[1:], "--json"],
                                cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        assert second.returncode == 0, second.stderr
        sent = emu.api_requests()
        assert len(sent) == 2
        asked = sent[1].json()["input"][-1]["content"][0]["text"]
        assert asked == "a fox"  # one image: the prompt goes as it is
    document = json.loads(second.stdout)
    assert (document["requested"], document["received"]) == (1, 1)
    assert len(pngs(tmp_path / "out")) == 3


def test_a_prompt_from_stdin_gets_no_command_to_paste(make_cli) -> None:
    """The prompt read from stdin cannot be pasted back: the advice says which option."""
    cli = make_cli(faults=["stream-cut"])
    result = cli("chat-stream", "-", "-n", "3", *FAST, "--progress", "off",
                 input="a heron")
    assert result.exit_code == ExitCode.PARTIAL
    assert "for the 1 missing alone: the same command with -n 1" in result.stderr
