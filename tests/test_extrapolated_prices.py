"""Prices that aren't prices: a size outside the published table is priced by a guess.

SPEC.md section 6 publishes 1024x1024, 1024x1536 and 1536x1024 only. Any other size is
priced from the nearest shape's price scaled by pixels, and every figure built on such
a guess says ``cost_extrapolated`` (documents) or ``(extrapolated)`` (summaries).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Cli
from tinygateway import TinyGateway, image_answer

from vibeimg.params import Size

BIG = ("--size", "2048x2048", "--quality", "low")  # 4x the square's pixels: 0.024


@pytest.mark.parametrize(("size", "quality", "usd", "extrapolated"), [
    (Size(1024, 1024), "high", 0.211, False),
    (Size(1536, 1024), "medium", 0.041, False),
    (None, "auto", 0.211, False),  # auto: 1024x1024 at high, table prices
    (Size(2048, 2048), "high", 0.844, True),
    (Size(3840, 2160), "high", 0.8701, True),
    (Size(2048, 1152), "low", 0.0075, True),
])
def test_the_rule_and_its_marker(size: Size | None, quality: str, usd: float,
                                 extrapolated: bool) -> None:
    """Table sizes are published prices; others scale the nearest shape and say so (the
    issue's 2048x2048 high at $0.844 and 3840x2160 high at $0.870)."""
    from vibeimg.records.pricing import Price, price_of  # noqa: PLC0415 - new in this change

    assert price_of(size, quality) == Price(usd, extrapolated)


def test_generate_marks_an_extrapolated_cost_everywhere(tmp_path: Path) -> None:
    """--json (document and image), the sidecar, the history listing and show."""
    with TinyGateway(body=image_answer(2048, 2048)) as gateway:  # billed: no emulator header
        cli = Cli(gateway, tmp_path)  # type: ignore[arg-type]
        result = cli("generate", "a fox", *BIG, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["estimated_cost_usd"] == 0.024 and document["cost_extrapolated"] is True
    assert document["images"][0]["cost_extrapolated"] is True
    sidecar = json.loads((tmp_path / "a-fox.json").read_text(encoding="utf-8"))
    assert sidecar["cost_extrapolated"] is True
    shown = cli("history", "show", "1")
    assert "$0.0240 (extrapolated: a size outside the published price table" in shown.stdout
    assert json.loads(cli("history", "show", "1", "--json").stdout)["cost_extrapolated"]
    assert "~$0.024" in cli("history").stdout
    listed = cli("history", "--json")
    assert json.loads(listed.stdout)["runs"][0]["cost_extrapolated"] is True


def test_a_table_size_is_not_extrapolated(cli, tmp_path: Path) -> None:
    """1024x1024: a published price, cost_extrapolated false."""
    result = cli("generate", "a fox", "--size", "1024x1024", "--quality", "low", "--json")
    document = json.loads(result.stdout)
    assert document["cost_extrapolated"] is False
    assert json.loads((tmp_path / "a-fox.json").read_text(encoding="utf-8"))[
        "cost_extrapolated"] is False


def test_dry_runs_say_the_estimate_is_extrapolated(cli, tmp_path: Path) -> None:
    """generate, chat-stream and batch --dry-run: the figure and its marker."""
    generate = json.loads(cli("generate", "a fox", *BIG, "-n", "2", "--dry-run").stdout)
    assert generate["estimated_cost_usd"] == 0.048 and generate["cost_extrapolated"] is True
    chat = json.loads(cli("chat-stream", "a fox", *BIG, "--dry-run").stdout)
    assert chat["cost_extrapolated"] is True
    square = json.loads(cli("generate", "a fox", "--size", "1024x1024", "--dry-run").stdout)
    assert square["cost_extrapolated"] is False
    (tmp_path / "p.jsonl").write_text(
        '{"prompt": "a fox", "size": "2048x2048"}\n{"prompt": "a heron"}\n', encoding="utf-8")
    plan = json.loads(cli("batch", "p.jsonl", "--quality", "low", "--dry-run").stdout)
    assert plan["cost_extrapolated"] is True and plan["extrapolated_items"] == 1
    assert [i["cost_extrapolated"] for i in plan["items"]] == [True, False]


def test_max_cost_says_it_compared_an_extrapolated_figure(cli, emulator, tmp_path: Path) -> None:
    """--max-cost keeps to the same figure and says that part of it is a guess."""
    (tmp_path / "p.jsonl").write_text(
        '{"prompt": "a fox", "size": "3840x2160"}\n{"prompt": "a heron"}\n', encoding="utf-8")
    result = cli("batch", "p.jsonl", "--quality", "high", "--max-cost", "0.5", "-d", "out")
    assert result.exit_code == 2
    assert ("the batch is estimated at $1.081 (extrapolated) for 2 images, 1 of them at sizes "
            "outside the published price table, priced by extrapolation, above --max-cost "
            "$0.500") in result.stderr
    assert emulator.api_requests() == []


def test_batch_summary_report_and_progress_mark_it(cli, tmp_path: Path) -> None:
    """The summary, each outcome, the start and end lines and the report say so."""
    (tmp_path / "p.jsonl").write_text(
        '{"prompt": "a fox", "size": "2048x2048"}\n{"prompt": "a heron"}\n', encoding="utf-8")
    result = cli("batch", "p.jsonl", "--quality", "low", "-d", "out",
                 "--report", "out/report.html")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cost_extrapolated"] is True
    assert [o["cost_extrapolated"] for o in summary["outcomes"]] == [True, False]
    assert "estimated $0.030 (extrapolated)" in result.stderr
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "$0.024 (extrapolated)" in page and "partly extrapolated" in page
    runs = json.loads(cli("history", "--json").stdout)["runs"]
    assert {r["prompt"]: r["cost_extrapolated"] for r in runs} == {"a fox": True, "a heron": False}


def test_chat_stream_marks_an_extrapolated_image(cli, tmp_path: Path) -> None:
    """The document, each image and the summary line."""
    result = cli("chat-stream", "a fox", *BIG, "--json", "--progress", "plain")
    document = json.loads(result.stdout)
    assert document["cost_extrapolated"] is True
    assert document["images"][0]["cost_extrapolated"] is True
    assert "estimated $0.024 (extrapolated)" in result.stderr
