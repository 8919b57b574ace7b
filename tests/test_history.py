"""The history database: recording, full-text search and its fallback, costs, damage."""

from __future__ import annotations

import sqlite3
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from vibeimg.cli.recording import BackgroundRecorder
from vibeimg.errors import UsageError
from vibeimg.records import history, schema
from vibeimg.records.history import History, HistoryError, database_path
from vibeimg.records.periods import parse_since
from vibeimg.records.runs import Entry, sum_usage
from vibeimg.ui import Reporter


def _add(**fields) -> int:
    fields.setdefault("command", "generate")
    fields.setdefault("prompt", "a prompt")
    return history.record(Entry(**fields))


def test_record_and_read_back_every_field() -> None:
    """A recorded run reads back with its lists and tables intact."""
    run_id = _add(prompt="a red fox", revised_prompt="A red fox in snow", model="gpt-image-2",
                  parameters={"size": "1024x1024", "count": 2}, outputs=["/a/fox.png"],
                  request_ids=["req_1"], usage={"total_tokens": 5}, estimated_cost_usd=0.012,
                  images=2, elapsed_seconds=1.5)
    with History() as store:
        entry = store.get(run_id)
    assert entry is not None
    assert entry.parameters == {"size": "1024x1024", "count": 2}
    assert entry.outputs == ["/a/fox.png"] and entry.request_ids == ["req_1"]
    assert entry.usage == {"total_tokens": 5} and entry.outcome == "completed"
    assert entry.created.endswith("Z") and entry.offline is False
    assert store.get(run_id + 1) is None


def test_database_is_private() -> None:
    """The database file is 0600 in a 0700 data folder."""
    _add()
    assert stat.S_IMODE(database_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(database_path().parent.stat().st_mode) == 0o700


def test_reading_a_missing_history_creates_nothing() -> None:
    """Listing or searching before any run finds nothing and writes no file."""
    with History(create=False) as store:
        assert store.recent() == [] and store.search("fox") == [] and store.count() == 0
    assert not database_path().exists()


@pytest.fixture(params=["fts5", "like"])
def search_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with SQLite's trigram index, and again with the substring fallback."""
    if request.param == "like":
        monkeypatch.setattr(schema, "search_index_ready", lambda conn: False)
    return str(request.param)


def test_search_matches_prompts_and_revised_prompts(search_mode: str) -> None:
    """Every word must appear, in the prompt or the revised prompt; newest first."""
    first = _add(prompt="a watercolor otter", revised_prompt="An otter painted softly")
    _add(prompt="a red fox")
    third = _add(prompt="an otter logo")
    with History() as store:
        assert [e.id for e in store.search("otter")] == [third, first]
        assert store.fts is (search_mode == "fts5")
        assert [e.id for e in store.search("otter painted")] == [first]
        assert [e.id for e in store.search("OTTER Watercolor")] == [first]
        assert store.search("badger") == []


def test_search_prefixes_and_odd_characters(search_mode: str) -> None:
    """Word prefixes match; quotes, stars and operators in the text are plain text."""
    wanted = _add(prompt='a "cat" AND * 100% ready')
    with History() as store:
        assert [e.id for e in store.search("wat")] == []
        _add(prompt="watercolor")
        assert len(store.search("wat")) == 1
        assert [e.id for e in store.search('"cat" AND')] == [wanted]
        assert [e.id for e in store.search("100")] == [wanted]
        assert store.search("*%") == []  # punctuation alone is looked for as it is
        assert [e.id for e in store.search("* 100%")] == [wanted]
        with pytest.raises(UsageError):
            store.search("  ")


def test_cost_totals_since_a_date_without_offline_runs() -> None:
    """The spend sums the estimates of runs since the date; offline runs are counted apart."""
    _add(created="2024-01-01T10:00:00Z", estimated_cost_usd=1.0, images=1)
    _add(created="2024-02-01T10:00:00Z", estimated_cost_usd=0.25, images=2)
    _add(created="2024-02-02T10:00:00Z", command="edit", estimated_cost_usd=0.5, images=1)
    _add(created="2024-02-03T10:00:00Z", estimated_cost_usd=9.0, offline=True, images=1)
    with History() as store:
        everything = store.cost()
        since = store.cost("2024-01-15T00:00:00Z")
        window = store.cost("2024-01-15T00:00:00Z", "2024-02-02T00:00:00Z")
    assert everything.estimated_cost_usd == 1.75 and everything.runs == 3
    assert since.estimated_cost_usd == 0.75 and since.images == 3
    assert since.by_command == {"generate": 0.25, "edit": 0.5} and since.offline_runs == 1
    assert window.estimated_cost_usd == 0.25 and window.runs == 1


def test_cost_reads_only_what_it_totals() -> None:
    """The spend is totalled in the database: a run whose stored lists no longer parse
    (an older or hand-edited row) still counts, and is not read into memory."""
    _add(estimated_cost_usd=0.5, images=2)
    broken = _add(command="edit", estimated_cost_usd=0.25, images=1)
    with History() as store:
        store.connection().execute("UPDATE runs SET outputs = 'not json' WHERE id = ?",
                                   (broken,))
        store.connection().commit()
        summary = store.cost()
    assert (summary.runs, summary.images, summary.estimated_cost_usd) == (2, 3, 0.75)
    assert summary.by_command == {"generate": 0.5, "edit": 0.25}


def test_parse_since_accepts_dates_and_spans() -> None:
    """--since takes a local date or time, today, yesterday, Nd or Nw; bad text is refused."""
    today = date(2024, 3, 10)
    local = datetime(2024, 3, 3).astimezone().astimezone(timezone.utc)
    assert parse_since("7d", today=today) == local.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse_since("1w", today=today) == parse_since("2024-03-03", today=today)
    assert parse_since("today", today=today) == parse_since("2024-03-10", today=today)
    assert parse_since("yesterday", today=today) == parse_since("2024-03-09")
    assert parse_since("2024-03-03T12:00:00+00:00") == "2024-03-03T12:00:00Z"
    with pytest.raises(UsageError):
        parse_since("last tuesday")


def test_usage_of_several_images_is_summed() -> None:
    """Token counts add up, nested tables too; no usage stays None."""
    assert sum_usage([None, None]) is None
    total = sum_usage([{"total_tokens": 3, "details": {"image_tokens": 1}},
                       None, {"total_tokens": 4, "details": {"image_tokens": 2}}])
    assert total == {"total_tokens": 7, "details": {"image_tokens": 3}}


def test_a_locked_database_is_reported_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    """While another program holds the lock, recording fails fast with a clear error."""
    monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.05)
    _add()
    holder = sqlite3.connect(database_path())
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError) as caught:
            _add()
    finally:
        holder.rollback()
        holder.close()
    assert "locked" in caught.value.one_line() and "--no-history" in caught.value.one_line()
    _add()  # and works again once the lock is gone


