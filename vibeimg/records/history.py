"""The run history: one SQLite row per run (a generate, an edit, a stream, a batch item).

Each row keeps the time, command, prompt, revised prompt, parameters, output paths,
request ids, usage, estimated cost and outcome; never the key. Prompts are searchable
in any language: SQLite's full-text index with the trigram tokenizer (FTS5, SQLite 3.34
or later) finds any run of 3 or more characters inside the text, Chinese included, where
words have no spaces between them; shorter terms, and SQLites without trigrams, are
looked for as substrings of every row.

The history must never stop an image from being saved: every failure here (a locked
or corrupt database, a full disk) is raised as :class:`HistoryError`, which the
command-line layer turns into a warning. Locks are waited on only briefly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vibeimg.errors import ExitCode, UsageError, VibeimgError
from vibeimg.records import schema
from vibeimg.records.killed import mark_killed
from vibeimg.records.runs import CostSummary, Entry
from vibeimg.records.terms import TRIGRAM, search_terms
from vibeimg.settings.folders import check_home, home_folder
from vibeimg.settings.resolve import data_dir, make_private_folder

LOCK_TIMEOUT = 1.0  # seconds to wait for another vibeimg writing the history
FILE_MODE = 0o600

_JSON_COLUMNS = ("parameters", "outputs", "request_ids", "usage")
ROWS_PER_INSERT = 50
_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(Entry) if f.name != "id")


class HistoryError(VibeimgError):
    """The history database cannot be read or written.

    Exit code 2, as for a broken config file: a local file the user must fix (move
    it aside) or wait for (a lock), not a bug of vibeimg's (1) nor the gateway's.
    """

    exit_code = ExitCode.USAGE


def database_path() -> Path:
    """Where the history lives: ``history.sqlite3`` in the data folder."""
    return data_dir() / "history.sqlite3"


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class History:
    """The history database; open it with ``with History() as history:``."""

    def __init__(self, path: Path | None = None, *, create: bool = True,
                 timeout: float | None = None) -> None:
        self.path = path or database_path()
        self.create = create
        self.timeout = LOCK_TIMEOUT if timeout is None else timeout
        self._conn: sqlite3.Connection | None = None
        self.fts = False

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def exists(self) -> bool:
        """Whether the database is there. An absent one is an empty history, but not in
        a ``VIBEIMG_HOME`` that cannot be (a file, a folder that cannot be created)."""
        try:
            self.path.stat()
        except (FileNotFoundError, NotADirectoryError):
            self._check_home()
            return False
        except OSError as exc:  # a folder on the way that cannot be read
            raise HistoryError(f"cannot read the history database {self.path}: "
                               f"{exc.strerror or exc}",
                               hint=f"fix the permissions of {self.path.parent}") from exc
        return True

    def _check_home(self) -> None:
        """A ``VIBEIMG_HOME`` holding the database is a folder vibeimg can use (made when
        missing), or a HistoryError naming the variable."""
        try:
            home = home_folder()
            if home is not None and home in self.path.parents:
                check_home(create=True)
        except UsageError as exc:
            raise HistoryError(exc.message, hint=exc.hint) from exc

    @contextlib.contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Any failure of the database within, raised as a HistoryError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HistoryError(
                    f"the history database {self.path} is locked by another program",
                    hint="try again, or turn history off with --no-history",
                ) from exc
            if "disk I/O error" in str(exc) or "disk is full" in str(exc):
                raise HistoryError(
                    f"cannot {action} the history database {self.path}: {exc}",
                    hint="check the free space and any file size limit (ulimit -f); the "
                    "database itself is likely fine",
                ) from exc
            raise HistoryError(f"cannot {action} the history database {self.path}: {exc}",
                               hint=self._fix()) from exc
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"the history database {self.path} is damaged ({exc})",
                               hint=self._fix()) from exc
        except (sqlite3.Error, OSError, ValueError, RecursionError) as exc:
            raise HistoryError(f"cannot {action} the history database {self.path}: {exc}",
                               hint=self._fix()) from exc

    def _fix(self) -> str:
        return f"move it aside (mv {self.path} {self.path}.bak) to start a new one"

    def connection(self) -> sqlite3.Connection:
        """The open database, set up, its runs whose process is gone marked killed."""
        if self._conn is not None:
            return self._conn
        if self.create:
            self._check_home()
        with self.errors("open"):
            if self.create:
                _prepare_file(self.path)
            # A run's row is written from the thread sending its request, under its lock.
            conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
            writable = True
            try:  # NORMAL syncs at WAL checkpoints: a power cut loses runs, never the file
                conn.execute("PRAGMA synchronous = NORMAL")
                self.fts = schema.set_up(conn)
            except sqlite3.OperationalError:
                conn.close()
                if self.create or os.access(self.path.parent, os.W_OK):
                    raise
                # A read-only folder: no WAL index there, and nobody writing: immutable.
                conn = sqlite3.connect(f"{self.path.absolute().as_uri()}?immutable=1", uri=True)
                self.fts = schema.set_up(conn)
                writable = False
            conn.row_factory = sqlite3.Row
            self._conn = conn
            # Case folding for substring search in any script (LIKE folds ASCII only).
            conn.create_function("vibeimg_fold", 1, _fold, deterministic=True)
            if writable:
                mark_killed(conn)
        return self._conn

    def add(self, entry: Entry, *, owner: str | None = None) -> int:
        """Store ``entry`` and return its id; with ``owner``, as a run in progress that
        the process ``owner`` names is making (:mod:`vibeimg.records.inprogress`)."""
        self.add_many([entry], owner=owner)
        return entry.id or 0

    def update_in_progress(self, owner: str, entry: Entry) -> None:
        """The requests sent so far by the run in progress of ``owner``, as ``entry``
        counts them, and what they may cost."""
        conn = self.connection()
        with self.errors("write"), conn:
            conn.execute("UPDATE runs SET requests_sent = ?, possible_cost_usd = ?, "
                         "offline = ? WHERE owner = ?", (entry.requests_sent,
                         entry.possible_cost_usd, int(entry.offline), owner))

    def finish_in_progress(self, owner: str, entry: Entry) -> bool:
        """Make the row of the run in progress of ``owner`` the record ``entry`` (its id
        set); False when there is no such row."""
        conn = self.connection()
        row = _row(entry)
        with self.errors("write"), conn:
            found = conn.execute("SELECT id FROM runs WHERE owner = ?", (owner,)).fetchone()
            if found is None:
                return False
            assignments = ", ".join(f"{name} = ?" for name in row)
            conn.execute(f"UPDATE runs SET {assignments}, owner = NULL WHERE id = ?",  # noqa: S608 - column names are ours; values are bound
                         (*row.values(), found[0]))
        entry.id = int(found[0])
        return True

    def add_many(self, entries: Sequence[Entry], *, owner: str | None = None) -> None:
        """Store ``entries`` in one transaction (one commit for a batch's finished items),
        setting each one's id."""
        conn = self.connection()
        rows = [_row(entry) | ({"owner": owner} if owner else {}) for entry in entries]
        if not rows:
            return
        names = ", ".join(rows[0])
        marks = "(" + ", ".join("?" * len(rows[0])) + ")"
        # Many rows a statement: SQLite is left (and the GIL taken back) once per
        # statement, not per row, while a batch's workers wait for the GIL.
        per = max(1, min(ROWS_PER_INSERT, 999 // len(rows[0])))
        with self.errors("write"), conn:
            for start in range(0, len(rows), per):
                chunk = rows[start:start + per]
                sql = f"INSERT INTO runs ({names}) VALUES {', '.join([marks] * len(chunk))}"  # noqa: S608 - fragments are constants; values are bound - column names are ours
                values = [value for row in chunk for value in row.values()]
                last = int(conn.execute(sql, values).lastrowid or 0)
                for offset, entry in enumerate(entries[start:start + len(chunk)]):
                    entry.id = last - len(chunk) + 1 + offset

    def _select(self, where: str = "", args: Sequence[Any] = (), *, limit: int | None = None,
                order: str = "runs.id DESC", join: str = "") -> list[Entry]:
        if not self.create and not self.exists:
            return []
        conn = self.connection()
        # Only our own clauses are formatted in; every value is a bound parameter.
        sql = f"SELECT runs.* FROM runs {join} {where} ORDER BY {order}"  # noqa: S608 - fragments are constants; values are bound
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.errors("read"):
            rows = conn.execute(sql, tuple(args)).fetchall()
            return [_entry(row) for row in rows]

    def recent(self, limit: int = 20, command: str | None = None) -> list[Entry]:
        if command:
            return self._select("WHERE command = ?", (command,), limit=limit)
        return self._select(limit=limit)

    def get(self, entry_id: int) -> Entry | None:
        found = self._select("WHERE runs.id = ?", (entry_id,))
        return found[0] if found else None

    def search(self, text: str, limit: int = 20) -> list[Entry]:
        """Runs whose prompt or revised prompt holds every term of ``text``.

        Terms are what lies between spaces and punctuation, in any script, symbols and
        emoji included; each is found anywhere inside the text, case aside.
        """
        terms = search_terms(text)
        if not terms:
            raise UsageError("nothing to search for", hint="give a word of the prompt")
        if not self.create and not self.exists:
            return []
        self.connection()
        clauses: list[str] = []
        args: list[str] = []
        indexed = [term for term in terms if self.fts and len(term) >= TRIGRAM]
        if indexed:
            query = " AND ".join('"' + term.replace('"', '""') + '"' for term in indexed)
            clauses.append("runs.id IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?)")
            args.append(query)
        for term in terms:
            if term in indexed:
                continue
            if term.isascii():  # LIKE folds ASCII letters itself, in C
                pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace(
                    "_", "\\_") + "%"
                clauses.append("(prompt LIKE ? ESCAPE '\\' OR "
                               "COALESCE(revised_prompt, '') LIKE ? ESCAPE '\\')")
                args += [pattern, pattern]
            elif len(term) < TRIGRAM:  # 水獭, 🦦, Ж: each way of writing it, in C
                spellings = sorted({"".join(letters) for letters in itertools.product(
                    *({char, char.lower(), char.upper()} for char in term))})
                clauses.append("(" + " OR ".join(
                    ["instr(prompt, ?) > 0 OR instr(COALESCE(revised_prompt, ''), ?) > 0"]
                    * len(spellings)) + ")")
                args += [spelling for spelling in spellings for _ in range(2)]
            else:  # no trigram index: folded in Python, row by row
                clauses.append("(instr(vibeimg_fold(prompt), ?) > 0 OR "
                               "instr(vibeimg_fold(COALESCE(revised_prompt, '')), ?) > 0)")
                args += [term.casefold(), term.casefold()]
        return self._select("WHERE " + " AND ".join(clauses), args, limit=limit)

    def cost(self, since: str | None = None, until: str | None = None, *,
             include_offline: bool = False) -> CostSummary:
        """Estimated spend of the runs made at ``since`` or later and before ``until``.

        Offline runs are left out of the totals (and counted apart) unless
        ``include_offline``, to rehearse what a batch run offline would cost."""
        clauses, args = [], []
        if since:
            clauses.append("created >= ?")
            args.append(since)
        if until:
            clauses.append("created < ?")
            args.append(until)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        # Totalled by SQLite from the spend index, one row per command and kind.
        sql = ("SELECT command, offline, COUNT(*), TOTAL(images), TOTAL(estimated_cost_usd), "  # noqa: S608 - fragments are constants; values are bound
               "TOTAL(possible_cost_usd), TOTAL(cost_extrapolated), MIN(id), "
               "TOTAL(outcome = 'killed'), "
               "TOTAL(CASE WHEN outcome = 'killed' THEN possible_cost_usd END), "
               f"TOTAL(outcome = 'running') FROM runs {where} GROUP BY command, offline")
        rows: list[Any] = []
        if self.create or self.exists:
            conn = self.connection()
            with self.errors("read"):
                rows = conn.execute(sql, tuple(args)).fetchall()
        rows.sort(key=lambda row: row[7])  # commands in the order they were first run
        by_command: dict[str, float] = {}
        runs = images = offline_runs = extrapolated = killed = running = 0
        total = possible = offline_cost = killed_cost = 0.0
        for command, offline, count, image_count, cost, maybe, guessed, _, *rest in rows:
            if offline:
                offline_runs += count
                offline_cost += cost
                if not include_offline:
                    continue
            runs += count
            images += int(image_count)
            total += cost
            possible += maybe
            extrapolated += int(guessed)
            killed, killed_cost = killed + int(rest[0]), killed_cost + rest[1]
            running += int(rest[2])
            by_command[command] = round(by_command.get(command, 0.0) + cost, 6)
        return CostSummary(
            since=since, until=until, runs=runs, images=images,
            estimated_cost_usd=round(total, 6), by_command=by_command,
            offline_runs=offline_runs, possible_cost_usd=round(possible, 6),
            offline_estimated_cost_usd=round(offline_cost, 6),
            include_offline=include_offline,
            extrapolated_runs=extrapolated, killed_runs=killed,
            killed_possible_cost_usd=round(killed_cost, 6), running_runs=running,
        )

    def count(self) -> int:
        if not self.create and not self.exists:
            return 0
        conn = self.connection()
        with self.errors("read"):
            return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def _row(entry: Entry) -> dict[str, Any]:
    """An entry as the columns of its row (lists and tables as JSON)."""
    entry.created = entry.created or now_utc()
    # Field by field, not as_json(): its deep copy is wasted on values dumped next.
    row = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    for column in _JSON_COLUMNS:
        row[column] = None if row[column] is None else json.dumps(row[column], default=str)
    row["offline"] = int(bool(row["offline"]))
    row["cost_extrapolated"] = int(bool(row["cost_extrapolated"]))
    return row


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _prepare_file(path: Path) -> None:
    """A private folder and file: prompts and paths are nobody else's business."""
    if path.exists():
        return
    make_private_folder(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(row)
    values.pop("owner", None)  # which process makes a run in progress: the history's own
    for column in _JSON_COLUMNS:
        raw = values.get(column)
        values[column] = None if raw is None else json.loads(raw)
    values["offline"] = bool(values["offline"])
    values["cost_extrapolated"] = bool(values.get("cost_extrapolated"))
    values["parameters"] = values["parameters"] or {}
    values["outputs"] = values["outputs"] or []
    values["request_ids"] = values["request_ids"] or []
    return Entry(**values)


def record(entry: Entry) -> int:
    """Record one run; raises HistoryError on failure."""
    with History() as history:
        return history.add(entry)
