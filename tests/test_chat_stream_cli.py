"""``vibeimg chat-stream`` end to end against the emulator over loopback."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vibeimg.emulator.textmodel import revise
from vibeimg.errors import ExitCode
from vibeimg.records import history
from vibeimg.records.history import database_path
from vibeimg.settings.resolve import config_path

THREE = "Generate 3 different images: 1) a red circle 2) a blue square 3) a green triangle"
FAST = ("--size", "1024x1024", "--quality", "low")


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def sent(emulator) -> dict[str, Any]:
    (request,) = emulator.api_requests()
    return request.json()


def png_file(path: Path, size: tuple[int, int] = (64, 64), fmt: str = "PNG") -> Path:
    Image.new("RGB", size, "teal").save(path, fmt)
    return path


def test_one_image_saved_with_its_sidecar(cli, emulator, tmp_path: Path) -> None:
    """One prompt: one PNG, its path alone on stdout, a sidecar with the revised prompt."""
    result = cli("chat-stream", "a cat hugging an otter", *FAST)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-cat-hugging-an-otter.png\n"
    assert Image.open(tmp_path / "a-cat-hugging-an-otter.png").size == (1024, 1024)
    body = sent(emulator)
    assert body["stream"] is True and body["model"] == "gpt-5.5"
    assert body["instructions"].startswith("You are a helpful image generation assistant.")
    assert body["input"] == [{"role": "user", "content": [
        {"type": "input_text", "text": "a cat hugging an otter"}]}]
    assert body["tools"] == [{"type": "image_generation", "size": "1024x1024",
                              "quality": "low", "output_format": "png", "moderation": "auto"}]
    assert "n" not in body and "previous_response_id" not in body
    record = json.loads((tmp_path / "a-cat-hugging-an-otter.json").read_text())
    assert record["prompt"] == "a cat hugging an otter"
    assert record["revised_prompt"] == revise("a cat hugging an otter")
    assert record["instructions"] == body["instructions"]
    assert record["tool"] == body["tools"][0]
    assert record["item_id"].startswith("ig_") and record["size"] == "1024x1024"
    assert record["quality"] == "low" and record["format"] == "png"
    assert record["usage"]["total_tokens"] > 0 and record["image_usage"]["output_tokens"] == 200
    assert record["request_id"] == emulator.requests[0].request_id
    assert set(record["timings"]) >= {"first_byte_seconds", "generation_seconds",
                                      "saved_after_seconds", "response_seconds"}
    assert record["estimated_cost_usd"] == 0.006


def test_three_images_from_one_prompt(cli, tmp_path: Path) -> None:
    """Three image calls: three files numbered 1-3, each with its own revised prompt."""
    result = cli("chat-stream", THREE, *FAST)
    assert result.exit_code == 0, result.stderr
    names = result.stdout.split()
    assert names == ["a-red-circle-1.png", "a-blue-square-2.png", "a-green-triangle-3.png"]
    revised = [json.loads((tmp_path / n).with_suffix(".json").read_text())["revised_prompt"]
               for n in names]
    assert revised == [revise("a red circle"), revise("a blue square"),
                       revise("a green triangle")]
    assert "3 of 3 images saved" in result.stderr


def test_count_asks_in_the_prompt(cli, emulator, tmp_path: Path) -> None:
    """-n 3 asks the model for three images in words (no n field) and saves three."""
    result = cli("chat-stream", "a lighthouse", "-n", "3", *FAST, "--json")
    assert result.exit_code == 0, result.stderr
    body = sent(emulator)
    assert "n" not in body
    assert body["input"][0]["content"][0]["text"].startswith("Generate 3 different images")
    document = json.loads(result.stdout)
    assert document["requested"] == 3 and document["received"] == 3
    assert [Path(i["path"]).name for i in document["images"]] == [
        "a-lighthouse-1.png", "a-lighthouse-2.png", "a-lighthouse-3.png"]
    assert all(i["revised_prompt"] for i in document["images"])
    assert document["usage"]["total_tokens"] > 0
    assert document["image_usage"]["output_tokens"] == 600
    assert document["estimated_cost_usd"] == 0.018


def test_input_images_sent_as_data_uris(cli, emulator, tmp_path: Path) -> None:
    """Each -i image travels as a data URI with its real media type and exact bytes."""
    first = png_file(tmp_path / "one.png")
    second = png_file(tmp_path / "two.jpg", fmt="JPEG")
    result = cli("chat-stream", "make these watercolors", "-i", str(first), "-i", str(second),
                 "--action", "edit", *FAST)
    assert result.exit_code == 0, result.stderr
    content = sent(emulator)["input"][0]["content"]
    uris = [item["image_url"] for item in content if item["type"] == "input_image"]
    assert uris[0].startswith("data:image/png;base64,")
    assert uris[1].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uris[1].split(",", 1)[1]) == second.read_bytes()
    assert sent(emulator)["tools"][0]["action"] == "edit"


def test_result_of_done_item_wins_over_previews(cli, tmp_path: Path) -> None:
    """With --partial-images the saved image is item.result, not a preview."""
    events = tmp_path / "events.sse"
    result = cli("chat-stream", "a fox", "--partial-images", "2", *FAST, "--events",
                 str(events), "-o", "fox.png")
    assert result.exit_code == 0, result.stderr
    raw = events.read_text()
    done = next(json.loads(line[6:]) for line in raw.splitlines()
                if line.startswith("data: ") and '"response.output_item.done"' in line)
    assert (tmp_path / "fox.png").read_bytes() == base64.b64decode(done["item"]["result"])
    assert raw.count('"response.image_generation_call.partial_image"') == 2


def test_events_file_records_the_raw_stream(make_cli, tmp_path: Path) -> None:
    """--events keeps the raw bytes: keepalive comments and the base64 payload included."""
    cli = make_cli(latency=0.05, keepalive_interval=0.02)
    result = cli("chat-stream", "a fox", *FAST, "--events", "events.sse", "-o", "fox.png")
    assert result.exit_code == 0, result.stderr
    raw = (tmp_path / "events.sse").read_text()
    assert ": keepalive\n\n" in raw and "event: keepalive\n" in raw
    partial = next(json.loads(line[6:]) for line in raw.splitlines()
                   if '"response.image_generation_call.partial_image"' in line
                   and line.startswith("data: "))
    assert base64.b64decode(partial["partial_image_b64"]) == (tmp_path / "fox.png").read_bytes()
    again = cli("chat-stream", "a fox", *FAST, "--events", "events.sse")
    assert again.exit_code == ExitCode.USAGE and "already exists" in again.stderr


def test_events_force_replaces_a_link_and_leaves_its_target(cli, emulator,
                                                            tmp_path: Path) -> None:
    """--events LINK --force replaces the link with the events file; its target is untouched."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("keep me\n", encoding="utf-8")
    (tmp_path / "events.sse").symlink_to(outside)
    result = cli("chat-stream", "a fox", *FAST, "--events", "events.sse", "--force")
    assert result.exit_code == 0, result.stderr
    assert outside.read_text(encoding="utf-8") == "keep me\n"
    events = tmp_path / "events.sse"
    assert not events.is_symlink()
    assert events.read_text().startswith("event: response.created\n")


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_events_fifo_is_refused_at_once(tmp_path: Path, force: list[str]) -> None:
    """--events FIFO (with or without --force) is exit 2 at once, nothing sent: no hang."""
    os.mkfifo(tmp_path / "events.sse")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "vibeimg", "chat-stream", "a fox", "--offline", "--events",
         "events.sse", *force], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=30, check=False)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("error: the events file events.sse ")
    assert len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.sse"]


