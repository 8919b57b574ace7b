"""batch, batch-merge and mask-convert documents: status, exit code and error, as generate's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pictures import bw_mask, save

from vibeimg.errors import ExitCode

LOW = ("--quality", "low")


def ending(document: dict) -> tuple[str, int, str | None]:
    return document["status"], document["exit_code"], document["error"]


def prompts(tmp_path: Path, count: int) -> str:
    (tmp_path / "p.txt").write_text("".join(f"scene {i}\n" for i in range(count)),
                                    encoding="utf-8")
    return "p.txt"


def test_a_batch_that_went_well(cli, tmp_path: Path) -> None:
    """Every item done: completed, exit code 0, no error."""
    result = cli("batch", prompts(tmp_path, 2), "-d", "out", *LOW)
    assert result.exit_code == 0, result.stderr
    assert ending(json.loads(result.stdout)) == ("completed", 0, None)


def test_a_batch_with_some_failures_is_partial(make_cli, tmp_path: Path) -> None:
    """One item of three refused: partial, exit code 7 in both, the stderr line."""
    cli = make_cli(faults=["400"])
    result = cli("batch", prompts(tmp_path, 3), "-d", "out", "-c", "1", *LOW)
    assert result.exit_code == ExitCode.PARTIAL
    summary = json.loads(result.stdout)
    assert summary["status"] == "partial" and summary["exit_code"] == ExitCode.PARTIAL
    assert summary["error"].startswith("2 of 3 items done, 1 failed")
    assert f"error: {summary['error']}" in result.stderr


def test_a_batch_where_all_failed(make_cli, tmp_path: Path) -> None:
    """Every item refused: failed, with the failure's own exit code."""
    cli = make_cli(faults=["400x2"])
    result = cli("batch", prompts(tmp_path, 2), "-d", "out", *LOW)
    assert result.exit_code == ExitCode.API
    status, code, error = ending(json.loads(result.stdout))
    assert (status, code) == ("failed", ExitCode.API)
    assert error is not None and "all 2 items failed" in error


def test_a_batch_stopped_by_a_refused_key_is_failed(make_cli, tmp_path: Path) -> None:
    """401: the batch stops; failed, exit code 3, the error says what was not sent."""
    cli = make_cli(api_key="sk-the-right-key-123456")
    result = cli("batch", prompts(tmp_path, 3), "-c", "1")
    assert result.exit_code == ExitCode.AUTH
    status, code, error = ending(json.loads(result.stdout))
    assert (status, code) == ("failed", ExitCode.AUTH)
    assert error is not None and error.startswith("HTTP 401: batch stopped, 2 items not sent")


def test_a_batch_with_nothing_left_to_send_is_completed(cli, tmp_path: Path) -> None:
    """A rerun that finds everything done: completed, exit code 0."""
    assert cli("batch", prompts(tmp_path, 1), "-d", "out", *LOW).exit_code == 0
    result = cli("batch", "p.txt", "-d", "out", *LOW)
    summary = json.loads(result.stdout)
    assert summary["skipped"] == 1 and ending(summary) == ("completed", 0, None)


def test_merge_documents(cli, tmp_path: Path) -> None:
    """batch-merge: completed with every shard, partial (exit 7) with one missing."""
    prompts(tmp_path, 4)
    for k in (1, 2):
        assert cli("batch", "p.txt", "--shard", f"{k}/2", "-d", f"s{k}", *LOW).exit_code == 0
    whole = cli("batch-merge", "s1", "s2", "-d", "all")
    assert whole.exit_code == 0, whole.stderr
    assert ending(json.loads(whole.stdout)) == ("completed", 0, None)
    half = cli("batch-merge", "s1", "-d", "half")
    assert half.exit_code == ExitCode.PARTIAL
    status, code, error = ending(json.loads(half.stdout))
    assert (status, code) == ("partial", ExitCode.PARTIAL)
    assert error is not None and "shard 2/2 missing" in error
    assert f"error: {error}" in half.stderr


@pytest.fixture
def masks(tmp_path: Path) -> list[str]:
    folder = tmp_path / "in"
    folder.mkdir()
    return [str(save(folder / f"m{i}.png", bw_mask())) for i in range(3)]


def test_mask_convert_that_went_well(cli, masks: list[str]) -> None:
    """Every mask converted: completed, exit code 0, no error."""
    result = cli("mask-convert", *masks, "--out-dir", "out", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["masks"]) == 3 and ending(document) == ("completed", 0, None)


def test_mask_convert_with_a_bad_file_is_partial(cli, masks: list[str]) -> None:
    """One unreadable mask of three: partial, exit code 7, the error line."""
    Path(masks[1]).write_bytes(b"not an image")
    result = cli("mask-convert", *masks, "--out-dir", "out", "--json")
    assert result.exit_code == ExitCode.PARTIAL
    document = json.loads(result.stdout)
    assert ending(document) == ("partial", ExitCode.PARTIAL, "2 of 3 masks converted, 1 failed")
    assert len(document["failures"]) == 1


def test_mask_convert_where_all_failed(cli, masks: list[str]) -> None:
    """Every mask unreadable: failed, with the failures' own exit code."""
    for name in masks:
        Path(name).write_bytes(b"not an image")
    result = cli("mask-convert", *masks, "--out-dir", "out", "--json")
    assert result.exit_code == ExitCode.USAGE
    status, code, error = ending(json.loads(result.stdout))
    assert (status, code) == ("failed", ExitCode.USAGE)
    assert error is not None and error.startswith("all 3 masks failed")
