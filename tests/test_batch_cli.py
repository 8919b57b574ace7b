"""``vibeimg batch`` end to end against the emulator: validation, running, resuming."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from vibeimg.batch.manifest import file_sha256
from vibeimg.errors import ExitCode


def write_lines(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def prompts_sent(emulator) -> list[str]:
    return sorted(r.json()["prompt"] for r in emulator.api_requests()
                  if r.path == "/images/generations")


def test_jsonl_lines_override_the_command_line_defaults(cli, emulator, tmp_path: Path) -> None:
    """Each line's own options win over the flags; every image lands with its manifest line."""
    write_lines(tmp_path / "p.jsonl",
                {"prompt": "a red fox"},
                {"prompt": "a heron", "format": "jpeg", "compression": 40, "size": "1536x1024"},
                {"prompt": "a cat", "output": "cats/{slug}.{ext}", "quality": "medium"})
    result = cli("batch", "p.jsonl", "--quality", "low", "-d", "out")
    assert result.exit_code == 0, result.stderr
    sent = {r.json()["prompt"]: r.json() for r in emulator.api_requests()}
    assert sent["a red fox"]["quality"] == "low" and sent["a red fox"]["output_format"] == "png"
    assert sent["a heron"]["output_format"] == "jpeg" and sent["a heron"]["size"] == "1536x1024"
    assert sent["a heron"]["output_compression"] == 40
    assert sent["a cat"]["quality"] == "medium"
    out = tmp_path / "out"
    assert Image.open(out / "0001-a-red-fox.png").format == "PNG"
    assert Image.open(out / "0002-a-heron.jpg").size == (1536, 1024)
    assert (out / "cats" / "a-cat.png").is_file()
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["failed"], summary["items"]) == (3, 0, 3)
    for outcome in summary["outcomes"]:
        assert outcome["status"] == "done"
        assert file_sha256(tmp_path / outcome["path"]) == outcome["sha256"]


def test_plain_text_from_stdin(cli, emulator, tmp_path: Path) -> None:
    """'-' reads one prompt a line from stdin; blank lines are skipped."""
    result = cli("batch", "-", "-d", "shots", "--quality", "low",
                 input="a fox\n\n  a heron  \n")
    assert result.exit_code == 0, result.stderr
    assert prompts_sent(emulator) == ["a fox", "a heron"]
    assert sorted(p.name for p in (tmp_path / "shots").glob("*.png")) == [
        "0001-a-fox.png", "0003-a-heron.png"]


def test_n_makes_several_images_of_one_line(cli, emulator, tmp_path: Path) -> None:
    """A line's n sends n requests and saves n numbered files."""
    write_lines(tmp_path / "p.jsonl", {"prompt": "a fox", "n": 3})
    result = cli("batch", "p.jsonl", "-d", "out", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert len(emulator.api_requests()) == 3
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "0001-a-fox-1.png", "0001-a-fox-2.png", "0001-a-fox-3.png"]


def test_bad_lines_are_all_reported_and_nothing_is_sent(cli, emulator, tmp_path: Path) -> None:
    """Every bad line is named with its number and reason; no request goes out; exit 2."""
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"prompt": "fine"}\n'
        '{"prompt": "broken",\n'
        '{"prompt": "typo", "sise": "1024x1024"}\n'
        '{"prompt": "tiny", "size": "100x100"}\n'
        '{"prompt": "edit", "images": ["missing.png"]}\n'
        '{"size": "1024x1024"}\n'
        '["not", "an", "object"]\n', encoding="utf-8")
    result = cli("batch", "p.jsonl", "-d", "out")
    assert result.exit_code == ExitCode.USAGE
    assert emulator.api_requests() == []
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: p.jsonl:2: bad JSON")
    assert lines[1].startswith("error: p.jsonl:3: unknown field 'sise'") and "'size'" in lines[1]
    assert lines[2].startswith("error: p.jsonl:4: invalid size '100x100'")
    assert lines[3].startswith("error: p.jsonl:5: cannot read images file")
    assert lines[4].startswith("error: p.jsonl:6: no prompt")
    assert lines[5].startswith("error: p.jsonl:7: expected a JSON object")
    assert lines[6] == ("error: 6 bad lines in p.jsonl; nothing was sent (fix them and rerun; "
                        "--dry-run checks a file without sending)")
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_line_errors_speak_of_fields_not_flags(cli, emulator, tmp_path: Path) -> None:
    """A line's fix names its fields ("format": "jpeg"), never command-line flags."""
    write_lines(tmp_path / "p.jsonl", {"prompt": "  "}, {"prompt": "a", "compression": 50},
                {"prompt": "a", "bogus": 1})
    result = cli("batch", "p.jsonl", "-d", "out")
    assert result.exit_code == ExitCode.USAGE
    lines = result.stderr.splitlines()
    assert lines[0] == 'error: p.jsonl:1: the prompt is empty (write it in "prompt": "...")'
    assert lines[1].endswith('(drop "compression" or add "format": "jpeg")')
    assert "(or format, compression, image)" in lines[2]
    assert "--" not in "".join(lines[:3]) and "--prompt-file" not in result.stderr
    assert emulator.api_requests() == []


