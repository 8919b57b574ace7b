"""History search in any language: trigram index, substring fallback, migration, CLI."""

from __future__ import annotations

import json
import sqlite3

import pytest

from vibeimg.cli.history_cmd import _columns, _cut_to_columns
from vibeimg.records import history, schema
from vibeimg.records.history import History, database_path
from vibeimg.records.runs import Entry
from vibeimg.records.schema import SCHEMA_VERSION
from vibeimg.records.terms import search_terms

SMALL = ("--size", "1024x1024", "--quality", "low")
OTTER = "一只水彩风格的水獭"


def _add(prompt: str, revised: str | None = None) -> int:
    return history.record(Entry(command="generate", prompt=prompt, revised_prompt=revised))


@pytest.fixture(params=["trigram", "substring"])
def search_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the trigram index, and again as on a SQLite without it."""
    if request.param == "substring":
        monkeypatch.setattr(schema, "search_index_ready", lambda conn: False)
    return str(request.param)


def _ids(query: str) -> list[int]:
    with History() as store:
        return [entry.id or 0 for entry in store.search(query)]


def test_chinese_is_found_inside_words_that_have_no_spaces(search_mode: str) -> None:
    """水獭 (2 characters) and 水彩风格 (4) are found inside 一只水彩风格的水獭."""
    otter = _add(OTTER)
    _add("一只红色的狐狸")
    fox_revised = _add("a fox", revised="一只红色的狐狸在雪地里")
    with History() as store:
        store.connection()
        assert store.fts is (search_mode == "trigram")
    assert _ids("水獭") == [otter]
    assert _ids("水彩风格") == [otter]
    assert _ids("水彩风格的水獭") == [otter]
    assert _ids("水 獭") == [otter]  # every term, anywhere
    assert _ids("雪地") == [fox_revised]  # the revised prompt too
    assert _ids("浣熊") == [] and _ids("水彩风格的狐狸") == []


@pytest.mark.parametrize(("prompt", "query"), [
    ("東京の夜景、雨上がり", "夜景"), ("東京の夜景、雨上がり", "雨上がり"),
    ("고양이 그림", "고양이"), ("قطة في الحديقة", "الحديقة"),
    ("Привет, Мир!", "МИР"), ("Привет, Мир!", "прив"), ("Straße im Regen", "STRAßE"),
    ("a watercolor 水獭 at dawn", "Watercolor 水獭"), ("an 🦦 in a river", "🦦"),
    ("I ❤️ otters", "❤"), ("I ❤ otters", "❤️"), ("Ж", "ж"), ("Привет, Мир!", "мИ"),
])
def test_every_script_and_emoji_is_searchable(search_mode: str, prompt: str,
                                              query: str) -> None:
    """Japanese, Korean, Arabic, Cyrillic (case aside), mixed text and emoji are found."""
    wanted = _add(prompt)
    _add("something else entirely")
    assert _ids(query) == [wanted]


def test_search_terms_split_on_spaces_and_punctuation_only() -> None:
    """Emoji and symbols are terms; punctuation separates them, in any script."""
    assert search_terms("🦦") == ["🦦"]
    assert search_terms("水獭，水彩") == ["水獭", "水彩"]
    assert search_terms("red-fox") == ["red", "fox"]
    assert search_terms("...") == ["..."]
    assert search_terms("   ") == []


OLD_FTS = """
CREATE VIRTUAL TABLE runs_fts USING fts5(
    prompt, revised_prompt, content='runs', content_rowid='id'
);
CREATE TRIGGER runs_fts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts(rowid, prompt, revised_prompt)
    VALUES (new.id, new.prompt, new.revised_prompt);
END;
CREATE TRIGGER runs_fts_delete AFTER DELETE ON runs BEGIN
    INSERT INTO runs_fts(runs_fts, rowid, prompt, revised_prompt)
    VALUES ('delete', old.id, old.prompt, old.revised_prompt);
END;
"""


def _old_database() -> None:
    """A history written by vibeimg before version 3: a word index of the prompts."""
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(schema.SCHEMA + OLD_FTS)
    conn.executemany("INSERT INTO runs (created, command, prompt, outcome) VALUES (?, ?, ?, ?)",
                     [("2024-01-01T00:00:00Z", "generate", OTTER, "completed"),
                      ("2024-01-02T00:00:00Z", "generate", "a red fox", "completed")])
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def test_an_old_database_is_migrated_and_its_index_rebuilt() -> None:
    """A version 2 history gets the trigram index, filled with its earlier runs."""
    _old_database()
    with History() as store:
        assert [e.id for e in store.search("水獭")] == [1]
        assert [e.id for e in store.search("水彩风格")] == [1]
        assert [e.id for e in store.search("red")] == [2]
        assert store.fts
    newer = _add("一只水彩风格的狐狸")
    assert _ids("水彩风格") == [newer, 1]
    conn = sqlite3.connect(database_path())
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'runs_fts'").fetchone()[0]
    assert "trigram" in sql
    conn.close()


def test_an_old_database_without_trigrams_falls_back_to_substrings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where SQLite has no trigram tokenizer, the old word index goes and search still works."""
    monkeypatch.setattr(schema, "search_index_ready", lambda conn: False)
    _old_database()
    assert _ids("水彩风格") == [1]
    assert _add("一只水彩风格的狐狸") == 3  # no trigger left to fail on the old index
    assert _ids("水彩风格") == [3, 1]


def test_cli_search_finds_chinese_and_says_when_nothing_matches(cli) -> None:
    """history search 水獭 finds the run; no match says so on stderr, exit 0."""
    assert cli("generate", OTTER, *SMALL).exit_code == 0
    found = cli("history", "search", "水獭")
    assert found.exit_code == 0 and found.stdout.rstrip().endswith(OTTER)
    assert found.stderr == ""
    missing = cli("history", "search", "浣熊")
    assert (missing.exit_code, missing.stdout) == (0, "")
    assert missing.stderr == "no run in the history matches '浣熊'\n"
    as_json = cli("history", "search", "浣熊", "--json")
    assert json.loads(as_json.stdout) == {"runs": []} and "浣熊" in as_json.stderr


def test_cli_searches_for_emoji_instead_of_refusing(cli) -> None:
    """history search 🦦 looks for the emoji; only a blank search is refused."""
    assert cli("generate", "an 🦦 at dawn", *SMALL).exit_code == 0
    found = cli("history", "search", "🦦")
    assert found.exit_code == 0 and "an 🦦 at dawn" in found.stdout
    blank = cli("history", "search", " ")
    assert blank.exit_code == 2 and "nothing to search for" in blank.stderr


def test_cli_search_of_an_empty_history(cli) -> None:
    """Before any run, a search says the history is empty, and creates nothing."""
    result = cli("history", "search", "水獭")
    assert result.exit_code == 0 and result.stderr == "the history is empty: no run to search\n"
    assert not database_path().exists()


def test_a_long_chinese_prompt_is_cut_to_the_terminal_width() -> None:
    """In the listing, CJK characters count two columns, so a row never wraps."""
    assert _columns(OTTER) == 18 and _columns("otter") == 5
    assert _cut_to_columns(OTTER, 7) == "一只水"
    assert _cut_to_columns("a水b", 3) == "a水"
