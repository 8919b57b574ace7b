"""What a batch rerun trusts, and where a batch writes: only files it can verify, only
inside its output folder, never through a symbolic link."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from vibeimg.batch.manifest import file_sha256, read_folder
from vibeimg.errors import ExitCode

PROMPTS = ["a fox", "a heron", "a cat"]


def prompts_sent(emulator) -> list[str]:
    return sorted(r.json()["prompt"] for r in emulator.api_requests())


def run_batch(cli, *args: str):
    return cli("batch", "p.txt", "-d", "out", "--quality", "low", *args)


def write_prompts(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("".join(p + "\n" for p in PROMPTS), encoding="utf-8")


def test_a_truncated_or_overwritten_image_is_made_again(cli, emulator, tmp_path: Path) -> None:
    """truncate -s 100 one image, overwrite another with garbage of the same size: the
    rerun names both, makes them again (the broken files are kept), and every path in
    its summary holds the SHA-256 it states."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    out = tmp_path / "out"
    fox, heron = out / "0001-a-fox.png", out / "0002-a-heron.png"
    with fox.open("r+b") as file:
        file.truncate(100)
    heron.write_bytes(os.urandom(heron.stat().st_size))
    broken = {fox: fox.read_bytes(), heron: heron.read_bytes()}

    rerun = run_batch(cli)
    assert rerun.exit_code == 0, rerun.stderr
    assert prompts_sent(emulator) == sorted([*PROMPTS, "a fox", "a heron"])
    warnings = [line for line in rerun.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert "line 1: out/0001-a-fox.png has 100 bytes, not the" in warnings[0]
    assert "made again" in warnings[0]
    assert "line 2: out/0002-a-heron.png has changed since it was saved" in warnings[1]
    summary = json.loads(rerun.stdout)
    assert (summary["done"], summary["skipped"]) == (2, 1)
    for outcome in summary["outcomes"]:
        assert file_sha256(tmp_path / outcome["path"]) == outcome["sha256"]
    assert {o["path"] for o in summary["outcomes"]} == {
        "out/0001-a-fox-2.png", "out/0002-a-heron-2.png", "out/0003-a-cat.png"}
    assert all(path.read_bytes() == data for path, data in broken.items())  # never overwritten
    third = run_batch(cli)
    assert third.exit_code == 0 and json.loads(third.stdout)["skipped"] == 3
    assert len(emulator.api_requests()) == 5 and "warning" not in third.stderr


def test_a_damaged_sidecar_is_written_again_never_bought(cli, emulator, tmp_path: Path) -> None:
    """Sidecars appended to, replaced by '{}' or removed, images intact: nothing is sent,
    each sidecar is written again from the manifest (valid JSON naming its image), one
    warning each, exit 0; the next rerun has nothing to say."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    out = tmp_path / "out"
    images = {path: path.read_bytes() for path in out.glob("*.png")}
    with (out / "0001-a-fox.json").open("a", encoding="utf-8") as sidecar:
        sidecar.write("x\n")  # echo x >> out/0001-a-fox.json
    (out / "0002-a-heron.json").write_text("{}", encoding="utf-8")
    (out / "0003-a-cat.json").unlink()

    rerun = run_batch(cli)
    assert rerun.exit_code == 0, rerun.stderr
    assert len(emulator.api_requests()) == 3  # no new request: nothing bought again
    warnings = [line for line in rerun.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3, rerun.stderr
    assert "line 1: out/0001-a-fox.json has " in warnings[0]
    assert "line 2: out/0002-a-heron.json has 2 bytes" in warnings[1]
    assert "line 3: out/0003-a-cat.json is missing" in warnings[2]
    assert all("the image is intact, so nothing is sent; the sidecar is written again"
               in line for line in warnings)
    summary = json.loads(rerun.stdout)
    assert (summary["done"], summary["skipped"]) == (0, 3)
    records = {r["path"]: r for r in read_folder(out)[0] if r.get("type") == "item"}
    for image, data in images.items():
        assert image.read_bytes() == data  # the images are untouched
        sidecar = json.loads(image.with_suffix(".json").read_text(encoding="utf-8"))
        record = records[image.name]
        assert sidecar["file"] == image.name and sidecar["bytes"] == len(data)
        assert sidecar["batch"]["key"] == record["key"]
        assert sidecar["request_id"] == record["request_id"]
        assert sidecar["prompt"] == record["prompt"] and sidecar["rebuilt_from_manifest"]
    third = run_batch(cli, "--verify", "full")
    assert third.exit_code == 0 and "warning" not in third.stderr, third.stderr
    assert len(emulator.api_requests()) == 3


def test_an_edited_sidecar_still_describing_its_image_is_kept(cli, emulator,
                                                              tmp_path: Path) -> None:
    """A note added to a sidecar (still JSON naming its image): kept as it is, no word."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    path = tmp_path / "out" / "0001-a-fox.json"
    edited = {**json.loads(path.read_text(encoding="utf-8")), "note": "keep me"}
    path.write_text(json.dumps(edited), encoding="utf-8")
    rerun = run_batch(cli)
    assert rerun.exit_code == 0 and "warning" not in rerun.stderr, rerun.stderr
    assert json.loads(path.read_text(encoding="utf-8")) == edited
    assert len(emulator.api_requests()) == 3


def test_a_sidecar_that_cannot_be_replaced_leaves_the_item_done(cli, emulator,
                                                               tmp_path: Path) -> None:
    """A folder where the sidecar was: a warning naming it, nothing sent or touched."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    path = tmp_path / "out" / "0002-a-heron.json"
    path.unlink()
    path.mkdir()
    rerun = run_batch(cli)
    assert rerun.exit_code == 0, rerun.stderr
    assert len(emulator.api_requests()) == 3 and path.is_dir()
    assert "line 2: out/0002-a-heron.json is not a regular file: the image is intact, so " \
           "nothing is sent; move it aside" in rerun.stderr


def test_a_sidecar_turned_link_is_replaced_not_written_through(cli, emulator,
                                                              tmp_path: Path) -> None:
    """A sidecar replaced by a link: the link gives way to a sidecar; its target is kept."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    target = tmp_path / "elsewhere.json"
    target.write_text("theirs", encoding="utf-8")
    path = tmp_path / "out" / "0003-a-cat.json"
    path.unlink()
    path.symlink_to(target)
    rerun = run_batch(cli)
    assert rerun.exit_code == 0, rerun.stderr
    assert len(emulator.api_requests()) == 3
    assert not path.is_symlink() and json.loads(path.read_text(encoding="utf-8"))["file"] \
        == "0003-a-cat.png"
    assert target.read_text(encoding="utf-8") == "theirs"


def test_verify_full_hashes_what_fast_trusts(cli, emulator, tmp_path: Path) -> None:
    """A same-size change whose modification time was put back (touch -r) passes the
    fast check; --verify full catches it."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    cat = tmp_path / "out" / "0003-a-cat.png"
    stat = cat.stat()
    cat.write_bytes(bytes(stat.st_size))
    os.utime(cat, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_batch(cli).exit_code == 0
    assert len(emulator.api_requests()) == 3
    full = run_batch(cli, "--verify", "full")
    assert full.exit_code == 0 and prompts_sent(emulator) == sorted([*PROMPTS, "a cat"])
    assert "0003-a-cat.png has changed" in full.stderr


def forget_items(out: Path) -> None:
    """Drop every item line, as if each run had been killed just before writing them."""
    manifest = out / "vibeimg-manifest.jsonl"
    kept = [line for line in manifest.read_text(encoding="utf-8").splitlines()
            if json.loads(line).get("type") != "item"]
    manifest.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def test_items_under_template_folders_are_found_on_resume(cli, emulator, tmp_path: Path) -> None:
    """-o "{date}/{slug}.{ext}": images saved (with sidecars) but never recorded are found
    in the dated folder, recorded, and not paid for again."""
    write_prompts(tmp_path)
    assert run_batch(cli, "-o", "{date}/{slug}.{ext}").exit_code == 0
    out = tmp_path / "out"
    [dated] = [p for p in out.iterdir() if p.is_dir()]
    assert len(list(dated.glob("*.png"))) == 3
    forget_items(out)
    rerun = run_batch(cli, "-o", "{date}/{slug}.{ext}")
    assert rerun.exit_code == 0, rerun.stderr
    assert len(emulator.api_requests()) == 3  # nothing sent again
    summary = json.loads(rerun.stdout)
    assert summary["skipped"] == 3
    assert sorted(Path(o["path"]).parent.name for o in summary["outcomes"]) == [dated.name] * 3
    assert run_batch(cli, "-o", "{date}/{slug}.{ext}").exit_code == 0
    assert len(emulator.api_requests()) == 3


def manifest_line(out: Path, **fields: object) -> None:
    with (out / "vibeimg-manifest.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps({"type": "item", "v": 1, "status": "ok", **fields}) + "\n")


def test_a_manifest_path_outside_the_folder_is_refused(cli, emulator, tmp_path: Path) -> None:
    """A line claiming the fox is done at ../secret.png (an existing image, its digest
    right) or at an absolute path: refused with exit 2, nothing sent, nothing written."""
    write_prompts(tmp_path)
    assert run_batch(cli, "--dry-run").exit_code == 0
    plan = json.loads(run_batch(cli, "--dry-run").stdout)
    fox_key = plan["items"][0]["key"]
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n not yours")
    for path in ("../secret.png", str(secret)):
        (out / "vibeimg-manifest.jsonl").write_text("", encoding="utf-8")
        manifest_line(out, key=fox_key, line=1, path=path, sha256=file_sha256(secret),
                      bytes=secret.stat().st_size)
        result = run_batch(cli, "--report", "out/report.html")
        assert result.exit_code == ExitCode.USAGE, result.stderr
        assert f"names {path!r}" in result.stderr and "nothing was sent" in result.stderr
        assert emulator.api_requests() == []
        assert not (out / "report.html").exists()
        assert sorted(p.name for p in out.iterdir()) == ["vibeimg-manifest.jsonl"]


def test_a_symlinked_manifest_is_never_appended_to(cli, emulator, tmp_path: Path) -> None:
    """out/vibeimg-manifest.jsonl is a link to another file (a restored cache): exit 2,
    nothing sent, the other file untouched."""
    write_prompts(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n", encoding="utf-8")
    (out / "vibeimg-manifest.jsonl").symlink_to(target)
    result = run_batch(cli)
    assert result.exit_code == ExitCode.USAGE
    assert "is a symbolic link" in result.stderr
    assert target.read_text(encoding="utf-8") == "my notes\n"
    assert emulator.api_requests() == []


def test_a_symlinked_lock_file_is_refused(cli, emulator, tmp_path: Path) -> None:
    """The folder's lock file is never created or opened through a link either."""
    write_prompts(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".vibeimg-batch.lock").symlink_to(tmp_path / "created-elsewhere")
    result = run_batch(cli)
    assert result.exit_code == ExitCode.USAGE and "is a symbolic link" in result.stderr
    assert not (tmp_path / "created-elsewhere").exists()
    assert emulator.api_requests() == []


def test_an_output_folder_leaving_through_a_link_is_refused(cli, emulator, tmp_path: Path) -> None:
    """out/sub is a link to a folder elsewhere: a line writing to sub/ is refused before
    anything is sent, and nothing lands in the folder it points to."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere)
    (tmp_path / "p.jsonl").write_text(
        json.dumps({"prompt": "a fox", "output": "sub/{slug}.{ext}"}) + "\n", encoding="utf-8")
    result = cli("batch", "p.jsonl", "-d", "out", "--quality", "low")
    assert result.exit_code == ExitCode.USAGE
    assert "leads out of out through a symbolic link" in result.stderr
    assert emulator.api_requests() == [] and list(elsewhere.iterdir()) == []


def test_a_dated_folder_that_is_a_link_leading_out_is_refused(cli, emulator, tmp_path) -> None:
    """-o "{date}/..." where today's folder is a link out of --out-dir: the image is not
    written there; the item fails as a local write (billed: possible spend)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / datetime.now().strftime("%Y-%m-%d")).symlink_to(elsewhere)
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    result = run_batch(cli, "-o", "{date}/{slug}.{ext}")
    assert result.exit_code == ExitCode.WRITE, result.stderr
    assert "a symbolic link leads it out of out" in result.stderr
    assert list(elsewhere.iterdir()) == []
    summary = json.loads(result.stdout)
    assert summary["failed"] == 1 and summary["possible_cost_usd"] == 0.006


