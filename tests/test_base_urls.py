"""A base URL whose host or port cannot be used is refused where it is read: one line
naming where it came from, exit 2, no warning before it and nothing sent."""

from __future__ import annotations

import pytest

from vibeimg.errors import ExitCode
from vibeimg.settings.resolve import config_path
from vibeimg.settings.urls import host_problem

BAD = {
    "http://127.0.0.1:abc/v1": "its port 'abc' is not a number from 1 to 65535",
    "http://[::1": "its host is not a valid address",
    "http://[zz]/v1": "its host is not a valid address",
    "http://": "its host is missing",
    "http:///v1": "its host is missing",
    "http://:8080/v1": "its host is missing",
    "http://gateway.test:99999/v1": "its port '99999' is not a number from 1 to 65535",
    "http://[::1]x/v1": "its port 'x' is not a number",
    "http://exa mple.test/v1": "holds characters no host name has",
    "http://a..b/v1": "has an empty part",
    "http://xn--/v1": "has a malformed 'xn--' part",
}


@pytest.mark.parametrize(("url", "problem"), BAD.items())
def test_a_bad_host_or_port_is_refused_before_any_warning(cli, emulator, url: str,
                                                          problem: str) -> None:
    """--base-url with a bad host or port: one line naming the flag, exit 2, nothing sent."""
    result = cli("generate", "a fox", "--base-url", url)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith(f"error: invalid base URL '{url}' (from --base-url): its ")
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1 and "plain http" not in result.stderr
    assert "(use an http(s) URL such as https://www.vibeapi.cn/v1)" in result.stderr
    assert emulator.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/v1", "http://[::1", "http://"])
def test_doctor_and_the_config_file_name_the_source(cli, url: str) -> None:
    """From the environment (doctor) or the config file: the source is named, exit 2,
    no internal error."""
    doctor = cli("doctor", env={"VIBEIMG_BASE_URL": url})
    assert doctor.exit_code == ExitCode.USAGE
    assert f"invalid base URL '{url}' (from env VIBEIMG_BASE_URL): " in doctor.stdout
    assert "internal error" not in doctor.stdout + doctor.stderr
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'base_url = "{url}"\n', encoding="utf-8")
    refused = cli("generate", "a fox", connect=False)
    assert refused.exit_code == ExitCode.USAGE
    assert f"{config_path()} has an invalid base_url: invalid base URL '{url}'" in \
        refused.stderr
    assert cli("config", "set", "base-url", url, connect=False).exit_code == ExitCode.USAGE


def test_usable_hosts_still_pass(cli) -> None:
    """IPv6 with a port, international names, a trailing dot, an empty port all pass."""
    for url in ("http://[::1]:8080/v1", "https://例子.测试/v1", "http://localhost./v1",
                "http://gateway.test:/v1", "https://www.vibeapi.cn/v1", "http://127.0.0.1:9"):
        assert host_problem(url) is None, url
    assert cli("generate", "a fox", "--dry-run", "--base-url", "http://[::1]:8080/v1"
               ).exit_code == 0
