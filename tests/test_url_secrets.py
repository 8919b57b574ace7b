"""A base URL with user info (a key, perhaps) is refused, and never shown or stored whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vibeimg.settings.resolve import config_path, mask_url

SECRET = "sk-userinfo-secret-4242"
URL = f"http://user:{SECRET}@127.0.0.1:9/v1"  # nothing listens on port 9
SHOWN = "http://***@127.0.0.1:9/v1"


def _everything_written(*folders: Path) -> bytes:
    """Every byte of every file under these folders."""
    return b"".join(p.read_bytes() for folder in folders for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:sk-1234@example.com/v1", "http://***@example.com/v1"),
        ("https://sk-only@example.com:8443/v1?x=1", "https://***@example.com:8443/v1?x=***"),
        ("https://example.com/v1?api_key=sk-q&debug#token=t", "https://example.com/v1?api_key=***&***#***"),
        ("https://example.com/v1?sk-bare-key", "https://example.com/v1?***"),
        ("http://a:b@c@example.com/v1", "http://***@example.com/v1"),
        ("http://example.com/v1/at@sign", "http://example.com/v1/at@sign"),
        ("https://www.vibeapi.cn/v1", "https://www.vibeapi.cn/v1"),
        ("user:sk-1234@example.com/v1", "***@example.com/v1"),
    ],
)
def test_mask_url_hides_only_the_user_info(url: str, shown: str) -> None:
    """User info, query values and a fragment become ***; host, port, path and names stay."""
    assert mask_url(url) == shown


REFUSED = f"the base URL '{SHOWN}' (from --base-url) holds a user name or password"


@pytest.mark.parametrize("command", [
    ("generate", "a fox"),
    ("generate", "a fox", "--dry-run"),
    ("chat-stream", "a fox"),
    ("batch", "p.txt", "-d", "out"),
])
def test_user_info_in_the_base_url_is_refused_before_sending(
        cli, emulator, tmp_path: Path, isolated_user_dirs: Path, command: tuple[str, ...]) -> None:
    """httpx would send it as Basic auth instead of the key: refused, exit 2, masked."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    result = cli(*command, "--base-url", URL)
    assert result.exit_code == 2
    assert REFUSED in result.stderr and "--api-key or VIBEIMG_API_KEY" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert emulator.api_requests() == []
    assert SECRET.encode() not in _everything_written(isolated_user_dirs, tmp_path)


def test_the_environment_is_named_as_the_source(make_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error says where the URL came from, so the user knows what to fix."""
    monkeypatch.setenv("VIBEIMG_BASE_URL", URL)
    result = make_cli()("generate", "a fox", "--dry-run", connect=False)
    assert result.exit_code == 2
    assert f"'{SHOWN}' (from env VIBEIMG_BASE_URL) holds a user name" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_config_set_refuses_it_and_a_hand_edited_file_shows_masked(cli) -> None:
    """config set writes nothing; a URL typed into the file is masked in every view."""
    refused = cli("config", "set", "base-url", URL, connect=False)
    assert refused.exit_code == 2 and f"'{SHOWN}' holds a user name" in refused.stderr
    assert not config_path().exists()
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'base_url = "{URL}"\n', encoding="utf-8")
    got = cli("config", "get", "base-url", connect=False)
    assert got.stdout == SHOWN + "\n"
    listed = cli("config", "list", "--json", connect=False)
    [row] = [r for r in json.loads(listed.stdout)["settings"] if r["name"] == "base-url"]
    assert row["value"] == SHOWN
    generate = cli("generate", "a fox", connect=False)
    assert generate.exit_code == 2
    assert f"{config_path()} has an invalid base_url: the base URL '{SHOWN}' holds" in \
        generate.stderr
    doctor = cli("doctor", connect=False)
    outputs = [refused, got, listed, generate, doctor]
    assert not [r for r in outputs if SECRET in r.stdout + r.stderr]
