"""The emulator's server: its identifying header, its listen queue, its request log,
``mock-server``'s warning off loopback, and the shape of the package itself."""

from __future__ import annotations

import ast
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from vibeimg.cli.mock_server import exposure_warning
from vibeimg.emulator import Emulator, EmulatorConfig
from vibeimg.version import __version__

EMULATOR = Path(__file__).resolve().parents[1] / "vibeimg" / "emulator"
KEY = {"Authorization": "Bearer k"}


def generate(emulator: Emulator, prompt: str, **extra: object) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/images/generations", headers=KEY, timeout=30,
                      json={"model": "gpt-image-2", "prompt": prompt, **extra})


# -- x-vibeimg-emulator --------------------------------------------------------------
def test_every_answer_names_the_emulator(emulator: Emulator) -> None:
    """200s, refusals, 401s, 404s, injected faults and streams all carry the header."""
    emulator.add_fault("503")
    answers = [
        generate(emulator, "a fox"),  # the 503
        generate(emulator, "a fox"),
        generate(emulator, ""),
        httpx.get(f"{emulator.base_url}/models", timeout=30),
        httpx.get(f"{emulator.base_url}/nowhere", headers=KEY, timeout=30),
        httpx.post(f"{emulator.base_url}/responses", headers=KEY, timeout=30, json={
            "model": "gpt-5.5", "instructions": "Draw.", "stream": True,
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "a fox"}]}],
            "tools": [{"type": "image_generation"}]}),
    ]
    assert [a.status_code for a in answers] == [503, 200, 400, 401, 404, 200]
    assert {a.headers["x-vibeimg-emulator"] for a in answers} == {__version__}


# -- the listen queue ------------------------------------------------------------------
def test_listen_queue_holds_a_burst_of_connections() -> None:
    """100 connections opened at once while no thread accepts them all complete (the
    standard library's queue of 5 left the rest waiting for a SYN retry, or failing)."""
    emulator = Emulator()  # bound and listening, but not accepting: nothing is served
    host, port = emulator.base_url.split("//")[1].split("/")[0].split(":")
    sockets: list[socket.socket] = []
    selector = selectors.DefaultSelector()
    try:
        for _ in range(100):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex((host, int(port)))
            sockets.append(sock)
            selector.register(sock, selectors.EVENT_WRITE)
        connected: set[socket.socket] = set()
        # Loopback handshakes take microseconds; a dropped SYN is only retried after 1 s
        # and dropped again, as nothing accepts: 2 s tells the two apart on a busy machine.
        deadline = time.monotonic() + 2.0
        while len(connected) < len(sockets) and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected.add(sock)
                selector.unregister(sock)
        assert len(connected) == 100
    finally:
        selector.close()
        for sock in sockets:
            sock.close()
        emulator.stop()


def test_every_request_of_a_concurrent_burst_arrives() -> None:
    """1,000 requests from 32 threads against latency 0.05: every one is answered 200."""
    body = {"model": "gpt-image-2", "prompt": "a fox", "quality": "low"}
    with Emulator(EmulatorConfig(latency=0.05)) as emu, httpx.Client(
            limits=httpx.Limits(max_connections=32), timeout=30) as client:

        def one(_: int) -> int:
            url = f"{emu.base_url}/images/generations"
            return client.post(url, headers=KEY, json=body).status_code

        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(one, range(1000)))
        assert statuses == [200] * 1000
        assert len(emu.requests) == 1000


