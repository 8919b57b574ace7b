"""What reaches the gateway: a key or base URL that cannot go out as it is never does.

A key holding a line break, a control or a non-ASCII character is refused before
anything is sent (exit 2), naming where it came from and never showing it. A base URL
with a query string or fragment is refused the same way, and its query values are
masked wherever it is shown. Plain http to another machine is sent with a warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pictures import photo, save

from vibeimg.errors import UsageError
from vibeimg.settings.resolve import Settings, check_api_key, config_path, sends_in_clear
from vibeimg.wire.client import GatewayClient

SECRET = "sk-edge-secret-98765"
BAD_KEYS = {
    "line break": SECRET + "\r\n",
    "control character": SECRET[:6] + "\x1b" + SECRET[6:],
    "non-ASCII character": SECRET + "é",
    "space": "sk-edge secret-98765",
}


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and "edge-secret" not in text and "secret-98765" not in text


@pytest.mark.parametrize("problem", list(BAD_KEYS))
def test_a_bad_key_from_the_environment_is_refused_before_sending(cli, emulator,
                                                                  problem: str) -> None:
    """Exit 2, the variable named, the problem said, the key never shown, nothing sent."""
    result = cli("generate", "a fox", "--quality", "low", key=BAD_KEYS[problem])
    assert result.exit_code == 2, result.stderr
    assert f"the API key (from VIBEIMG_API_KEY) holds a {problem}" in result.stderr
    assert "nothing was sent" in result.stderr and "may have been billed" not in result.stderr
    _no_secret(result.stdout, result.stderr)
    assert emulator.requests == []


@pytest.mark.parametrize("command", [
    ("generate", "a fox"),
    ("edit", "a fox", "-i", "in.png"),
    ("chat-stream", "a fox"),
    ("batch", "p.txt", "-d", "out"),
])
def test_a_key_with_a_line_break_from_the_flag_is_refused_by_every_command(
        cli, emulator, tmp_path: Path, command: tuple[str, ...]) -> None:
    """--api-key with CR/LF: exit 2 naming --api-key, for every command that sends."""
    save(tmp_path / "in.png", photo())
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    result = cli(*command, "--api-key", SECRET + "\n", key=None)
    assert result.exit_code == 2, result.stderr
    assert "the API key (from --api-key) holds a line break" in result.stderr
    _no_secret(result.stdout, result.stderr)
    assert emulator.requests == []


def test_a_bad_openai_key_is_named_as_such(make_cli) -> None:
    """The fallback variable is the one named, not VIBEIMG_API_KEY."""
    cli = make_cli()
    result = cli("generate", "a fox", key=None, env={"OPENAI_API_KEY": SECRET + "\n"})
    assert result.exit_code == 2
    assert "(from OPENAI_API_KEY) holds a line break" in result.stderr
    _no_secret(result.stderr)
    assert cli.emulator.requests == []


def test_a_bad_key_in_the_config_file_is_refused_and_named(cli, emulator) -> None:
    """A key pasted into config.toml with a line break: the file is named, nothing sent."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'api_key = "{SECRET}\\n"\n', encoding="utf-8")
    result = cli("generate", "a fox", key=None)
    assert result.exit_code == 2
    assert str(config_path()) in result.stderr and "line break" in result.stderr
    _no_secret(result.stdout, result.stderr)
    assert emulator.requests == []
    listed = cli("config", "list", "--json", key=None)
    _no_secret(listed.stdout, listed.stderr)


def test_config_set_refuses_a_key_with_a_control_character(cli) -> None:
    """A key piped into 'config set' is checked before it is stored."""
    result = cli("config", "set", "api-key", input=SECRET[:5] + "\x07" + SECRET[5:] + "\n",
                 key=None)
    assert result.exit_code == 2 and "control character" in result.stderr
    assert not config_path().exists()


def test_the_python_api_refuses_a_bad_key_too() -> None:
    """A GatewayClient built from hand-made settings holds the key to the same rule."""
    with pytest.raises(UsageError, match="holds a line break"):
        GatewayClient(Settings(api_key=SECRET + "\n", base_url="http://127.0.0.1:9/v1"))
    assert check_api_key(SECRET) == SECRET


QUERY_SECRET = "sk-query-secret-4242"


@pytest.mark.parametrize(("suffix", "part"), [
    (f"?api_key={QUERY_SECRET}", "a query string"),
    (f"#{QUERY_SECRET}", "a fragment"),
])
def test_a_base_url_with_a_query_or_fragment_is_refused(cli, emulator, suffix: str,
                                                        part: str) -> None:
    """Exit 2 naming the flag; the secret-looking value never shown, not even with -v."""
    url = emulator.base_url + suffix
    result = cli("generate", "a fox", "--base-url", url, "-v")
    assert result.exit_code == 2
    assert f"(from --base-url) has {part}" in result.stderr
    assert QUERY_SECRET not in result.stdout + result.stderr
    assert emulator.requests == []


def test_a_base_url_query_from_the_environment_is_masked_everywhere(
        cli, emulator, isolated_user_dirs: Path) -> None:
    """config get, doctor and the error show 'api_key=***'; the history keeps nothing."""
    url = emulator.base_url + f"?api_key={QUERY_SECRET}"
    env = {"VIBEIMG_BASE_URL": url}
    generate = cli("generate", "a fox", env=env)
    assert generate.exit_code == 2
    assert "(from env VIBEIMG_BASE_URL) has a query string" in generate.stderr
    assert "?api_key=***" in generate.stderr
    doctor = cli("doctor", "--json", env=env)
    got = cli("config", "get", "base-url", env=env)
    for result in (generate, doctor, got):
        assert QUERY_SECRET not in result.stdout + result.stderr
    assert emulator.requests == []


@pytest.mark.parametrize(("url", "clear"), [
    ("http://example.com/v1", True),
    ("http://10.1.2.3:8080/v1", True),
    ("http://127.0.0.1:8080/v1", False),
    ("http://127.9.8.7/v1", False),
    ("http://[::1]:8080/v1", False),
    ("http://localhost:8080/v1", False),
    ("http://LOCALHOST/v1", False),
    ("https://example.com/v1", False),
])
def test_which_base_urls_send_the_key_in_clear(url: str, clear: bool) -> None:
    """Plain http crosses a network unless it stays on loopback."""
    assert sends_in_clear(url) is clear


def test_plain_http_to_another_machine_warns_once(cli) -> None:
    """One warning per run, even for several requests; the run goes ahead."""
    url = "http://vibeimg-test.invalid:9/v1"  # .invalid never resolves: fails at once
    result = cli("generate", "a fox", "-n", "3", "--retries", "0", "--base-url", url)
    assert result.exit_code == 6
    assert result.stderr.count("is plain http to another machine") == 1
    assert "warning: the base URL http://vibeimg-test.invalid:9/v1 (flag)" in result.stderr


def test_plain_http_on_loopback_is_silent(cli) -> None:
    """The emulator, a local proxy: no warning."""
    result = cli("generate", "a fox", "--quality", "low")
    assert result.exit_code == 0
    assert "plain http" not in result.stderr


def test_doctor_flags_plain_http_to_another_machine(cli) -> None:
    """A warn check with the fix; loopback and https pass."""
    url = "http://vibeimg-test.invalid:9/v1"
    result = cli("doctor", "--json", "--base-url", url)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["encryption"]["status"] == "warn"
    assert "https" in checks["encryption"]["fix"]
    local = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(local.stdout)["checks"]}
    assert checks["encryption"]["status"] == "ok"
