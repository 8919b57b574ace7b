"""Shared fixtures: an isolated user folder, a live emulator, and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vibeimg.cli.app import app
from vibeimg.emulator import Emulator, EmulatorConfig

TEST_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own VIBEIMG_HOME and no keys or URLs from the environment."""
    home = tmp_path_factory.mktemp("vibeimg-home")
    monkeypatch.setenv("VIBEIMG_HOME", str(home))
    for name in ("VIBEIMG_API_KEY", "OPENAI_API_KEY", "VIBEIMG_BASE_URL", "OPENAI_BASE_URL",
                 "VIBEIMG_TIMEOUT", "VIBEIMG_RETRIES", "NO_COLOR", "VIBEIMG_DEBUG",
                 "VIBEIMG_MODEL", "VIBEIMG_SIZE", "VIBEIMG_QUALITY", "VIBEIMG_FORMAT",
                 "VIBEIMG_MODERATION", "VIBEIMG_OUT_DIR", "VIBEIMG_HISTORY",
                 "VIBEIMG_ASCII_NAMES"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator on a free loopback port."""
    with Emulator(EmulatorConfig(retry_after=0.05)) as emu:
        yield emu


@pytest.fixture
def make_cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """Build a CLI runner against a fresh emulator with the given EmulatorConfig fields."""
    started: list[Emulator] = []

    def build(**config: Any) -> Cli:
        config.setdefault("retry_after", 0.05)
        emu = Emulator(EmulatorConfig(**config)).start()
        started.append(emu)
        return Cli(emu, tmp_path)

    yield build
    for emu in started:
        emu.stop()


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes


class Cli:
    """Runs vibeimg in-process against the test emulator, as a user's shell would."""

    def __init__(self, emulator: Emulator, cwd: Path) -> None:
        self.emulator = emulator
        self.cwd = cwd

    def __call__(self, *args: str, input: str | bytes | None = None, key: str | None = TEST_KEY,
                 env: dict[str, str] | None = None, connect: bool = True) -> Result:
        argv = list(args)
        full_env = dict(env or {})
        if connect:
            full_env.setdefault("VIBEIMG_BASE_URL", self.emulator.base_url)
        if key is not None:
            full_env.setdefault("VIBEIMG_API_KEY", key)
        runner = CliRunner()
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(self.cwd)
            result = runner.invoke(app, argv, input=input, env=full_env, prog_name="vibeimg")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        # The key never appears in any output of any command.
        for secret in (s for s in (TEST_KEY, key) if s and len(s) >= 12):
            assert secret.encode() not in result.stdout_bytes + result.stderr_bytes, argv
        return Result(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)


@pytest.fixture
def cli(emulator: Emulator, tmp_path: Path) -> Cli:
    """Invoke the CLI in tmp_path, pointed at the emulator with a test key."""
    return Cli(emulator, tmp_path)
