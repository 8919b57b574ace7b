"""Money that isn't money: runs against the emulator are marked offline everywhere.

``--offline``, or a base URL whose answers carry ``x-vibeimg-emulator`` (what
``vibeimg mock-server`` sends), makes images nobody pays for: sidecars, ``--json``
documents, batch summaries and reports and the history say ``offline``, and
``history cost`` leaves them out unless ``--include-offline``. The tests of the header
talk to a tiny stand-in gateway, so they hold whatever the emulator sends today.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli
from tinygateway import TinyGateway

from vibeimg.records.history import History

SMALL = ("--size", "1024x1024", "--quality", "low")
EMULATOR = {"x-vibeimg-emulator": "9.9.9"}


def _history() -> list:
    with History() as store:
        return store.recent(100)


def test_offline_generate_is_marked_in_every_document(cli, tmp_path: Path) -> None:
    """--offline: the --json document, each image, the sidecar and the history."""
    result = cli("generate", "a fox", *SMALL, "--offline", "--json")
    document = json.loads(result.stdout)
    assert document["offline"] is True and document["images"][0]["offline"] is True
    sidecar = json.loads((tmp_path / "a-fox.json").read_text(encoding="utf-8"))
    assert sidecar["offline"] is True
    [entry] = _history()
    assert entry.offline is True


def test_a_base_url_answering_as_the_emulator_is_offline(tmp_path: Path) -> None:
    """The x-vibeimg-emulator header marks the run offline: documents, sidecar, history."""
    with TinyGateway(headers=EMULATOR) as gateway:
        cli = Cli(gateway, tmp_path)  # type: ignore[arg-type]
        result = cli("generate", "a fox", *SMALL, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["offline"] is True and document["images"][0]["offline"] is True
    assert json.loads((tmp_path / "a-fox.json").read_text(encoding="utf-8"))["offline"] is True
    [entry] = _history()
    assert entry.offline is True
    cost = json.loads(cli("history", "cost", "--json").stdout)
    assert cost["runs"] == 0 and cost["estimated_cost_usd"] == 0
    assert cost["offline_runs"] == 1 and cost["offline_estimated_cost_usd"] == 0.006


def test_a_gateway_without_the_header_is_billed(tmp_path: Path) -> None:
    """No header, no --offline: offline false, and history cost counts the run."""
    with TinyGateway() as gateway:
        cli = Cli(gateway, tmp_path)  # type: ignore[arg-type]
        result = cli("generate", "a fox", *SMALL, "--json")
    assert json.loads(result.stdout)["offline"] is False
    assert json.loads((tmp_path / "a-fox.json").read_text(encoding="utf-8"))["offline"] is False
    cost = json.loads(cli("history", "cost", "--json").stdout)
    assert cost["runs"] == 1 and cost["estimated_cost_usd"] == 0.006


def test_an_error_from_the_emulator_is_recorded_offline(tmp_path: Path) -> None:
    """A refused request answered by the emulator is an offline run in the history too."""
    body = {"error": {"message": "no", "type": "invalid_request_error"}}
    with TinyGateway(status=400, body=body, headers=EMULATOR) as gateway:
        result = Cli(gateway, tmp_path)("generate", "a fox")  # type: ignore[arg-type]
    assert result.exit_code == 4
    [entry] = _history()
    assert entry.offline is True and entry.outcome == "failed"


def test_offline_chat_stream_is_marked(cli, tmp_path: Path) -> None:
    """chat-stream --offline: the document, its images, the sidecar, the history."""
    result = cli("chat-stream", "a fox", "--quality", "low", "--offline", "--json")
    document = json.loads(result.stdout)
    assert document["offline"] is True and document["images"][0]["offline"] is True
    sidecar = tmp_path / document["images"][0]["sidecar"]
    assert json.loads(sidecar.read_text(encoding="utf-8"))["offline"] is True
    assert _history()[0].offline is True


def test_offline_batch_summary_report_and_history(cli, tmp_path: Path) -> None:
    """batch --offline: summary and outcomes say offline, as do the report and history."""
    result = cli("batch", "-", "-d", "out", "--quality", "low", "--offline",
                 "--report", "out/report.html", input="a fox\na heron\n")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["offline"] is True
    assert all(o["offline"] is True for o in summary["outcomes"])
    assert "estimated $0.012 (offline: nothing billed)" in result.stderr
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "offline: made by the emulator, nothing billed" in page
    assert all(entry.offline for entry in _history())
    merged = json.loads(cli("batch-merge", "out", "-d", "all").stdout)
    assert merged["offline"] is True and merged["offline_items"] == 2


def test_a_batch_against_a_gateway_answering_as_the_emulator_is_offline(tmp_path: Path) -> None:
    """The header marks a batch offline, with its history entries."""
    with TinyGateway(headers=EMULATOR) as gateway:
        result = Cli(gateway, tmp_path)(  # type: ignore[arg-type]
            "batch", "-", "-d", "out", *SMALL, input="a fox\na heron\n")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["offline"] is True and summary["estimated_cost_usd"] == 0.012
    assert len(_history()) == 2 and all(entry.offline for entry in _history())


def test_dry_runs_say_whether_they_are_offline(cli) -> None:
    """A --dry-run document carries offline too."""
    assert json.loads(cli("generate", "a fox", "--dry-run", "--offline").stdout)["offline"]
    assert not json.loads(cli("generate", "a fox", "--dry-run").stdout)["offline"]
    plan = json.loads(cli("batch", "-", "--dry-run", "--offline", input="a fox\n").stdout)
    assert plan["offline"] is True


def test_history_show_of_a_batch_item_has_its_usage(cli, tmp_path: Path) -> None:
    """The usage its sidecar records is in the history too (it was null)."""
    result = cli("batch", "-", "-d", "out", *SMALL, input="a fox\n")
    assert result.exit_code == 0
    [outcome] = json.loads(result.stdout)["outcomes"]
    sidecar = json.loads((tmp_path / outcome["sidecar"]).read_text(encoding="utf-8"))
    assert sidecar["usage"]
    shown = json.loads(cli("history", "show", "1", "--json").stdout)
    assert shown["command"] == "batch" and shown["usage"] == sidecar["usage"]
    assert "usage" in cli("history", "show", "1").stdout


def test_the_python_api_says_offline_and_extrapolated(tmp_path: Path) -> None:
    """vibeimg.Client: the images and the run carry offline and cost_extrapolated."""
    import vibeimg  # noqa: PLC0415 - the public API, as a script imports it

    with vibeimg.Client(offline=True, out_dir=tmp_path) as client:
        images = client.generate("a fox", size="2048x2048", quality="low")
    assert images.offline is True and images[0].offline is True
    assert images.cost_extrapolated is True and images[0].cost_extrapolated is True
    with TinyGateway(headers=EMULATOR) as gateway, vibeimg.Client(
            base_url=gateway.base_url, api_key="sk-test-0123456789abcdef", out_dir=tmp_path,
            history=True) as client:
        images = client.generate("a heron", size="1024x1024", quality="low")
    assert images.offline is True and images.cost_extrapolated is False
    assert _history()[0].offline is True