def test_a_corrupt_database_says_how_to_start_over() -> None:
    """A file that is not a database is reported with the command that sets it aside."""
    database_path().parent.mkdir(parents=True)
    database_path().write_bytes(b"this is not a database, " * 100)
    with pytest.raises(HistoryError) as caught:
        _add()
    assert "damaged" in caught.value.one_line() or "not a database" in caught.value.one_line()
    assert f"mv {database_path()}" in caught.value.one_line()


def test_unknown_fields_are_a_programming_error() -> None:
    """An Entry takes only its own fields (a typo fails loudly in tests)."""
    with pytest.raises(TypeError):
        Entry(command="generate", prompt="x", colour="red")  # type: ignore[call-arg]


def test_an_older_database_speaks_the_run_documents_words() -> None:
    """Rows written as "ok" by an older vibeimg read back as "completed", like --json."""
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO runs (created, command, prompt, outcome) "
                     "VALUES ('2026-01-01T00:00:00Z', 'generate', 'an old fox', 'ok')")
        conn.execute("PRAGMA user_version = 1")
    with History() as store:
        (entry,) = store.recent()
    assert entry.prompt == "an old fox" and entry.outcome == "completed"


#: The table as versions 1 and 2 made it: no possible_cost_usd column (nor version 7's).
OLD_SCHEMA = schema.SCHEMA.replace(",\n    possible_cost_usd REAL NOT NULL DEFAULT 0,\n"
                                   "    requests_sent INTEGER,\n    owner TEXT", "")


def test_an_older_database_gains_the_possible_cost() -> None:
    """A version 2 database gets the possible_cost_usd column (0 for its old rows) and
    keeps recording, possible spend apart from the cost of images received."""
    assert "possible_cost_usd" not in OLD_SCHEMA
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO runs (created, command, prompt, outcome, estimated_cost_usd) "
                     "VALUES ('2026-01-01T00:00:00Z', 'generate', 'an old fox', 'completed', 1)")
        conn.execute("PRAGMA user_version = 2")
    _add(created="2026-01-02T00:00:00Z", estimated_cost_usd=0.5, possible_cost_usd=0.25)
    with History() as store:
        new, old = store.recent(2)
        summary = store.cost()
    assert (old.possible_cost_usd, new.possible_cost_usd) == (0.0, 0.25)
    assert (summary.estimated_cost_usd, summary.possible_cost_usd) == (1.5, 0.25)


