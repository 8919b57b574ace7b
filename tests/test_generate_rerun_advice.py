"""After a ``generate -n`` that saved some images and not the others, the error gives
the command that asks for the missing ones alone, and running it buys only those."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

FAST = ("--size", "1024x1024", "--quality", "low")


def test_two_refused_of_four_give_the_command_for_the_two_alone(tmp_path: Path) -> None:
    """Two of four refused (400, not billed): exit 7, the error gives the same command
    with -n 2 and without --force (which would let new images replace saved ones of the
    same numbers); run as given, it sends two requests and four images are on disk."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with Emulator(EmulatorConfig(faults=["400x2"])) as emu:
        env.update(VIBEIMG_BASE_URL=emu.base_url, VIBEIMG_API_KEY="sk-test-advice")
        first = subprocess.run(
            [sys.executable, "-m", "vibeimg", "generate", "一只狐狸", "-n", "4", "-c", "1",
             *FAST, "-o", "fox-{n}.png", "--force"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert first.returncode == ExitCode.PARTIAL, first.stderr
        assert first.stdout.split() == ["fox-3.png", "fox-4.png"]
        marker = "error: 2 of 4 images saved, 2 failed (for the 2 not saved alone: "
        assert marker in first.stderr, first.stderr
        command = first.stderr.split(marker, 1)[1].rsplit(")", 1)[0]
        assert command == ("vibeimg generate '一只狐狸' -c 1 --size 1024x1024 --quality low "
                           "-o 'fox-{n}.png' -n 2")
        second = subprocess.run([sys.executable, "-m", "vibeimg", *shlex.split(command)[1:]],
                                cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        assert second.returncode == 0, second.stderr
        assert len(emu.api_requests()) == 6  # 4, of which 2 refused; then the 2 missing
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "fox-1.png", "fox-2.png", "fox-3.png", "fox-4.png"]


def test_the_advice_is_in_the_json_error_and_absent_when_nothing_was_saved(make_cli) -> None:
    """--json carries the same advice (the prompt line cannot be told in-process, so it
    names the option), saying that the image lost to a 500 may have been billed; a run
    with no image saved gives none: a plain rerun is the fix."""
    cli = make_cli(faults=["500"])
    result = cli("generate", "a fox", "-n", "2", "-c", "1", *FAST, "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error.endswith("(for the 1 not saved alone: the same command with -n 1; the "
                          "gateway may have billed it already)"), error
    cli.emulator.add_fault("500x2")
    result = cli("generate", "a fox", "-n", "2", "-c", "1", *FAST, "--retries", "0")
    assert result.exit_code == ExitCode.SERVER
    assert "not saved alone" not in result.stderr
