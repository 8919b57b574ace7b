"""generate -n / edit -n: each path on stdout as its image lands, progress on stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from pictures import photo, save
from ptyrun import run_in_pty, vibeimg_argv

from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode

SMALL = ("--size", "1024x1024", "--quality", "low")
SAVED_LINE = re.compile(r"^image (\d) of 3: saved (a-fox-\d\.png) \(1024x1024, [\d,]+ bytes, "
                        r"[\d.]+ s\)$")


def _plain(output: bytes) -> str:
    """What a terminal shows, without its escape sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode())


def test_each_path_is_printed_as_soon_as_its_image_is_saved(tmp_path: Path) -> None:
    """With two images one after the other, the first path is on stdout (flushed) while
    the second is still being made."""
    with Emulator(EmulatorConfig(latency=1.5)) as slow:
        env = {**os.environ, "VIBEIMG_BASE_URL": slow.base_url, "VIBEIMG_API_KEY": "k"}
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "generate", "a fox", "-n", "2", "-c", "1",
             *SMALL], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        first = process.stdout.readline()
        second_was_saved = (tmp_path / "a-fox-2.png").exists()
        rest, _ = process.communicate(timeout=60)
    assert first == "a-fox-1.png\n"
    assert not second_was_saved  # printed before the run was over
    assert rest == "a-fox-2.png\n"
    assert process.returncode == 0


def test_a_log_gets_one_plain_line_per_image(cli) -> None:
    """stderr not a terminal (CI): one line per image saved, as chat-stream writes."""
    result = cli("generate", "a fox", "-n", "3", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["a-fox-1.png", "a-fox-2.png", "a-fox-3.png"]
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    found = [SAVED_LINE.match(line) for line in lines]
    assert all(found), lines
    assert sorted(m.group(1) for m in found if m) == ["1", "2", "3"]
    assert [m.group(2) for m in found if m] == result.stdout.splitlines()  # same order


def test_one_image_in_a_log_prints_no_progress(cli) -> None:
    """A single image in a script: the path on stdout and nothing on stderr."""
    result = cli("generate", "a fox", *SMALL)
    assert (result.stdout, result.stderr) == ("a-fox.png\n", "")


def test_quiet_and_json_keep_their_promises(cli) -> None:
    """--quiet prints no progress; --json stays one document at the end."""
    quiet = cli("generate", "a fox", "-n", "2", *SMALL, "--quiet")
    assert quiet.stderr == "" and len(quiet.stdout.splitlines()) == 2
    document = cli("generate", "an owl", "-n", "2", *SMALL, "--json")
    assert json.loads(document.stdout)["received"] == 2
    assert len(document.stderr.splitlines()) == 2  # the progress, on stderr


def test_edit_shows_the_same_progress(cli, tmp_path: Path) -> None:
    """edit -n 2: both paths on stdout, one plain progress line per image on stderr."""
    save(tmp_path / "otter.png", photo((64, 48)))
    result = cli("edit", "a scarf", "-i", "otter.png", "-n", "2", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert [line.split(":")[0] for line in sorted(result.stderr.splitlines())] == [
        "image 1 of 2", "image 2 of 2"]


def test_a_failed_image_is_its_own_line_among_the_others(make_cli) -> None:
    """One of three fails: two paths, two saved lines and one error line."""
    cli = make_cli(faults=["400"])
    result = cli("generate", "a fox", "-n", "3", "-c", "1", *SMALL)
    assert result.exit_code == ExitCode.PARTIAL
    assert len(result.stdout.splitlines()) == 2
    assert sum(line.startswith("error: image 1 of 3: HTTP 400") for line in
               result.stderr.splitlines()) == 1
    assert sum(line.startswith("image ") and ": saved " in line
               for line in result.stderr.splitlines()) == 2


def _terminal_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TERM_PROGRAM", "KITTY_WINDOW_ID", "LC_TERMINAL", "NO_COLOR")}
    return {**env, "TERM": "xterm-256color", "VIBEIMG_BASE_URL": url, "VIBEIMG_API_KEY": "k"}


def test_a_terminal_gets_a_live_count_and_each_path_once(tmp_path: Path) -> None:
    """On a terminal: the spinner counts the images saved, each path shows once."""
    with Emulator(EmulatorConfig(latency=0.4)) as emulator:
        code, shown = run_in_pty(vibeimg_argv("generate", "a fox", "-n", "3", "-c", "1",
                                              *SMALL), env=_terminal_env(emulator.base_url),
                                 cwd=tmp_path)
    text = _plain(shown)
    assert code == 0, text
    assert "1 of 3 saved" in text and "2 of 3 saved" in text
    for n in (1, 2, 3):
        assert text.count(f"a-fox-{n}.png") == 1, text
    assert "3 of 3 saved, estimated $0.018" in text


def test_paths_piped_away_from_a_terminal_stay_on_stdout(tmp_path: Path) -> None:
    """stderr on a terminal, stdout to a file: every path lands in the file (the live
    display must not catch them for the terminal)."""
    with Emulator(EmulatorConfig(latency=0.3)) as emulator:
        command = " ".join([*(f"'{word}'" for word in vibeimg_argv(
            "generate", "a fox", "-n", "2", *SMALL)), "> paths.txt"])
        code, shown = run_in_pty(["/bin/sh", "-c", command],
                                 env=_terminal_env(emulator.base_url), cwd=tmp_path)
    assert code == 0, shown
    assert sorted((tmp_path / "paths.txt").read_text().splitlines()) == [
        "a-fox-1.png", "a-fox-2.png"]
    assert "saved a-fox-1.png (1024x1024" in _plain(shown)  # the detail, on the terminal


def test_a_reader_gone_mid_run_stops_quietly(tmp_path: Path) -> None:
    """generate -n 3 | head -1: the run still ends as a closed pipe does, exit 141."""
    with Emulator(EmulatorConfig(latency=0.2)) as emulator:
        env = {**os.environ, "VIBEIMG_BASE_URL": emulator.base_url, "VIBEIMG_API_KEY": "k"}
        done = subprocess.run(
            ["/bin/sh", "-c", f"'{sys.executable}' -m vibeimg generate 'a fox' -n 3 -c 1 "
             "--size 1024x1024 --quality low | head -1; echo \"exit=${PIPESTATUS:-?}\""],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.splitlines()[0] == "a-fox-1.png"
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