def test_plain_progress_lines_for_logs(make_cli) -> None:
    """Not a terminal: one line per phase, the saved path and revised prompt, a summary."""
    cli = make_cli(latency=0.05, keepalive_interval=0.02)
    result = cli("chat-stream", "a fox", *FAST)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("streaming from gpt-5.5, 1 image asked for [request id req_")
    assert lines[1].startswith("image 1 (ig_") and lines[1].endswith("): queued")
    assert lines[2:5] == ["image 1: in progress", "image 1: generating", "image 1: receiving"]
    assert lines[5].startswith("image 1: saved a-fox.png (1024x1024, ")
    assert lines[5].endswith(revise("a fox"))
    assert lines[6].startswith("1 of 1 image saved in ")
    assert "text model" in lines[6] and "estimated $0.006" in lines[6]


def test_jsonl_progress_has_events_without_payloads(make_cli) -> None:
    """--progress jsonl: one JSON object per line, keepalives included, no base64."""
    cli = make_cli(latency=0.05, keepalive_interval=0.02)
    result = cli("chat-stream", "a fox", *FAST, "--progress", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    types = [r["type"] for r in records]
    assert types[0] == "vibeimg.opened" and types[-1] == "vibeimg.finished"
    assert {"keepalive", "vibeimg.sse_comment", "vibeimg.saved",
            "response.image_generation_call.partial_image"} <= set(types)
    partial = next(r for r in records if r["type"].endswith("partial_image"))
    assert partial["partial_image_b64"].endswith("characters>")
    assert max(len(line) for line in result.stderr.splitlines()) < 5000


def test_quiet_shows_nothing_on_success(cli) -> None:
    """--quiet: paths on stdout, nothing on stderr."""
    result = cli("chat-stream", "a fox", *FAST, "--quiet")
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == "a-fox.png\n"


def test_dry_run_sends_nothing(cli, emulator, tmp_path: Path) -> None:
    """--dry-run prints the body (input images abbreviated) and the estimated cost."""
    image = png_file(tmp_path / "in.png")
    result = cli("chat-stream", "a fox", "-i", str(image), "-n", "2", *FAST, "--dry-run")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    content = document["request"]["body"]["input"][0]["content"]
    assert content[1]["image_url"].startswith("data:image/png;base64,... (")
    assert document["requested"] == 2 and document["estimated_cost_usd"] == 0.012
    assert emulator.api_requests() == []


def test_image_for_json_round_trip_is_real(cli, tmp_path: Path) -> None:
    """--format jpeg: the saved file is a JPEG named .jpg, as the bytes say."""
    result = cli("chat-stream", "a fox", "--format", "jpeg", "--compression", "40", *FAST)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a-fox.jpg\n"
    assert Image.open(io.BytesIO((tmp_path / "a-fox.jpg").read_bytes())).format == "JPEG"


def readme_commands() -> list[str]:
    """The shell lines of the README's chat-stream section."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("### vibeimg chat-stream", 1)[1].split("\n### ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_one_liners_work(tmp_path: Path) -> None:
    """Each README example runs offline, in order, in a real shell, and succeeds."""
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    for line in readme_commands():
        done = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    assert (tmp_path / "lighthouses" / "a-lighthouse-at-dawn-2.png").exists()
    assert json.loads((tmp_path / "run.json").read_text())["received"] == 1
    assert '"type": "vibeimg.finished"' in (tmp_path / "progress.jsonl").read_text()
    assert '"partial_image_b64": "iVBORw0KGgo' in (tmp_path / "fox.sse").read_text()


def test_fields_in_the_folders_of_the_output_name(cli, tmp_path: Path) -> None:
    """chat-stream renders -o's folders too: one folder per quality here."""
    result = cli("chat-stream", "a fox", *FAST, "-o", "{quality}/{slug}-{n}.{ext}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "low/a-fox-1.png\n"


def test_jsonl_keeps_warnings_from_elsewhere_json_too(cli, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A config file's unknown key and a locked history warn as records in jsonl mode."""
    monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.05)
    assert cli("chat-stream", "a fox", *FAST).exit_code == 0  # the history exists
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text('qualty = "low"\n', encoding="utf-8")
    holder = sqlite3.connect(database_path())
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("chat-stream", "a heron", *FAST, "--progress", "jsonl")
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line
    warnings = [r["message"] for r in records if r["type"] == "vibeimg.warning"]
    assert any("qualty" in w for w in warnings)
    assert any("not recorded in the history" in w for w in warnings)


def test_the_summary_has_one_parenthesis_for_its_cost(cli) -> None:
    """Offline, the summary says 'image output estimated $X (offline: nothing billed)',
    not two parentheses in a row."""
    result = cli("chat-stream", "a fox", *FAST, "--offline", key=None, connect=False)
    assert result.exit_code == 0, result.stderr
    summary = result.stderr.splitlines()[-1]
    assert summary.endswith(", image output estimated $0.006 (offline: nothing billed)")
    assert ") (" not in summary


def test_a_long_revised_prompt_is_shortened_on_its_progress_line(cli, tmp_path) -> None:
    """A long prompt's revised prompt is cut to 200 characters with '…' on the saved line
    (a log); the sidecar and --json keep it whole."""
    result = cli("chat-stream", "a fox " * 5000, *FAST, "-o", "fox.png", "--json")
    assert result.exit_code == 0, result.stderr
    whole = json.loads(result.stdout)["images"][0]["revised_prompt"]
    assert len(whole) > 300
    assert json.loads((tmp_path / "fox.json").read_text())["revised_prompt"] == whole
    (saved,) = [line for line in result.stderr.splitlines() if ": saved fox.png" in line]
    shown = saved.split("): ", 1)[1]
    assert len(shown) == 200 and shown.endswith("…")
    assert whole.startswith(shown[:-1])