# -- the request log -------------------------------------------------------------------
def read_log(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_request_log_holds_one_line_per_request(tmp_path: Path) -> None:
    """Each request is one JSON line: what it asked, how it was answered, the bytes."""
    log = tmp_path / "requests.jsonl"
    with Emulator(EmulatorConfig(log_file=log, faults=["429"], retry_after=0)) as emu:
        first = generate(emu, "a fox", size="1536x1024", quality="low")
        second = generate(emu, "a fox", size="1536x1024", quality="low")
        generate(emu, "a heron", size="12x12")
        httpx.post(f"{emu.base_url}/images/edits", headers=KEY, timeout=30,
                   data={"model": "gpt-image-2", "prompt": "add a hat"},
                   files=[("image[]", ("a.png", b"not a png", "image/png"))] * 2)
        lines = read_log(log)  # written as each answer went, not when the emulator stops
    assert [(x["method"], x["path"], x["status"], x["fault"]) for x in lines] == [
        ("POST", "/images/generations", 429, "429"),
        ("POST", "/images/generations", 200, None),
        ("POST", "/images/generations", 400, None),
        ("POST", "/images/edits", 400, None),
    ]
    assert [x["request_id"] for x in lines[:2]] == [first.headers["x-request-id"],
                                                    second.headers["x-request-id"]]
    assert [(x["prompt"], x["model"], x["size"], x["quality"], x["input_images"])
            for x in lines] == [
        ("a fox", "gpt-image-2", "1536x1024", "low", 0),
        ("a fox", "gpt-image-2", "1536x1024", "low", 0),
        ("a heron", "gpt-image-2", "12x12", None, 0),
        ("add a hat", "gpt-image-2", None, None, 2),
    ]
    assert lines[1]["bytes_sent"] == len(second.content)
    assert all(isinstance(x["bytes_received"], int) and x["bytes_received"] > 0 for x in lines)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(x["time"]))
               for x in lines)


def test_a_server_on_its_own_keeps_no_request_in_memory(tmp_path: Path) -> None:
    """keep_requests=False (mock-server): the log file has every request,
    the process's memory none, so a long-running emulator does not grow per upload."""
    log = tmp_path / "requests.jsonl"
    with Emulator(EmulatorConfig(log_file=log, keep_requests=False)) as emu:
        generate(emu, "a fox", size="1024x1024", quality="low")
        generate(emu, "a heron", size="1024x1024", quality="low")
        assert emu.requests == []
    assert [x["prompt"] for x in read_log(log)] == ["a fox", "a heron"]


def test_request_log_of_a_conversation(tmp_path: Path) -> None:
    """A /responses line names this turn's prompt, the text model and the images in it."""
    log = tmp_path / "requests.jsonl"
    image = "data:image/png;base64," + (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    with Emulator(EmulatorConfig(log_file=log)) as emu:
        answer = httpx.post(f"{emu.base_url}/responses", headers=KEY, timeout=30, json={
            "model": "gpt-5.5", "instructions": "Draw.", "stream": True,
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "a fox"}]},
                {"role": "user", "content": [{"type": "input_text", "text": "now in snow"},
                                             {"type": "input_image", "image_url": image}]}],
            "tools": [{"type": "image_generation", "size": "1024x1024", "quality": "low"}]})
    (line,) = read_log(log)
    assert (line["prompt"], line["model"], line["size"], line["quality"],
            line["input_images"]) == ("now in snow", "gpt-5.5", "1024x1024", "low", 1)
    assert line["status"] == 200 and line["bytes_sent"] == len(answer.content)


