"""chat-stream saves item.result when the gateway sends it, else the last partial image.

The emulator sends each image as the gateway does (whole, as the partial image) and as
OpenAI does (``item.result`` of ``response.output_item.done``); the ``no-result`` fault
leaves the latter out. Either way the image on disk is the one the emulator drew,
saved once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vibeimg.emulator.contract import Size
from vibeimg.emulator.placeholder import placeholder
from vibeimg.errors import ExitCode

FAST = ("--size", "1024x1024", "--quality", "low")


def drawn(subject: str, label: str = "1/1") -> bytes:
    """The bytes the emulator draws for one image of ``subject`` (1024x1024 PNG)."""
    return placeholder(subject, Size(1024, 1024), "png", None, label=label)


def vibeimg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".vibeimg-")]


@pytest.fixture
def mock_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start ``vibeimg mock-server`` with some arguments; its base URL."""
    servers: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        server = subprocess.Popen([sys.executable, "-m", "vibeimg", "mock-server", *args],
                                  cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        servers.append(server)
        assert server.stdout is not None
        return server.stdout.readline().strip()

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


def test_offline_saves_the_image_once(tmp_path: Path) -> None:
    """chat-stream --offline (partial image and item.result) saves the drawn bytes once."""
    result = vibeimg("chat-stream", "a heron", *FAST, "--offline", "--no-sidecar", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a-heron.png\n"
    assert (tmp_path / "a-heron.png").read_bytes() == drawn("a heron")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-heron.png"]


def test_without_item_result_the_partial_image_is_saved(tmp_path: Path, mock_server) -> None:
    """mock-server --fault no-result: the image comes from the partial image event."""
    url = mock_server("--fault", "no-result")
    result = vibeimg("chat-stream", "a heron", *FAST, "--base-url", url, "--api-key", "k",
                     "--no-sidecar", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a-heron.png").read_bytes() == drawn("a heron")
    assert leftovers(tmp_path) == []


def test_item_result_wins_over_previews(cli, emulator, tmp_path: Path) -> None:
    """With --partial-images the previews differ from the image: item.result is saved."""
    result = cli("chat-stream", "a heron", *FAST, "--partial-images", "2", "--no-sidecar")
    assert result.exit_code == 0, result.stderr
    saved = (tmp_path / "a-heron.png").read_bytes()
    assert saved == drawn("a heron")
    assert saved != drawn("a heron", "preview 2")
    assert leftovers(tmp_path) == []


def test_without_item_result_the_last_preview_is_saved(cli, emulator, tmp_path: Path) -> None:
    """Previews but no item.result (no-result fault): the last preview is what is saved."""
    emulator.add_fault("no-result")
    result = cli("chat-stream", "a heron", *FAST, "--partial-images", "2", "--no-sidecar")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "a-heron.png").read_bytes() == drawn("a heron", "preview 2")


def test_without_any_image_data_the_call_fails(cli, emulator, tmp_path: Path) -> None:
    """partial_images 0 and no item.result: nothing to save, the run says so and fails."""
    emulator.add_fault("no-result")
    result = cli("chat-stream", "a heron", *FAST, "--partial-images", "0")
    assert result.exit_code == ExitCode.SERVER, result.stderr
    assert "without image data" in result.stderr
    assert leftovers(tmp_path) == [] and not (tmp_path / "a-heron.png").exists()


def test_three_images_each_saved_once(cli, emulator, tmp_path: Path) -> None:
    """Three image calls, each sent twice on the wire: three files, each the drawn bytes."""
    three = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"
    result = cli("chat-stream", three, *FAST, "--no-sidecar")
    assert result.exit_code == 0, result.stderr
    names = result.stdout.split()
    subjects = ["a red circle", "a blue square", "a green triangle"]
    for index, (name, subject) in enumerate(zip(names, subjects, strict=True), start=1):
        assert (tmp_path / name).read_bytes() == drawn(subject, f"{index}/3")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
