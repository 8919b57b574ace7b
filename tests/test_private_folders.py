"""The folders vibeimg creates for its config and data are private; existing ones are kept."""

from __future__ import annotations

import stat
from pathlib import Path

from conftest import TEST_KEY


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_creates_home_and_data_folders_0700(cli, tmp_path: Path) -> None:
    """A fresh VIBEIMG_HOME (and a missing parent) is made 0700; doctor has nothing to say."""
    home = tmp_path / "fresh" / "vibeimg-home"
    env = {"VIBEIMG_HOME": str(home)}
    result = cli("generate", "a fox", "--quality", "low", "--offline", env=env)
    assert result.exit_code == 0, result.stderr
    assert (home / "data" / "history.sqlite3").is_file()
    assert [_mode(p) for p in (tmp_path / "fresh", home, home / "data")] == [0o700] * 3
    doctor = cli("doctor", "--offline", env=env)
    assert doctor.exit_code == 0, doctor.stdout
    assert "WARN" not in doctor.stdout


def test_config_set_on_a_fresh_home_is_private(cli, tmp_path: Path) -> None:
    """'config set' in a VIBEIMG_HOME that does not exist yet creates it 0700."""
    home = tmp_path / "new-home"
    result = cli("config", "set", "api-key", input=f"{TEST_KEY}\n",
                 env={"VIBEIMG_HOME": str(home)})
    assert result.exit_code == 0, result.stderr
    assert _mode(home) == 0o700 and _mode(home / "config.toml") == 0o600


def test_existing_folders_keep_their_mode(cli, tmp_path: Path) -> None:
    """A VIBEIMG_HOME that already exists open keeps its mode: doctor warns, nothing chmods."""
    home = tmp_path / "shared-home"
    home.mkdir()
    home.chmod(0o755)
    env = {"VIBEIMG_HOME": str(home)}
    result = cli("generate", "a fox", "--quality", "low", "--offline", env=env)
    assert result.exit_code == 0, result.stderr
    assert _mode(home) == 0o755 and _mode(home / "data") == 0o700
    doctor = cli("doctor", "--offline", env=env)
    assert f"WARN  config folder  {home} is readable by others (0755)" in doctor.stdout
