"""The history database's schema, and the migrations that bring an older one up to date.

A database records its schema version (``PRAGMA user_version``); one made by an older
vibeimg is migrated step by step when it is first opened, never rebuilt, so no run is
lost. A new step is a new ``SCHEMA_VERSION`` with its entry in ``_MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 7
#: The columns added to ``runs`` since version 1, with their definitions. A database's
#: version alone does not prove it has them: development builds gave the same version
#: numbers to different steps, so one marked current can lack a column (and then every
#: run failed to be recorded). They are checked at each opening, and added where missing.
ADDED_COLUMNS = {
    "possible_cost_usd": "REAL NOT NULL DEFAULT 0",
    "cost_extrapolated": "INTEGER NOT NULL DEFAULT 0",
    "requests_sent": "INTEGER",
    "owner": "TEXT",
}


def _runs_in_progress(conn: sqlite3.Connection) -> None:
    """Version 7's step: the columns of a run in progress; the spend index made again."""
    add_column(conn, "requests_sent", ADDED_COLUMNS["requests_sent"])
    add_column(conn, "owner", ADDED_COLUMNS["owner"])
    conn.execute("DROP INDEX IF EXISTS runs_spend")


#: Changes to a database made by an older vibeimg, by the version they lead to: a
#: script, or a function of the connection.
MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {
    # Version 2: the outcome speaks the run documents' words (completed, not ok).
    2: "UPDATE runs SET outcome = 'completed' WHERE outcome = 'ok';",
    # Version 3: the word index (unicode61) could not find 水獭 inside 一只水彩风格的水獭;
    # it is replaced by a trigram index, rebuilt from the rows (see search_index_ready).
    3: """
    DROP TRIGGER IF EXISTS runs_fts_insert;
    DROP TRIGGER IF EXISTS runs_fts_delete;
    DROP TABLE IF EXISTS runs_fts;
    """,
    # Version 4: what may have been billed with no image received, apart from the cost.
    4: lambda conn: add_column(conn, "possible_cost_usd", ADDED_COLUMNS["possible_cost_usd"]),
    # Version 5: whether the cost is extrapolated (a size outside the price table).
    5: lambda conn: add_column(conn, "cost_extrapolated", ADDED_COLUMNS["cost_extrapolated"]),
    # Version 6: the spend index (SPEND_INDEX, made after every migration, as for a new
    # database) and write-ahead logging (set in set_up(), as for a new database).
    # Version 7: a run is recorded before its first request goes out ('running', with
    # the process that makes it as its owner, and its requests sent kept current), so a
    # run killed before it could record its end is found ('killed') and its requests
    # priced as possibly billed. The spend index gains the outcome (made again).
    7: _runs_in_progress,
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    command TEXT NOT NULL,
    prompt TEXT NOT NULL,
    revised_prompt TEXT,
    model TEXT,
    parameters TEXT NOT NULL DEFAULT '{}',
    outputs TEXT NOT NULL DEFAULT '[]',
    request_ids TEXT NOT NULL DEFAULT '[]',
    usage TEXT,
    estimated_cost_usd REAL NOT NULL DEFAULT 0,
    cost_extrapolated INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL,
    error TEXT,
    offline INTEGER NOT NULL DEFAULT 0,
    images INTEGER NOT NULL DEFAULT 0,
    elapsed_seconds REAL,
    possible_cost_usd REAL NOT NULL DEFAULT 0,
    requests_sent INTEGER,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
"""
# 'history cost' totals from this index alone: it never reads the runs' prompts and lists.
SPEND_INDEX = """
CREATE INDEX IF NOT EXISTS runs_spend ON runs(command, offline, created, images,
    estimated_cost_usd, possible_cost_usd, cost_extrapolated, outcome);
CREATE INDEX IF NOT EXISTS runs_in_progress ON runs(owner) WHERE owner IS NOT NULL;
"""
FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS runs_fts USING fts5(
    prompt, revised_prompt, content='runs', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS runs_fts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts(rowid, prompt, revised_prompt)
    VALUES (new.id, new.prompt, new.revised_prompt);
END;
CREATE TRIGGER IF NOT EXISTS runs_fts_delete AFTER DELETE ON runs BEGIN
    INSERT INTO runs_fts(runs_fts, rowid, prompt, revised_prompt)
    VALUES ('delete', old.id, old.prompt, old.revised_prompt);
END;
CREATE TRIGGER IF NOT EXISTS runs_fts_update AFTER UPDATE OF prompt, revised_prompt ON runs
BEGIN
    INSERT INTO runs_fts(runs_fts, rowid, prompt, revised_prompt)
    VALUES ('delete', old.id, old.prompt, old.revised_prompt);
    INSERT INTO runs_fts(rowid, prompt, revised_prompt)
    VALUES (new.id, new.prompt, new.revised_prompt);
END;
"""

def set_up(conn: sqlite3.Connection) -> bool:
    """Bring the database of ``conn`` to SCHEMA_VERSION (a new one from scratch, an older
    one by its migrations); whether its prompts have the trigram search index."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION and not missing_columns(conn):
        # Set up already: skip the schema script and its write to the file.
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs_fts'"
                            ).fetchone() is not None
    # Write-ahead logging: a commit appends to the log (one fsync) instead of journalling
    # pages, and readers (history, search) never wait for a batch recording its items.
    # It stays set in the file.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        if version and step in MIGRATIONS:  # a new database needs none
            migration = MIGRATIONS[step]
            if callable(migration):
                migration(conn)
            else:
                conn.executescript(migration)
    missing = missing_columns(conn)  # in a database whose version claims more than it has
    for name in missing:
        add_column(conn, name, ADDED_COLUMNS[name])
    if missing:  # its spend index was made without them: 'history cost' needs them there
        conn.execute("DROP INDEX IF EXISTS runs_spend")
    conn.executescript(SPEND_INDEX)
    ready = search_index_ready(conn)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()
    return ready


def search_index_ready(conn: sqlite3.Connection) -> bool:
    """Create the trigram index of the prompts, filled from the rows already there;
    False when this SQLite has no FTS5 or no trigram tokenizer (before 3.34)."""
    try:
        conn.executescript(FTS_SCHEMA)
        conn.execute("INSERT INTO runs_fts(runs_fts) VALUES ('rebuild')")
    except sqlite3.OperationalError:
        return False
    return True


def missing_columns(conn: sqlite3.Connection) -> list[str]:
    """The ADDED_COLUMNS that ``runs`` lacks (a read of the table's header, no write)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    return [name for name in ADDED_COLUMNS if name not in present]


def add_column(conn: sqlite3.Connection, name: str, definition: str) -> None:
    """Add a column to ``runs`` unless it is there already."""
    if name not in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}:
        conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")