def test_dry_run_prints_the_plan_and_cost(cli, emulator, tmp_path: Path) -> None:
    """--dry-run shows each item's request and the estimated total, and sends nothing."""
    write_lines(tmp_path / "p.jsonl", {"prompt": "a fox", "quality": "low", "n": 2},
                {"prompt": "a heron", "quality": "high", "size": "1536x1024"})
    result = cli("batch", "p.jsonl", "--dry-run")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["dry_run"] is True and plan["to_send"] == 3
    assert plan["estimated_cost_usd"] == round(0.006 * 2 + 0.165, 4)
    assert [i["prompt"] for i in plan["items"]] == ["a fox", "a fox", "a heron"]
    assert plan["items"][2]["endpoint"] == "images/generations"
    assert plan["items"][2]["size"] == "1536x1024"
    assert "sk-test" not in result.stdout
    assert emulator.api_requests() == []


def test_max_cost_refuses_an_expensive_batch(cli, emulator, tmp_path: Path) -> None:
    """--max-cost below the estimate refuses to start: exit 2, no request."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    result = cli("batch", "p.txt", "--quality", "high", "--max-cost", "0.3")
    assert result.exit_code == ExitCode.USAGE
    assert "estimated at $0.422" in result.stderr and "--max-cost $0.300" in result.stderr
    assert emulator.api_requests() == []
    assert cli("batch", "p.txt", "--quality", "low", "--max-cost", "0.3").exit_code == 0


def test_injected_failures_give_partial_success_then_rerun_sends_only_those(
        make_cli, tmp_path: Path) -> None:
    """Two items are refused (400: certainly not billed): the rest are saved, exit 7; the
    rerun sends just the two."""
    cli = make_cli(faults=["400x2"])
    prompts = [f"picture number {i}" for i in range(6)]
    (tmp_path / "p.txt").write_text("\n".join(prompts) + "\n", encoding="utf-8")
    first = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "3")
    assert first.exit_code == ExitCode.PARTIAL
    summary = json.loads(first.stdout)
    assert (summary["done"], summary["failed"]) == (4, 2)
    failed = sorted(o["prompt"] for o in summary["outcomes"] if o["status"] == "failed")
    for outcome in summary["outcomes"]:
        if outcome["status"] == "failed":
            assert "HTTP 400" in outcome["error"] and outcome["request_id"].startswith("req_")
            assert outcome["exit_code"] == ExitCode.API
            assert outcome["possible_cost_usd"] == 0
    assert "4 of 6 items done, 2 failed" in first.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 4
    before = len(cli.emulator.api_requests())

    second = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "3")
    assert second.exit_code == 0, second.stderr
    again = cli.emulator.api_requests()[before:]
    assert sorted(r.json()["prompt"] for r in again) == failed
    summary = json.loads(second.stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (2, 4, 0)
    assert len(list((tmp_path / "out").glob("*.png"))) == 6

    third = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--api-key", "", env={})
    assert third.exit_code == 0, third.stderr
    assert len(cli.emulator.api_requests()) == before + 2  # all done: nothing sent at all


def test_a_changed_option_is_new_work(cli, emulator, tmp_path: Path) -> None:
    """The key follows the options: the same prompt at another quality is made again."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    assert len(emulator.api_requests()) == 1
    assert cli("batch", "p.txt", "-d", "out", "--quality", "medium").exit_code == 0
    assert len(emulator.api_requests()) == 2


