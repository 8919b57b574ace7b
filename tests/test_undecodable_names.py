"""File names that are not valid UTF-8 (they arrive as surrogate escapes): the image is
saved under its own name, the sidecar is valid JSON, and an edit can send the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.pictures import photo, save
from vibeimg.errors import ExitCode

OUT = os.fsdecode(b"out\xe9.png")  # 'out\udce9.png', as Python sees such a name


def test_generate_saves_the_image_and_a_json_sidecar(cli, tmp_path) -> None:
    """-o with an undecodable name: the image lands, its sidecar is valid JSON."""
    result = cli("generate", "fox", "-o", OUT, "--json")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / OUT).is_file()
    sidecar = json.loads((tmp_path / os.fsdecode(b"out\xe9.json")).read_bytes())
    assert sidecar["file"] == OUT  # the same name, once read back
    assert json.loads(result.stdout)["images"][0]["path"] == OUT


def test_chat_stream_saves_the_image_and_a_json_sidecar(cli, tmp_path) -> None:
    """chat-stream with an undecodable name: image and valid sidecar, exit 0."""
    result = cli("chat-stream", "fox", "-o", OUT, "--progress", "off")
    assert result.exit_code == 0, result.stderr
    sidecar = json.loads((tmp_path / os.fsdecode(b"out\xe9.json")).read_bytes())
    assert sidecar["file"] == OUT


def test_edit_sends_an_input_with_an_undecodable_name(cli, tmp_path) -> None:
    """edit -i with an undecodable name: the part's file name has U+FFFD instead."""
    save(tmp_path / os.fsdecode(b"lat\xe9.png"), photo())
    result = cli("edit", "warmer", "-i", os.fsdecode(b"lat\xe9.png"))
    assert result.exit_code == 0, result.stderr
    [(filename, _, _)] = cli.emulator.api_requests()[0].files["image[]"]
    assert filename == "lat\ufffd.png"
    sidecar = json.loads((tmp_path / "warmer.json").read_bytes())
    assert sidecar["inputs"][0]["path"] == os.fsdecode(b"lat\xe9.png")


def test_printed_path_is_the_names_own_bytes(tmp_path) -> None:
    """With a strict stdout encoding, the path printed is the file's own bytes."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PYTHONIOENCODING"] = "utf-8:strict"
    result = subprocess.run([sys.executable, "-m", "vibeimg", "generate", "fox", "--offline",
                             "-o", OUT], cwd=tmp_path, env=env, capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"out\xe9.png\n"
    assert (tmp_path / OUT).is_file()


def test_dry_run_shows_the_replaced_part_name(cli, tmp_path) -> None:
    """--dry-run shows the multipart file name as it would be sent."""
    save(tmp_path / os.fsdecode(b"lat\xe9.png"), photo())
    result = cli("edit", "warmer", "-i", os.fsdecode(b"lat\xe9.png"), "--dry-run")
    assert result.exit_code == ExitCode.OK, result.stderr
    files = json.loads(result.stdout)["request"]["body"]["files"]
    assert files[0]["filename"] == "lat\ufffd.png"
