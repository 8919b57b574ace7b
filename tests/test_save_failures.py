"""An image that arrives but cannot be saved (disk full, a folder its name needs that
cannot be made) is that image's failure: one line, counted, the right exit code, never a
traceback."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.pictures import photo, save
from vibeimg.emulator import Emulator
from vibeimg.errors import ExitCode

NAME_MAX = os.pathconf(".", "PC_NAME_MAX")


def blocked(folder: Path, *names: str) -> None:
    """Files named ``names`` in ``folder``: a template's folder of one of those names
    (``{n}/x.png``, ``{size}/x.png``) cannot be made, which is known only when saving."""
    for name in names:
        (folder / name).write_text("in the way\n")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".vibeimg-"))


def test_a_refused_name_fails_that_image_and_keeps_the_others(cli, tmp_path) -> None:
    """-n 10: the 10th image's folder cannot be made; 9 saved, exit 7, its failure listed."""
    blocked(tmp_path, "10")
    result = cli("generate", "fox", "-n", "10", "-o", "{n}/x.png", "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    assert "Traceback" not in result.stderr
    assert "image 10 of 10: cannot create the output folder 10: " in result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "partial" and document["received"] == 9
    assert document["missing"] == [{"index": 10, "phase": "failed"}]
    [failure] = document["failures"]
    assert failure["exit_code"] == ExitCode.WRITE
    assert failure["error"].startswith("cannot create the output folder 10: ")
    assert failure["request_id"]  # the gateway answered: the request id says which one
    assert len(list(tmp_path.glob("*/x.png"))) == 9
    assert leftovers(tmp_path) == []


def test_every_image_refused_exits_with_the_write_code(cli, tmp_path) -> None:
    """-n 4, no name can be made: status failed, 4 failures, exit 8, history says failed."""
    blocked(tmp_path, "1", "2", "3", "4")
    result = cli("generate", "fox", "-n", "4", "--size", "1024x1024", "-o", "{n}/x.png",
                 "--json")
    assert result.exit_code == ExitCode.WRITE, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and document["exit_code"] == ExitCode.WRITE
    assert len(document["failures"]) == 4
    # Made and billed by the gateway, then lost to the disk: possible spend, shown apart
    # from the cost of the images received (none).
    assert document["estimated_cost_usd"] == 0
    assert document["possible_cost_usd"] == round(4 * 0.053, 4)  # the emulator: medium
    assert all(f["possible_cost_usd"] == 0.053 for f in document["failures"])
    assert "Traceback" not in result.stderr
    assert leftovers(tmp_path) == []
    last = json.loads(cli("history", "show", "1", "--json").stdout)
    assert last["outcome"] == "failed" and "cannot create the output folder" in last["error"]


def test_edit_counts_an_image_it_cannot_save(cli, tmp_path) -> None:
    """edit -n 10 has the same per-image failure as generate."""
    save(tmp_path / "in.png", photo())
    blocked(tmp_path, "10")
    result = cli("edit", "fox", "-i", "in.png", "-n", "10", "-o", "{n}/x.png")
    assert result.exit_code == ExitCode.PARTIAL, result.stderr
    assert "image 10 of 10: cannot create the output folder 10: " in result.stderr
    assert len(result.stdout.splitlines()) == 9


def test_single_image_cannot_be_saved(cli, tmp_path) -> None:
    """One image whose folder cannot be made: the save error, exit 8 (the image was
    bought: not the usage code, which says nothing was sent), and the --json document."""
    blocked(tmp_path, "1024x1024")
    result = cli("generate", "fox", "--size", "1024x1024", "-o", "{size}/x.png", "--json")
    assert result.exit_code == ExitCode.WRITE
    assert result.stderr.startswith("error: cannot create the output folder 1024x1024: ")
    assert "[request id req_" in result.stderr
    assert "internal error" not in result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and document["exit_code"] == ExitCode.WRITE


def run_with_file_limit(args: list[str], cwd: Path, limit: int) -> subprocess.CompletedProcess[str]:
    """vibeimg in a process that may write no file over ``limit`` bytes (EFBIG past it)."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run([sys.executable, "-m", "vibeimg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False,
                          preexec_fn=limit_files)  # before exec: no threads yet


def test_a_full_disk_in_a_real_process(tmp_path) -> None:
    """Files capped below an image's size: 4 one-line failures, exit 8, no traceback,
    no temporary file left."""
    with Emulator() as emu:
        result = run_with_file_limit(
            ["generate", "fox", "-n", "4", "--json", "--no-history",
             "--base-url", emu.base_url, "--api-key", "k"], tmp_path, limit=4096)
    assert result.returncode == ExitCode.WRITE, result.stderr
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and len(document["failures"]) == 4
    assert all("cannot save the image: File too large (" in f["error"]
               for f in document["failures"])
    assert list(tmp_path.iterdir()) == []


def test_chat_stream_cannot_save_in_a_real_process(tmp_path) -> None:
    """chat-stream on a full disk: the save error, exit 8, the --json document."""
    with Emulator() as emu:
        result = run_with_file_limit(
            ["chat-stream", "fox", "--json", "--no-history", "--progress", "off",
             "--base-url", emu.base_url, "--api-key", "k"], tmp_path, limit=4096)
    assert result.returncode == ExitCode.WRITE, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "cannot save the image: File too large" in result.stderr
    document = json.loads(result.stdout)
    assert document["images"] == []
    assert list(tmp_path.iterdir()) == []


def test_chat_stream_image_that_cannot_be_saved_fails_alone(cli, tmp_path) -> None:
    """chat-stream with a folder that cannot be made: the image's failure, exit 8,
    jsonl's last record."""
    blocked(tmp_path, "1024x1024")
    result = cli("chat-stream", "fox", "--size", "1024x1024", "-o", "{size}/x.png",
                 "--progress", "jsonl")
    assert result.exit_code == ExitCode.WRITE, result.stderr
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # all JSON
    last = records[-1]
    assert last["type"] == "vibeimg.finished" and last["exit_code"] == ExitCode.WRITE
    assert leftovers(tmp_path) == []


def test_stdout_cut_short_by_a_file_size_limit_is_an_error(tmp_path) -> None:
    """-o - into a file that may not grow past 4 kB: the short write is not taken for
    a whole one; exit 8 with one line, never a truncated image and exit 0."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    with Emulator() as emu, (tmp_path / "out.png").open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "vibeimg", "generate", "a fox", "-o", "-", "--no-history",
             "--size", "1024x1024", "--base-url", emu.base_url, "--api-key", "k"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE, text=True,
            timeout=60, check=False, preexec_fn=limit_files)
    assert done.returncode == ExitCode.WRITE, done.stderr
    assert "cannot write to stdout: File too large" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_manifest_that_cannot_grow_stops_the_batch_with_the_write_code(tmp_path) -> None:
    """The manifest hits a file size limit mid-run: nothing more is sent, the summary is
    printed with exit 8, and the rerun finishes without paying for a saved image twice."""
    out = tmp_path / "out"
    out.mkdir()
    limit = 64 * 1024
    pad = b'{"type": "note"}\n'
    (out / "vibeimg-manifest.jsonl").write_bytes(pad * ((limit - 1800) // len(pad)))
    (tmp_path / "p.txt").write_text("".join(f"a fox {i}\n" for i in range(6)))
    with Emulator() as emu:
        first = run_with_file_limit(
            ["batch", "p.txt", "-d", "out", "-c", "1", "--quality", "low", "--no-history",
             "--base-url", emu.base_url, "--api-key", "k"], tmp_path, limit=limit)
        sent = len(emu.api_requests())
        assert first.returncode == ExitCode.WRITE, first.stderr
        assert "cannot save the manifest" in first.stderr and "Traceback" not in first.stderr
        summary = json.loads(first.stdout)
        assert summary["exit_code"] == ExitCode.WRITE and summary["not_run"] >= 1
        assert 1 <= sent < 6
        again = run_with_file_limit(
            ["batch", "p.txt", "-d", "out", "--quality", "low", "--no-history",
             "--base-url", emu.base_url, "--api-key", "k"], tmp_path, limit=1 << 30)
        assert again.returncode == 0, again.stderr
        assert len(emu.api_requests()) == 6  # each prompt paid for once
    assert len(list(out.glob("*.png"))) == 6


def test_mask_convert_that_cannot_write_exits_with_the_write_code(tmp_path) -> None:
    """A mask over a file size limit: exit 8 and the save error, not a usage error."""
    from PIL import Image  # noqa: PLC0415

    Image.effect_noise((512, 512), 100).save(tmp_path / "noisy.png")
    done = run_with_file_limit(["mask-convert", "noisy.png", "mask.png"], tmp_path,
                               limit=16 * 1024)
    assert done.returncode == ExitCode.WRITE, done.stderr
    assert "cannot save the mask mask.png: File too large" in done.stderr
    assert not (tmp_path / "mask.png").exists()
    assert list(tmp_path.glob(".vibeimg-*")) == []


def test_a_name_too_long_to_ever_fit_is_refused_before_sending(cli, emulator, tmp_path) -> None:
    """Nothing a field could add would make it fit: exit 2, no request, nothing paid."""
    result = cli("generate", "fox", "-o", "e" * NAME_MAX + ".png")
    assert result.exit_code == ExitCode.USAGE
    assert "file names hold at most 255" in result.stderr
    assert emulator.api_requests() == []


def test_a_name_just_under_the_limit_is_saved(cli, tmp_path) -> None:
    """A name whose sidecar takes all 255 bytes fits, though its pending name with
    prefix and suffix would not: it waits under a digest of its name instead."""
    name = "f" * (NAME_MAX - 5) + ".png"  # its sidecar, NAME.json, takes the 255
    result = cli("generate", "fox", "-o", name)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / name).is_file() and leftovers(tmp_path) == []


def test_a_batch_counts_images_lost_to_the_disk_in_its_cost(tmp_path) -> None:
    """Every image over the file size limit: the items fail with exit 8, and the summary's
    possible cost holds what the gateway made (and billed), apart from the images received."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n")
    with Emulator() as emu:
        done = run_with_file_limit(
            ["batch", "p.txt", "-d", "out", "--quality", "low", "--size", "1024x1024",
             "--no-history", "--base-url", emu.base_url, "--api-key", "k"],
            tmp_path, limit=8192)
    assert done.returncode == ExitCode.WRITE, done.stderr
    summary = json.loads(done.stdout)
    assert summary["failed"] == 2 and summary["estimated_cost_usd"] == 0
    assert summary["possible_cost_usd"] == 0.012