def test_a_database_whose_version_is_current_but_lacks_a_column_is_repaired() -> None:
    """A database marked with the current version but made before one of its columns
    (as a development build made them) gains the column and keeps its runs and recording."""
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    without = schema.SCHEMA.replace("    cost_extrapolated INTEGER NOT NULL DEFAULT 0,\n", "")
    assert "cost_extrapolated" not in without
    with sqlite3.connect(path) as conn:
        conn.executescript(without + schema.FTS_SCHEMA)
        conn.execute("CREATE INDEX runs_spend ON runs(command, offline, created, images, "
                     "estimated_cost_usd, possible_cost_usd)")
        conn.execute("INSERT INTO runs (created, command, prompt, outcome) "
                     "VALUES ('2026-01-01T00:00:00Z', 'generate', 'an old fox', 'completed')")
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
    conn.close()
    _add(created="2026-01-02T00:00:00Z", prompt="a new fox", cost_extrapolated=True)
    with History() as store:
        new, old = store.recent(2)
        found = store.search("fox")
        summary = store.cost()
        index = store.connection().execute(
            "SELECT sql FROM sqlite_master WHERE name = 'runs_spend'").fetchone()[0]
    assert summary.runs == 2 and "cost_extrapolated" in index
    assert (old.prompt, old.cost_extrapolated) == ("an old fox", False)
    assert (new.prompt, new.cost_extrapolated) == ("a new fox", True)
    assert {entry.prompt for entry in found} == {"an old fox", "a new fox"}


def test_cost_reads_an_index_not_the_runs_even_in_an_older_database() -> None:
    """A version-2 database gains the spend index when opened, and 'history cost' (all
    time or since a date) is answered from that index without reading any run's row."""
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO runs (created, command, prompt, outcome, images, "
                     "estimated_cost_usd) VALUES ('2026-01-01T00:00:00Z', 'generate', "
                     "'an old fox', 'completed', 1, 0.5)")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    with History() as store:
        conn = store.connection()
        traced: list[str] = []
        conn.set_trace_callback(traced.append)
        summary = store.cost()
        since = store.cost("2025-01-01T00:00:00Z")
        conn.set_trace_callback(None)
        queries = [sql for sql in traced if "TOTAL(" in sql]
        plans = [" ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
                 for sql in queries]
    assert summary.estimated_cost_usd == 0.5 and since.runs == 1
    assert len(plans) == 2 and all("COVERING INDEX runs_spend" in p for p in plans), plans


def test_file_in_use_path_is_the_data_folder(isolated_user_dirs: Path) -> None:
    """The database lives in the data folder under VIBEIMG_HOME."""
    assert database_path() == isolated_user_dirs / "data" / "history.sqlite3"


def test_a_batch_records_its_items_in_few_transactions(monkeypatch) -> None:
    """Items finishing faster than the history commits go in together: every one is
    recorded, in far fewer transactions than items, in the order they finished."""
    commits: list[int] = []
    real = History.add_many

    def counting(self, entries):
        commits.append(len(entries))
        return real(self, entries)

    monkeypatch.setattr(History, "add_many", counting)
    recorder = BackgroundRecorder(Reporter(quiet=True), True)
    for n in range(300):
        recorder.add(Entry(command="batch", prompt=f"item {n}"))
    recorder.close()
    with History() as store:
        prompts = [e.prompt for e in store.recent(limit=1000)]
    assert prompts == [f"item {n}" for n in reversed(range(300))]
    assert sum(commits) == 300 and len(commits) < 300


def test_many_runs_stored_at_once_each_get_the_id_of_their_own_row() -> None:
    """add_many writes many rows a statement: each entry's id is its own row's, in
    order, across statements, after earlier runs."""
    _add(prompt="before")
    entries = [Entry(command="batch", prompt=f"item {n}", images=n % 3) for n in range(123)]
    with History() as store:
        store.add_many(entries)
        assert [store.get(e.id or 0).prompt for e in entries] == [e.prompt for e in entries]
        assert [store.get(e.id or 0).images for e in entries] == [n % 3 for n in range(123)]
    assert len({e.id for e in entries}) == 123
