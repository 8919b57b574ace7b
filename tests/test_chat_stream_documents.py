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


def test_an_explicit_count_wins_over_the_prompt(cli) -> None:
    """-n 2 with a prompt asking for 3: two asked for, two counted, a notice says so."""
    result = cli("chat-stream", THREE, *FAST, "-n", "2", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["prompt_sent"].startswith("Generate 2 different images")
    assert document["requested"] == 2 and document["received"] == 2
    assert document["missing"] == [] and document["status"] == "completed"
    assert "-n 2 wins over the 3 images the prompt asks for" in result.stderr
    assert "arrived" not in result.stderr


def test_an_explicit_count_of_one_is_sent_too(cli) -> None:
    """-n 1 with a prompt asking for 3: the prompt sent asks for one, and one arrives."""
    result = cli("chat-stream", THREE, *FAST, "-n", "1", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["prompt_sent"].startswith("Generate 1 image")
    assert (document["requested"], document["received"]) == (1, 1)


def test_the_prompt_count_is_capped_at_the_limit(cli) -> None:
    """"Generate 11 images": ten asked for and counted, with a notice naming the limit."""
    result = cli("chat-stream", "Generate 11 images: a fox", *FAST, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["prompt_sent"].startswith("Generate 10 different images")
    assert document["requested"] == 10 and document["received"] == 10
    assert document["missing"] == []
    assert "asks for 11 images, but one response holds at most 10" in result.stderr


def test_a_refused_request_names_the_missing_image(make_cli) -> None:
    """A 400 before any stream: the image asked for is listed as missing, not started."""
    cli = make_cli(faults=["400"])
    result = cli("chat-stream", THREE, *FAST, "--json")
    assert result.exit_code == ExitCode.API
    document = json.loads(result.stdout)
    assert (document["requested"], document["received"]) == (3, 0)
    assert document["missing"] == [{"index": n, "item_id": None, "phase": "not-started"}
                                   for n in (1, 2, 3)]


def test_received_plus_missing_is_requested(make_cli) -> None:
    """A stream cut during the third image: received and missing add up to requested."""
    cli = make_cli(faults=["stream-cut"])
    result = cli("chat-stream", THREE, *FAST, "--json")
    document = json.loads(result.stdout)
    assert document["received"] + len(document["missing"]) == document["requested"] == 3