def test_a_batch_stops_buying_once_images_cannot_be_saved(tmp_path) -> None:
    """A full disk (here files capped at 4 kB: EFBIG, as ENOSPC or a full quota) stops
    the batch after the first lost image: one request, not one per item, exit 8, and
    the rest left for a rerun."""
    (tmp_path / "prompts.txt").write_text("".join(f"fox {n}\n" for n in range(12)))
    with Emulator() as emu:
        result = run_with_file_limit(
            ["batch", "prompts.txt", "-c", "1", "-d", "out", "--no-history",
             "--base-url", emu.base_url, "--api-key", "k"], tmp_path, limit=4096)
        sent = len(emu.api_requests())
    assert result.returncode == ExitCode.WRITE, result.stderr
    assert sent == 1
    summary = json.loads(result.stdout)
    assert (summary["failed"], summary["not_run"], summary["done"]) == (1, 11, 0)
    assert summary["error"].startswith("batch stopped, 11 items not sent: cannot save the "
                                       "image: File too large (")
    assert result.stderr.splitlines()[-1].startswith("error: batch stopped, 11 items not sent")
    assert "Traceback" not in result.stderr
    assert [p.name for p in (tmp_path / "out").glob("*.png")] == []


def test_generate_sends_no_more_once_the_disk_is_full(tmp_path) -> None:
    """-n 4 -c 1 with files capped below an image: one request, the other three
    not-sent (never billed), exit 8."""
    with Emulator() as emu:
        result = run_with_file_limit(
            ["generate", "fox", "-n", "4", "-c", "1", "--json", "--no-history",
             "--base-url", emu.base_url, "--api-key", "k"], tmp_path, limit=4096)
        sent = len(emu.api_requests())
    assert result.returncode == ExitCode.WRITE, result.stderr
    assert sent == 1
    document = json.loads(result.stdout)
    assert document["missing"] == [{"index": 1, "phase": "failed"}] + [
        {"index": n, "phase": "not-sent"} for n in (2, 3, 4)]
    assert document["possible_cost_usd"] == 0.053  # the one lost image, not four
    assert result.stderr.splitlines()[-1].startswith(
        "error: no image saved (1 failed, 3 not sent); the first: cannot save the image: "
        "File too large (")
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
