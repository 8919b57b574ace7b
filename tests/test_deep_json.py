"""JSON (or TOML) nested a hundred thousand levels deep is bad input, never an internal error.

Python's parsers give up with a RecursionError, which no ``except ValueError`` catches:
each place that parses text from a user or the gateway says what is wrong, in its own
terms, with its own exit code.
"""

from __future__ import annotations

import json
import sqlite3

from conftest import Cli
from tinygateway import TinyGateway

from vibeimg.records.history import database_path
from vibeimg.settings.resolve import config_path

DEPTH = 100_000
DEEP = "[" * DEPTH + "]" * DEPTH


def _no_internal_error(text: str) -> None:
    assert "internal error" not in text and "RecursionError" not in text


def test_a_deep_batch_line_is_bad_json(cli, emulator, tmp_path) -> None:
    """FILE:LINE: bad JSON, exit 2, nothing sent."""
    (tmp_path / "p.jsonl").write_text('{"prompt": "a fox"}\n{"prompt": ' + DEEP + "}\n",
                                      encoding="utf-8")
    result = cli("batch", "p.jsonl", "-d", "out")
    assert result.exit_code == 2
    assert "p.jsonl:2: bad JSON: nested too deeply" in result.stderr
    _no_internal_error(result.stderr)
    assert emulator.api_requests() == []


def test_a_deep_manifest_line_is_skipped_by_batch_merge(cli, tmp_path) -> None:
    """An unreadable manifest line is skipped with a warning, as a cut-short one is."""
    made = cli("batch", "-", "-d", "out", "--quality", "low", input="a fox\n")
    assert made.exit_code == 0
    with (tmp_path / "out" / "vibeimg-manifest.jsonl").open("a", encoding="utf-8") as file:
        file.write(DEEP + "\n")
    merged = cli("batch-merge", "out", "-d", "all")
    assert merged.exit_code == 0, merged.stderr
    assert "skipped 1 unreadable manifest line" in merged.stderr
    _no_internal_error(merged.stderr)
    again = cli("batch", "-", "-d", "out", "--quality", "low", input="a fox\n")
    assert again.exit_code == 0 and json.loads(again.stdout)["skipped"] == 1


def test_a_deep_config_file_is_not_toml(cli) -> None:
    """Exit 2 naming the file, as for any file that is not TOML."""
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("size = " + DEEP + "\n", encoding="utf-8")
    result = cli("generate", "a fox")
    assert result.exit_code == 2
    assert f"the config file {config_path()} is not valid TOML: it is nested too deeply" \
        in result.stderr
    _no_internal_error(result.stderr)


def test_a_deep_error_answer_is_shown_as_text(tmp_path) -> None:
    """A 400 whose body is no usable JSON: the HTTP error with the body's start, exit 4."""
    with TinyGateway(status=400, body=DEEP.encode()) as gateway:
        result = Cli(gateway, tmp_path)("generate", "a fox")  # type: ignore[arg-type]
    assert result.exit_code == 4
    assert "HTTP 400: [[[[" in result.stderr
    _no_internal_error(result.stderr)


def test_a_deep_image_answer_is_a_bad_answer(tmp_path) -> None:
    """A 200 whose JSON is nested too deeply: the gateway's answer is not valid JSON, exit 5."""
    with TinyGateway(body=DEEP.encode()) as gateway:
        result = Cli(gateway, tmp_path)("generate", "a fox")  # type: ignore[arg-type]
    assert result.exit_code == 5
    assert "not valid JSON (nested too deeply)" in result.stderr
    _no_internal_error(result.stderr)


def test_a_deep_stream_event_is_a_bad_answer(tmp_path) -> None:
    """An SSE event nested too deeply: not valid JSON, exit 5, no traceback."""
    stream = b"event: response.created\ndata: " + DEEP.encode() + b"\n\n"
    with TinyGateway(body=stream, content_type="text/event-stream") as gateway:
        result = Cli(gateway, tmp_path)("chat-stream", "a fox")  # type: ignore[arg-type]
    assert result.exit_code == 5, result.stderr
    assert "is not valid JSON" in result.stderr
    _no_internal_error(result.stderr)


def test_doctor_reports_a_deep_models_answer(tmp_path) -> None:
    """GET /models answering deep JSON is a failed check, not a crash."""
    with TinyGateway(body=DEEP.encode()) as gateway:
        result = Cli(gateway, tmp_path)("doctor", "--json")  # type: ignore[arg-type]
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["gateway"]["status"] == "fail"
    assert "not valid JSON" in checks["gateway"]["detail"]
    _no_internal_error(result.stderr)


def test_a_deep_json_file_beside_an_image_is_no_sidecar(cli, tmp_path) -> None:
    """--force never replaces a NAME.json that is not a sidecar, even one too deep to read."""
    (tmp_path / "fox.json").write_text(DEEP, encoding="utf-8")
    result = cli("generate", "a fox", "-o", "fox.png", "--force", "--quality", "low")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "fox-2.png\n"
    assert (tmp_path / "fox.json").read_text(encoding="utf-8") == DEEP


def test_a_deep_value_in_the_history_is_a_damaged_database(cli) -> None:
    """A hand-edited row nested too deeply: exit 2 naming the database, not a crash."""
    assert cli("generate", "a fox", "--quality", "low").exit_code == 0
    with sqlite3.connect(database_path()) as conn:
        conn.execute("UPDATE runs SET usage = ?", (DEEP,))
    result = cli("history", "show", "1")
    assert result.exit_code == 2
    assert str(database_path()) in result.stderr
    _no_internal_error(result.stderr)
