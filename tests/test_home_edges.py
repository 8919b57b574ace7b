"""Where vibeimg's own files live, when that place is wrong: a VIBEIMG_HOME that is a
file, relative or cannot be made, a config file that is a folder or a link to nothing,
and a base URL that cannot be reached, each named as the thing to fix."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
from conftest import Cli

from vibeimg.emulator import Emulator
from vibeimg.errors import ExitCode

OFFLINE = ("generate", "a fox", "--offline", "--size", "1024x1024", "--quality", "low")


def _one_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_home_that_is_a_file_names_vibeimg_home(cli: Cli, tmp_path: Path) -> None:
    """VIBEIMG_HOME=a file: one line naming the variable as the fix, not permissions."""
    home = tmp_path / "a-file"
    home.write_text("not a folder")
    result = cli(*OFFLINE, env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == ExitCode.USAGE
    line = _one_error(result.stderr)
    assert f"VIBEIMG_HOME={home} is not a folder" in line
    assert "set VIBEIMG_HOME to a folder" in line and "permissions" not in line
    assert list(tmp_path.glob("*.png")) == []


def test_a_home_under_a_file_names_the_file(cli: Cli, tmp_path: Path) -> None:
    """VIBEIMG_HOME=FILE/sub: the variable, and the file in the way."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = cli(*OFFLINE, env={"VIBEIMG_HOME": str(blocker / "sub")})
    assert result.exit_code == ExitCode.USAGE
    line = _one_error(result.stderr)
    assert f"VIBEIMG_HOME={blocker / 'sub'} cannot be a folder: {blocker} is not a folder" \
        in line


