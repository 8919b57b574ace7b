"""A key in the base URL's user info never shows: errors, traces, dry runs, history, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vibeimg.config import config_path, mask_url

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
        ("https://sk-only@example.com:8443/v1?x=1", "https://***@example.com:8443/v1?x=1"),
        ("http://a:b@c@example.com/v1", "http://***@example.com/v1"),
        ("http://example.com/v1/at@sign", "http://example.com/v1/at@sign"),
        ("https://www.vibeapi.cn/v1", "https://www.vibeapi.cn/v1"),
        ("user:sk-1234@example.com/v1", "***@example.com/v1"),
    ],
)
def test_mask_url_hides_only_the_user_info(url: str, shown: str) -> None:
    """User name and password become ***; host, port, path and query stay."""
    assert mask_url(url) == shown


def test_connection_error_trace_and_history_hide_the_user_info(
        cli, tmp_path: Path, isolated_user_dirs: Path) -> None:
    """A refused connection: masked in the error, the --verbose trace and the history."""
    result = cli("generate", "a fox", "--base-url", URL, "--retries", "0", "-v", "--json")
    assert result.exit_code == 6
    assert f"cannot connect to {SHOWN} (ConnectError" in result.stderr
    assert f"-> POST {SHOWN}/images/generations" in result.stderr
    listing = cli("history", "--json")
    shown = cli("history", "show", "1")
    assert SHOWN in json.loads(listing.stdout)["runs"][0]["error"]
    outputs = [result, listing, shown]
    assert not [r for r in outputs if SECRET in r.stdout + r.stderr]
    assert SECRET.encode() not in _everything_written(isolated_user_dirs, tmp_path)


def test_dry_runs_show_the_masked_url(cli, tmp_path: Path) -> None:
    """--dry-run of generate and batch print the request URL without the user info."""
    single = cli("generate", "a fox", "--base-url", URL, "--dry-run")
    assert single.exit_code == 0
    assert json.loads(single.stdout)["request"]["url"] == f"{SHOWN}/images/generations"
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    batch = cli("batch", "p.txt", "--base-url", URL, "--dry-run")
    assert batch.exit_code == 0
    assert json.loads(batch.stdout)["base_url"] == SHOWN
    assert SECRET not in single.stdout + single.stderr + batch.stdout + batch.stderr


def test_failed_batch_leaves_no_user_info_in_its_files(
        cli, tmp_path: Path, isolated_user_dirs: Path) -> None:
    """A batch that cannot connect: summary, manifest, report and history are masked."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", "--report", "out/report.html",
                 "--base-url", URL, "--retries", "0")
    assert result.exit_code == 6
    assert SHOWN in json.loads(result.stdout)["outcomes"][0]["error"]
    assert SECRET not in result.stdout + result.stderr
    assert (tmp_path / "out" / "report.html").exists()
    assert SECRET.encode() not in _everything_written(isolated_user_dirs, tmp_path)


def test_settings_views_mask_the_user_info(cli) -> None:
    """config set/get/list and doctor show the URL masked; the file keeps it whole."""
    cli("config", "set", "base-url", URL)
    assert URL in config_path().read_text(encoding="utf-8")  # what is sent stays intact
    got = cli("config", "get", "base-url", connect=False)
    assert got.stdout == SHOWN + "\n"
    listed = cli("config", "list", "--json", connect=False)
    [row] = [r for r in json.loads(listed.stdout)["settings"] if r["name"] == "base-url"]
    assert row["value"] == SHOWN
    doctor = cli("doctor", connect=False)
    assert doctor.exit_code == 6 and f"{SHOWN} does not answer" in doctor.stdout
    doctor_json = cli("doctor", "--json", connect=False)
    outputs = [got, listed, doctor, doctor_json]
    assert not [r for r in outputs if SECRET in r.stdout + r.stderr]