def test_a_deleted_image_is_made_again(cli, emulator, tmp_path: Path) -> None:
    """An item whose recorded file is gone is not done: the rerun makes it again."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    (tmp_path / "out" / "0002-a-heron.png").unlink()
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low")
    assert result.exit_code == 0
    assert prompts_sent(emulator) == ["a fox", "a heron", "a heron"]
    assert (tmp_path / "out" / "0002-a-heron.png").is_file()


def forget_items(out: Path, *prompts: str) -> None:
    """Drop these items' manifest lines, as if the run had been killed before writing
    them (their intent lines, written before their requests went out, stay)."""
    manifest = out / "vibeimg-manifest.jsonl"
    kept = [line for line in manifest.read_text(encoding="utf-8").splitlines()
            if json.loads(line).get("prompt") not in prompts]
    manifest.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def test_a_run_killed_while_saving_is_finished_without_paying_twice(
        cli, emulator, tmp_path: Path) -> None:
    """Killed with the sidecar written and the image still pending: the rerun moves the
    image into place and records it, its request unanswered in the manifest or not; with
    no pending image, the stale sidecar goes, the item is of unknown outcome (it was sent
    and maybe billed), and --retry-unknown remakes it under its own name."""
    (tmp_path / "p.txt").write_text("a fox\na heron\na cat\n", encoding="utf-8")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    out = tmp_path / "out"
    heron = (out / "0002-a-heron.png").read_bytes()
    (out / "0002-a-heron.png").rename(out / ".vibeimg-0002-a-heron.png.part")
    (out / "0003-a-cat.png").unlink()
    forget_items(out, "a heron", "a cat")

    result = cli("batch", "p.txt", "-d", "out", "--quality", "low")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    assert prompts_sent(emulator) == ["a cat", "a fox", "a heron"]  # nothing sent again
    assert "line 3: outcome unknown in an earlier run" in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["skipped"], summary["unknown"], summary["done"]) == (2, 1, 0)
    assert (out / "0002-a-heron.png").read_bytes() == heron
    assert not (out / "0003-a-cat.json").exists()  # the stale sidecar is gone

    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--retry-unknown")
    assert result.exit_code == 0, result.stderr
    assert prompts_sent(emulator) == ["a cat", "a cat", "a fox", "a heron"]
    assert sorted(p.name for p in out.iterdir() if p.name != "vibeimg-manifest.jsonl") == [
        ".vibeimg-batch.lock", "0001-a-fox.json", "0001-a-fox.png", "0002-a-heron.json",
        "0002-a-heron.png", "0003-a-cat.json", "0003-a-cat.png"]
    summary = json.loads(result.stdout)
    assert (summary["skipped"], summary["done"]) == (2, 1)
    again = cli("batch", "p.txt", "-d", "out", "--quality", "low")
    assert json.loads(again.stdout)["skipped"] == 3  # the recovered heron is now on record
    assert len(emulator.api_requests()) == 4


def test_shards_cover_every_item_exactly_once(cli, emulator, tmp_path: Path) -> None:
    """Shards 1/3, 2/3 and 3/3 send disjoint sets whose union is the whole file."""
    prompts = [f"scene {i}" for i in range(12)]
    (tmp_path / "p.txt").write_text("\n".join(prompts) + "\n", encoding="utf-8")
    seen: list[str] = []
    for k in (1, 2, 3):
        before = len(emulator.api_requests())
        result = cli("batch", "p.txt", "--shard", f"{k}/3", "-d", f"shard-{k}",
                     "--quality", "low")
        assert result.exit_code == 0, result.stderr
        sent = [r.json()["prompt"] for r in emulator.api_requests()[before:]]
        summary = json.loads(result.stdout)
        assert summary["shard"] == f"{k}/3" and summary["items"] == len(sent)
        assert (tmp_path / f"shard-{k}" / f"vibeimg-manifest-{k}of3.jsonl").is_file()
        seen.extend(sent)
    assert sorted(seen) == sorted(prompts)


def test_bad_shard_is_refused(cli, emulator, tmp_path: Path) -> None:
    """--shard must be K/N with 1 <= K <= N."""
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    for shard in ("0/3", "4/3", "two", "1/0"):
        result = cli("batch", "p.txt", "--shard", shard)
        assert result.exit_code == ExitCode.USAGE and "invalid shard" in result.stderr
    assert "the number of shards, must be at least 1" in result.stderr  # not "K <= N"
    beyond = cli("batch", "p.txt", "--shard", "4/3")
    assert "the shards of 3 runners are 1/3 to 3/3" in beyond.stderr
    assert emulator.api_requests() == []


def test_a_429_storm_slows_the_batch_down_and_it_still_completes(
        make_cli, tmp_path: Path) -> None:
    """Ten 429s in a row: concurrency drops, every item is still saved, exit 0."""
    cli = make_cli(faults=["429x10"])
    prompts = [f"storm {i}" for i in range(8)]
    (tmp_path / "p.txt").write_text("\n".join(prompts) + "\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "4", "--retries", "1")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["done"] == 8
    assert summary["concurrency"]["busy_refusals"] >= 1
    assert summary["concurrency"]["lowest"] < 4
    statuses = [r.status for r in cli.emulator.api_requests()]
    assert statuses.count(429) == 10 and statuses.count(200) == 8
    assert len(list((tmp_path / "out").glob("*.png"))) == 8


def test_retries_0_means_one_try_per_item(make_cli, tmp_path: Path) -> None:
    """--retries 0: a 429 fails its item at once; the batch does not send it again."""
    cli = make_cli(faults=["429"])
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "-c", "1",
                 "--retries", "0")
    assert result.exit_code == ExitCode.PARTIAL
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["failed"]) == (1, 1)
    statuses = [r.status for r in cli.emulator.api_requests()]
    assert statuses == [429, 200]


def test_a_refused_key_stops_the_batch(make_cli, tmp_path: Path) -> None:
    """401 on the first item: the rest are not sent (they would all be refused); exit 3."""
    cli = make_cli(api_key="sk-the-right-key-123456")
    (tmp_path / "p.txt").write_text("".join(f"p {i}\n" for i in range(10)), encoding="utf-8")
    result = cli("batch", "p.txt", "-c", "1")
    assert result.exit_code == ExitCode.AUTH
    assert len(cli.emulator.api_requests()) == 1
    assert json.loads(result.stdout)["not_run"] == 9


def test_no_key_is_said_alone_before_the_plan_or_the_manifest(cli, tmp_path: Path) -> None:
    """No key: exit 2 with the one line that says how to set one; no plan line, no
    manifest left in the folder, nothing sent. A rerun with nothing to send needs none."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    result = cli("batch", "p.txt", "-d", "out", key=None)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("error: no API key is set"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists() and cli.emulator.requests == []
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    rerun = cli("batch", "p.txt", "-d", "out", "--quality", "low", key=None)
    assert rerun.exit_code == 0, rerun.stderr


def test_ci_logs_get_plain_progress_lines(make_cli, tmp_path: Path) -> None:
    """Off a terminal: a start line, periodic progress lines and a closing summary line."""
    cli = make_cli(latency=0.2)
    (tmp_path / "p.txt").write_text("".join(f"p {i}\n" for i in range(6)), encoding="utf-8")
    result = cli("batch", "p.txt", "-c", "2", "--quality", "low", "--progress-every", "0.1")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "batch: 6 to send (0 already done), concurrency 2, estimated $0.036"
    progress = [line for line in lines if " sent: " in line]
    assert progress and all("in flight" in line and "ETA" in line and "spent" in line
                            for line in progress)
    assert lines[-1].startswith("batch: 6 done, 0 already done, 0 failed, 0 not run in ")
    assert "\x1b[" not in result.stderr  # no terminal codes in a log

    quiet = cli("batch", "p.txt", "-c", "2", "--quality", "low", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""