def test_a_config_file_that_is_a_folder_says_so(cli: Cli, tmp_path: Path) -> None:
    """config.toml as a folder: 'is a folder', remove or rename it; nothing is sent."""
    home = tmp_path / "home"
    (home / "config.toml").mkdir(parents=True)
    result = cli(*OFFLINE, env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == ExitCode.USAGE
    line = _one_error(result.stderr)
    assert f"the config file {home / 'config.toml'} is a folder" in line
    assert "remove or rename" in line and "permissions" not in line


def test_a_relative_home_is_refused(cli: Cli, tmp_path: Path) -> None:
    """VIBEIMG_HOME=relative/dir is refused with the absolute form to use; nothing made."""
    for args in (OFFLINE, ("history",), ("config", "set", "size", "square")):
        result = cli(*args, env={"VIBEIMG_HOME": "relative/dir"})
        assert result.exit_code == ExitCode.USAGE, args
        line = _one_error(result.stderr)
        assert "VIBEIMG_HOME=relative/dir is a relative path" in line
        assert 'VIBEIMG_HOME="$PWD/relative/dir"' in line
    assert not (tmp_path / "relative").exists()
    assert list(tmp_path.glob("*.png")) == []


def test_history_in_a_home_under_a_file_is_an_error(cli: Cli, tmp_path: Path) -> None:
    """history (list, search, cost, sessions) in a home that cannot be is exit 2, not empty."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for args in (("history",), ("history", "search", "fox"), ("history", "cost"),
                 ("history", "sessions")):
        result = cli(*args, env={"VIBEIMG_HOME": str(blocker / "home")})
        assert result.exit_code == ExitCode.USAGE, args
        assert "VIBEIMG_HOME=" in _one_error(result.stderr)
        assert "is empty" not in result.stderr and result.stdout == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_history_in_a_home_that_cannot_be_made_is_an_error(cli: Cli) -> None:
    """VIBEIMG_HOME=/proc/...: history says the home cannot be created, exit 2."""
    result = cli("history", env={"VIBEIMG_HOME": "/proc/vibeimg-no-such-home"})
    assert result.exit_code == ExitCode.USAGE
    line = _one_error(result.stderr)
    assert "VIBEIMG_HOME=/proc/vibeimg-no-such-home cannot be created" in line


def test_history_in_a_fresh_home_is_empty(cli: Cli, tmp_path: Path) -> None:
    """A home that does not exist yet but can: the history is empty, exit 0."""
    home = tmp_path / "fresh" / "home"
    result = cli("history", env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == 0 and "the history is empty" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_a_run_in_a_home_that_cannot_be_made_warns_naming_it(cli: Cli,
                                                              tmp_path: Path) -> None:
    """The image is saved; the history's warning names VIBEIMG_HOME, not 'move it aside'."""
    result = cli(*OFFLINE, env={"VIBEIMG_HOME": "/proc/vibeimg-no-such-home"})
    assert result.exit_code == 0
    assert len(list(tmp_path.glob("*.png"))) == 1
    warning = next(line for line in result.stderr.splitlines() if "history" in line)
    assert "VIBEIMG_HOME=/proc/vibeimg-no-such-home cannot be created" in warning
    assert "move it aside" not in warning


def test_a_dangling_config_link_is_refused(cli: Cli, tmp_path: Path) -> None:
    """config.toml -> nowhere: one line naming the link and its target; nothing sent."""
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "dotfiles" / "vibeimg.toml"
    (home / "config.toml").symlink_to(target)
    result = cli("generate", "a fox", env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == ExitCode.USAGE
    line = _one_error(result.stderr)
    assert f"the config file {home / 'config.toml'} is a symbolic link to {target}, which " \
        "does not exist" in line
    assert f"restore {target}" in line
    assert cli.emulator.api_requests() == []
    assert list(tmp_path.glob("*.png")) == []


def test_doctor_lists_a_dangling_config_link(cli: Cli, tmp_path: Path) -> None:
    """doctor: the config file check fails, naming the link, with the fix."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").symlink_to(tmp_path / "gone.toml")
    result = cli("doctor", "--offline", env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == ExitCode.USAGE
    row = next(line for line in result.stdout.splitlines() if "config file" in line)
    assert row.startswith("FAIL") and "symbolic link" in row and "gone.toml" in row
    assert f"fix: restore {tmp_path / 'gone.toml'}" in result.stdout


def test_doctor_names_a_home_that_is_a_file(cli: Cli, tmp_path: Path) -> None:
    """doctor: a VIBEIMG_HOME check fails in place of the files it would hold."""
    home = tmp_path / "a-file"
    home.write_text("x")
    result = cli("doctor", "--offline", env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == ExitCode.USAGE
    row = next(line for line in result.stdout.splitlines() if line.startswith("FAIL"))
    assert "VIBEIMG_HOME" in row and "is not a folder" in row
    assert "Traceback" not in result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("variables", "named", "not_named"), [
    ({"OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "{url}"}, "OPENAI_BASE_URL", "--base-url"),
    ({"VIBEIMG_API_KEY": "sk-o", "VIBEIMG_BASE_URL": "{url}"}, "VIBEIMG_BASE_URL",
     "--base-url"),
])
def test_an_unreachable_base_url_names_its_source(
    tmp_path: Path, emulator: Emulator, variables: dict[str, str], named: str, not_named: str,
) -> None:
    """A refused connection's fix names where the base URL came from."""
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    env = {name: value.format(url=url) for name, value in variables.items()}
    result = Cli(emulator, tmp_path)("generate", "a fox", "--retries", "0", key=None,
                                     connect=False, env=env)
    assert result.exit_code == ExitCode.NETWORK
    line = _one_error(result.stderr)
    assert named in line and not_named not in line and "--offline" in line


def test_an_unreachable_base_url_from_the_config_file(tmp_path: Path, emulator: Emulator) -> None:
    """A base URL from the config file: the fix points at the file."""
    cli = Cli(emulator, tmp_path)
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    assert cli("config", "set", "base-url", url, connect=False).exit_code == 0
    result = cli("generate", "a fox", "--retries", "0", connect=False)
    assert result.exit_code == ExitCode.NETWORK
    line = _one_error(result.stderr)
    assert "config file" in line and "--base-url" not in line
    assert os.environ["VIBEIMG_HOME"] in line