@pytest.fixture
def mock_server(tmp_path: Path) -> Iterator[object]:
    """Start ``vibeimg mock-server ARGS``; returns the process (stdout and stderr piped)."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        server = subprocess.Popen([sys.executable, "-m", "vibeimg", "mock-server", *args],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        started.append(server)
        return server

    yield start
    for server in started:
        server.terminate()
        server.wait(timeout=10)


def test_mock_server_log_proves_nothing_was_billed_twice(tmp_path: Path, mock_server) -> None:
    """mock-server --log: a generate retried after a 503 shows as one 503 and one 200."""
    server = mock_server("--log", "requests.jsonl", "--fault", "503", "--retry-after", "0")
    url = server.stdout.readline().strip()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "vibeimg", "generate", "a fox", "--base-url", url, "--api-key",
         "k", "--no-history"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = read_log(tmp_path / "requests.jsonl")
    assert [(x["prompt"], x["status"], x["fault"]) for x in lines] == [
        ("a fox", 503, "503"), ("a fox", 200, None)]
    billed = [x for x in lines if x["status"] == 200 and x["method"] == "POST"]
    assert len(billed) == len({x["prompt"] for x in billed})


def test_mock_server_refuses_a_log_it_cannot_write(tmp_path: Path, mock_server) -> None:
    """A --log in a missing folder: exit 2 and one line naming the file."""
    server = mock_server("--log", str(tmp_path / "missing" / "log.jsonl"))
    assert server.wait(timeout=30) == 2
    assert "cannot write the request log" in server.stderr.read()


@pytest.mark.parametrize("option", ["--latency", "--retry-after"])
@pytest.mark.parametrize("value", ["inf", "nan", "-1", "1e308"])
def test_mock_server_refuses_knobs_it_cannot_keep(tmp_path: Path, mock_server, option: str,
                                                  value: str) -> None:
    """--latency inf (every answer a 500 before) or nan: exit 2, one line naming the option."""
    server = mock_server(option, value)
    assert server.wait(timeout=30) == 2
    assert server.stdout.read() == ""
    stderr = server.stderr.read()
    assert stderr.startswith(f"error: Invalid value for '{option}': ")
    assert stderr.count("\n") == 1


# -- listening beyond loopback ---------------------------------------------------------
def test_mock_server_warns_when_it_listens_on_the_network(mock_server) -> None:
    """--host 0.0.0.0 prints a warning on stderr that any key is accepted from the network."""
    server = mock_server("--host", "0.0.0.0")
    url = server.stdout.readline().strip()
    assert url.startswith("http://0.0.0.0:")
    server.terminate()
    server.wait(timeout=10)
    stderr = server.stderr.read()
    assert stderr.startswith("warning: the emulator listens on 0.0.0.0: it accepts any API key")
    assert "network" in stderr


@pytest.mark.parametrize(("host", "key", "expected"), [
    ("127.0.0.1", None, None), ("127.0.0.2", None, None), ("::1", None, None),
    ("localhost", None, None), ("0.0.0.0", None, "any API key"), ("::", None, "any API key"),
    ("192.168.1.20", None, "any API key"), ("myhost.example", None, "any API key"),
    ("0.0.0.0", "sk-local", "the key given with --api-key"),
])
def test_exposure_warning(host: str, key: str | None, expected: str | None) -> None:
    """Loopback is quiet; any other address warns, naming which keys it accepts."""
    warning = exposure_warning(host, key)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning and "network" in warning
        assert (key or "sk-") not in warning.replace("--api-key", "")


# -- the package's shape ---------------------------------------------------------------
def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", sorted(EMULATOR.glob("*.py")), ids=lambda p: p.name)
def test_emulator_imports_nothing_from_the_client(module: Path) -> None:
    """The emulator judges on its own: no vibeimg module outside vibeimg.emulator (but the
    version module) is imported, so no client rule can leak into its answers."""
    outside = {name for name in imports_of(module)
               if name.startswith("vibeimg") and not name.startswith("vibeimg.emulator")
               and name != "vibeimg.version"}
    assert outside == set()


@pytest.mark.parametrize("module", sorted(EMULATOR.glob("*.py")), ids=lambda p: p.name)
def test_emulator_imports_run_one_way(module: Path) -> None:
    """Only the package's __init__ imports the server: endpoints import routing, never back."""
    if module.name not in ("__init__.py", "server.py"):
        assert "vibeimg.emulator.server" not in imports_of(module)
    assert len(module.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize("module", sorted(EMULATOR.glob("*.py")), ids=lambda p: p.name)
def test_every_noqa_says_why(module: Path) -> None:
    """Each ``# noqa`` or ``# type: ignore`` in the emulator names its rule and a reason."""
    for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), start=1):
        for marker in ("# noqa", "# type: ignore"):
            if marker in line:
                rest = line.split(marker, 1)[1]
                assert re.match(r"(:\s*[A-Z]+\d+|\[[\w-]+\])[^-]*\s-\s\S", rest), (
                    f"{module.name}:{number} gives no reason: {line.strip()}")
