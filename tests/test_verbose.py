"""--verbose traces requests on stderr, never the key or the image data; startup stays light."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

from conftest import TEST_KEY


def test_verbose_traces_each_request_and_response(cli, emulator, tmp_path: Path) -> None:
    """Method, URL, status, timing, sizes and request id go to stderr; stdout stays clean."""
    result = cli("generate", "a fox", "--size", "1024x1024", "--quality", "low", "-v")
    assert result.exit_code == 0
    assert result.stdout == "a-fox.png\n"
    request_id = emulator.api_requests()[0].request_id
    assert re.search(rf"-> POST {re.escape(emulator.base_url)}/images/generations \(\d+ bytes\)",
                     result.stderr)
    assert re.search(r"<- 200 after [\d.]+ s, application/json, [\d.]+ kB "
                     rf"\[request id {request_id}\]", result.stderr)
    assert re.search(rf"received [\d.]+ kB in [\d.]+ s \[request id {request_id}\]",
                     result.stderr)


def test_verbose_never_shows_the_key_or_base64(cli, tmp_path: Path) -> None:
    """Traces hold neither the key nor any of the image's base64."""
    result = cli("generate", "a fox", "--size", "1024x1024", "--quality", "low", "-v",
                 "--no-sidecar")
    png = (tmp_path / "a-fox.png").read_bytes()
    encoded = base64.b64encode(png).decode()
    assert TEST_KEY not in result.stderr and TEST_KEY[-12:] not in result.stderr
    assert encoded[:40] not in result.stderr and encoded[1000:1040] not in result.stderr
    assert "iVBORw0KGgo" not in result.stderr  # the base64 start of every PNG


def test_retries_are_traced(cli, emulator) -> None:
    """A 429 and its retry appear in the trace."""
    emulator.add_fault("429")
    result = cli("generate", "a fox", "--size", "1024x1024", "--quality", "low", "-v")
    assert result.exit_code == 0
    assert "<- 429" in result.stderr and "retry 1/3" in result.stderr


def test_cli_import_loads_no_heavy_modules() -> None:
    """Importing the CLI (what --help needs) loads no sqlite, Pillow, httpx or emulator."""
    heavy = ["sqlite3", "PIL", "httpx", "vibeimg.emulator", "vibeimg.records.history",
             "vibeimg.preview", "vibeimg.wire.client"]
    code = ("import sys, vibeimg.cli.app; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
