"""chat-stream --json: the status agrees with the exit code, and the counts with the request."""

from __future__ import annotations

import json

import pytest

from vibeimg.errors import ExitCode

THREE = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"
FAST = ("--size", "1024x1024", "--quality", "low")


@pytest.mark.parametrize("fault", ["bad-base64", "not-image"])
def test_one_bad_image_is_a_failed_run(make_cli, fault) -> None:
    """The only image is unusable: status failed, exit code 5 in both, no image listed."""
    cli = make_cli(faults=[fault])
    result = cli("chat-stream", "a fox", *FAST, "--json")
    assert result.exit_code == ExitCode.SERVER, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and document["exit_code"] == ExitCode.SERVER
    assert document["received"] == 0 and document["images"] == []
    assert [m["phase"] for m in document["missing"]] == ["failed"]
    assert f"error: {document['error']}" in result.stderr


def test_a_bad_image_among_good_ones_is_a_partial_run(make_cli) -> None:
    """The last of three is unusable: status partial with the partial exit code."""
    cli = make_cli(faults=["bad-base64"])
    result = cli("chat-stream", THREE, *FAST, "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "partial" and document["exit_code"] == ExitCode.PARTIAL
    assert document["received"] == 2 and len(document["missing"]) == 1


@pytest.mark.parametrize(
    ("faults", "args"),
    [([], ("a fox",)), (["bad-base64"], ("a fox",)), (["bad-base64"], (THREE,)),
     (["stream-cut"], (THREE,)), (["stream-failed"], ("a fox",)), (["400"], ("a fox",))],
)
def test_completed_means_exit_code_zero(make_cli, faults, args) -> None:
    """Whatever the ending, status completed goes with exit code 0 and nothing else does."""
    cli = make_cli(faults=faults)
    result = cli("chat-stream", *args, *FAST, "--json")
    document = json.loads(result.stdout)
    assert document["exit_code"] == result.exit_code
    assert (document["status"] == "completed") == (result.exit_code == 0)
    assert (document["error"] is None) == (result.exit_code == 0)