def test_batch_merge_refuses_what_is_not_a_manifest(cli, tmp_path: Path) -> None:
    """batch-merge /etc/passwd: a usage error, and nothing written."""
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    result = cli("batch-merge", str(passwd), "-d", "merged")
    assert result.exit_code == ExitCode.USAGE
    assert "is not a vibeimg batch manifest" in result.stderr
    assert not (tmp_path / "merged").exists()


def test_batch_merge_refuses_a_path_leaving_its_folder(cli, tmp_path: Path) -> None:
    """A shard's manifest line naming ../../etc/x: exit 2, no merged manifest, no report."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    manifest_line(tmp_path / "out", key="k" * 16, line=9, path="../../etc/x", sha256="0" * 64)
    result = cli("batch-merge", "out", "-d", "merged", "--report", "merged/report.html")
    assert result.exit_code == ExitCode.USAGE
    assert "'../../etc/x', outside its folder" in result.stderr
    assert not (tmp_path / "merged").exists()


def test_a_recorded_item_is_found_with_its_mtime(cli, tmp_path: Path) -> None:
    """Each ok line records its image's and sidecar's size, SHA-256 and mtime."""
    write_prompts(tmp_path)
    assert run_batch(cli).exit_code == 0
    records, _ = read_folder(tmp_path / "out")
    for record in (r for r in records if r.get("type") == "item"):
        image, sidecar = tmp_path / "out" / record["path"], tmp_path / "out" / record["sidecar"]
        assert record["mtime_ns"] == image.stat().st_mtime_ns
        assert record["sidecar_sha256"] == file_sha256(sidecar)
        assert record["sidecar_bytes"] == sidecar.stat().st_size
