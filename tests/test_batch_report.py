"""The HTML report and ``vibeimg batch-merge``: self-contained, escaped, complete."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from vibeimg.batch.report import render_report, thumbnail_uri
from vibeimg.errors import ExitCode


class Page(HTMLParser):
    """Collects what a browser would see: tags, image sources, links, text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.figures: list[dict[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "img":
            self.images.append(values["src"])
        if tag in ("a", "link", "script"):
            self.links.append(values.get("href") or values.get("src") or "")
        if tag == "figure":
            self.figures.append(values)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_report_shows_every_item_with_thumbnails_and_failures(
        make_cli, tmp_path: Path) -> None:
    """--report: one offline page, a small data-URI thumbnail per image, failures listed."""
    cli = make_cli(faults=["500"])
    prompts = ["a <script>alert('x')</script> fox", "a heron & a crane", "a cat", "a dog"]
    (tmp_path / "p.jsonl").write_text(
        "".join(json.dumps({"prompt": p}) + "\n" for p in prompts), encoding="utf-8")
    result = cli("batch", "p.jsonl", "-d", "out", "--quality", "low", "-c", "1",
                 "--report", "out/report.html")
    assert result.exit_code == ExitCode.PARTIAL
    assert json.loads(result.stdout)["report"] == "out/report.html"
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert "script" not in page.tags  # the prompt's markup is text, not a tag
    text = "".join(page.text)
    for prompt in prompts:
        assert prompt in text
    assert len(page.figures) == 4
    statuses = sorted(f["class"] for f in page.figures)
    # A 500 after the request went out: outcome unknown, shown and costed apart.
    assert statuses == ["item done", "item done", "item done", "item unknown"]
    assert "outcome unknown" in "".join(page.text)
    assert "estimated cost $0.018 for the images received, and up to $0.006 possibly " \
        "billed with no image received" in "".join(page.text)
    assert len(page.images) == 3
    for src in page.images:
        assert src.startswith(("data:image/webp;base64,", "data:image/jpeg;base64,"))
        thumb = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert max(thumb.size) <= 160
    failed = cli.emulator.api_requests()[0]
    assert "HTTP 500" in text and failed.request_id in text
    assert all(not link.startswith(("http:", "https:", "//")) for link in page.links)
    assert len(html) < 40_000


def test_report_of_a_rerun_keeps_earlier_images(cli, tmp_path: Path) -> None:
    """A rerun's report also shows the items finished by earlier runs."""
    (tmp_path / "p.txt").write_text("a fox\na heron\n", encoding="utf-8")
    assert cli("batch", "p.txt", "-d", "out", "--quality", "low").exit_code == 0
    result = cli("batch", "p.txt", "-d", "out", "--quality", "low", "--report", "r.html")
    assert result.exit_code == 0
    page = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert len(page.images) == 2
    assert sorted(link for link in page.links if link.endswith(".png")) == [
        "out/0001-a-fox.png", "out/0002-a-heron.png"]


def test_thumbnail_of_an_unreadable_file_is_none(tmp_path: Path) -> None:
    """A file that is not an image gets no thumbnail rather than an error."""
    path = tmp_path / "x.png"
    path.write_bytes(b"not an image")
    assert thumbnail_uri(path) is None
    html = render_report([{"key": "k", "status": "ok", "path": "x.png", "prompt": "p"}],
                         base_dir=tmp_path)
    assert "image missing" in html


def test_merge_joins_shards_into_one_manifest_and_report(cli, emulator, tmp_path: Path) -> None:
    """batch-merge of three shards' folders: every item once, paths valid, one report."""
    prompts = [f"tile {i}" for i in range(9)]
    (tmp_path / "p.txt").write_text("\n".join(prompts) + "\n", encoding="utf-8")
    for k in (1, 2, 3):
        result = cli("batch", "p.txt", "--shard", f"{k}/3", "-d", f"artifacts/shard-{k}",
                     "--quality", "low")
        assert result.exit_code == 0, result.stderr
    result = cli("batch-merge", "artifacts/shard-1", "artifacts/shard-2", "artifacts/shard-3",
                 "-d", "merged", "--report", "merged/report.html")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["items"], summary["done"], summary["missing_shards"]) == (9, 9, [])
    assert sorted(o["prompt"] for o in summary["outcomes"]) == sorted(prompts)
    for outcome in summary["outcomes"]:
        assert Image.open(tmp_path / outcome["path"]).format == "PNG"
    page = parse((tmp_path / "merged" / "report.html").read_text(encoding="utf-8"))
    assert len(page.images) == 9 and len(page.figures) == 9

    # The merged manifest names images outside merged/: a batch never resumes there (it
    # would trust files outside its folder), and says so before sending anything.
    before = len(emulator.api_requests())
    rerun = cli("batch", "p.txt", "-d", "merged", "--quality", "low")
    assert rerun.exit_code == ExitCode.USAGE and len(emulator.api_requests()) == before
    assert "outside merged" in rerun.stderr and "nothing was sent" in rerun.stderr


def test_merge_names_a_missing_shard(cli, tmp_path: Path) -> None:
    """A shard that never ran is named, its items count as not run, and the exit is 7."""
    (tmp_path / "p.txt").write_text("".join(f"tile {i}\n" for i in range(6)), encoding="utf-8")
    for k in (1, 3):
        assert cli("batch", "p.txt", "--shard", f"{k}/3", "-d", f"s{k}",
                   "--quality", "low").exit_code == 0
    result = cli("batch-merge", "s1", "s3", "-d", "all")
    assert result.exit_code == ExitCode.PARTIAL
    assert "shard 2/3 is missing" in result.stderr
    assert json.loads(result.stdout)["missing_shards"] == ["2/3"]


def test_merge_of_a_folder_without_manifest_is_a_usage_error(cli, tmp_path: Path) -> None:
    """A source with no manifest is refused with exit 2."""
    (tmp_path / "empty").mkdir()
    result = cli("batch-merge", "empty")
    assert result.exit_code == ExitCode.USAGE
    assert "no vibeimg-manifest*.jsonl in empty" in result.stderr
