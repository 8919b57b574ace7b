"""run_chat_stream as a library call (what a batch uses), its listener, and the live view."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from vibeimg.cli.chat_progress import LiveProgress
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.errors import ExitCode, Interrupted
from vibeimg.files.naming import NamePlan
from vibeimg.jobs.chat.request import ChatStreamRequest
from vibeimg.jobs.chat.result import ImageCall, ProgressListener, StreamedImage
from vibeimg.jobs.chat.run import run_chat_stream
from vibeimg.settings.resolve import load_settings
from vibeimg.ui import Reporter
from vibeimg.wire.client import GatewayClient

THREE = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"


def client_for(emulator: Emulator) -> GatewayClient:
    settings = load_settings(api_key="k", base_url=emulator.base_url, environ={}, file={})
    return GatewayClient(settings)


def request(prompt: str = THREE) -> ChatStreamRequest:
    return ChatStreamRequest.build(prompt, size="1024x1024", quality="low")


class Recorder(ProgressListener):
    def __init__(self) -> None:
        self.phases: list[tuple[int, str]] = []
        self.images: list[StreamedImage] = []
        self.comments = 0

    def call_changed(self, call: ImageCall) -> None:
        self.phases.append((call.index, call.phase))

    def saved(self, image: StreamedImage) -> None:
        self.images.append(image)

    def comment(self, count: int) -> None:
        self.comments += count


def test_library_call_reports_phases_and_returns_the_result(tmp_path: Path) -> None:
    """Without the CLI: phases in order per call, each image saved, usage in the result."""
    listener = Recorder()
    with Emulator(EmulatorConfig(latency=0.05, keepalive_interval=0.02)) as emu, \
            client_for(emu) as client:
        result = run_chat_stream(client, request(), plan=NamePlan.build(
            None, tmp_path, count=3), listener=listener, slug="shapes")
    assert result.error is None and result.status == "completed"
    assert [p for i, p in listener.phases if i == 2] == [
        "queued", "in_progress", "generating", "receiving", "saved"]
    assert [i.path.name for i in listener.images] == ["shapes-1.png", "shapes-2.png",
                                                     "shapes-3.png"]
    assert listener.comments >= 3 and result.keepalives >= 6
    assert result.usage and result.image_usage and result.response_id
    assert result.as_json()["received"] == 3


def test_files_are_named_after_the_prompt_by_default(tmp_path: Path) -> None:
    """Without a slug, files take the words after "Generate 2 images of"."""
    with Emulator() as emu, client_for(emu) as client:
        result = run_chat_stream(client, request("Generate 2 images of a red fox"),
                                 plan=NamePlan.build(None, tmp_path, count=2), sidecar=False)
    assert [i.path.name for i in result.images] == ["a-red-fox-1.png", "a-red-fox-2.png"]


def test_interrupt_keeps_the_saved_images(tmp_path: Path) -> None:
    """Ctrl-C after the first image: it stays, nothing half-written, status interrupted."""

    class StopAfterFirst(ProgressListener):
        def saved(self, image: StreamedImage) -> None:
            raise KeyboardInterrupt

    with Emulator() as emu, client_for(emu) as client:
        result = run_chat_stream(client, request(), plan=NamePlan.build(None, tmp_path, count=3),
                                 listener=StopAfterFirst(), slug="shapes")
    assert isinstance(result.error, Interrupted) and result.status == "interrupted"
    assert result.error.exit_code == ExitCode.INTERRUPTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes-1.json", "shapes-1.png"]


def test_live_view_renders_phases_and_heartbeat(tmp_path: Path) -> None:
    """The Rich view shows each call's phase, the keepalives and a line per saved image."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    chat = request("a red fox")
    with Emulator(EmulatorConfig(latency=0.05, keepalive_interval=0.02)) as emu, \
            client_for(emu) as client, \
            LiveProgress(Reporter(stream=out), chat, console=console) as live:
        run_chat_stream(client, chat, plan=NamePlan.build(None, tmp_path, count=1),
                        listener=live, slug="fox")
    text = out.getvalue()
    assert f"saved {tmp_path / 'fox.png'} (1024x1024" in text and "A red fox, rendered as" in text
    assert "gpt-5.5 → gpt-image-2" in text and "keepalives, last" in text
    assert "image 1" in text and "saved" in text


def test_live_view_rows_for_each_phase() -> None:
    """One row per call with its phase words and the bytes being received."""
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    view = LiveProgress(Reporter(stream=out), request(), console=console)
    view.call_changed(ImageCall(index=1, item_id="ig_one", started=time.monotonic(),
                                phase="generating"))
    view.call_changed(ImageCall(index=2, item_id="ig_two", started=time.monotonic(),
                                phase="receiving", receiving_bytes=3_200_000))
    view.comment(2)
    console.print(view)
    text = out.getvalue()
    assert "image 1  ig_one  generating" in text
    assert "image 2  ig_two  receiving" in text and "3.2 MB" in text
    assert "2 keepalives" in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_in_a_real_process(tmp_path: Path) -> None:
    """SIGINT twice during the second image (the second abandons the stream): exit 130,
    the first image kept and printed."""
    with Emulator(EmulatorConfig(latency=1.0, keepalive_interval=0.1)) as emu:
        env = {**os.environ, "VIBEIMG_BASE_URL": emu.base_url, "VIBEIMG_API_KEY": "k"}
        process = subprocess.Popen(
            [sys.executable, "-m", "vibeimg", "chat-stream", THREE, "--size", "1024x1024",
             "--quality", "low", "-o", "shape.png"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (tmp_path / "shape-1.json").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert stdout == "shape-1.png\n"
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shape-1.json", "shape-1.png"]
