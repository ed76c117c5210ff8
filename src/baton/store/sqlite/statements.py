"""The SQLite store's schema and statements, and how rows become events and summaries."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ...core.events import Event
from ...core.index import ItemSummary
from ..paging import Cursor, fold
from . import tallies, upgrades

T = TypeVar("T")

SCHEMA = resources.files("baton.store.sqlite").joinpath("schema.sql").read_text(encoding="utf-8")
CHUNK = 500  # ids per IN (...) clause, well under SQLite's variable limit


def chunks(ids: list[str]) -> Iterator[list[str]]:
    """`ids` in lists of CHUNK, one IN (...) clause each."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# the summary row carries the log's version, so for item logs the version check and the
# index update are one statement: an insert for a new item, a guarded update otherwise
INSERT_ITEM = """
INSERT INTO items (item_id, queue, status, runnable, waiting, version, attempts, objective,
                   created_at, updated_at, tags, agents, lease_owner, lease_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
ON CONFLICT (item_id) DO NOTHING
"""
UPDATE_ITEM = """
UPDATE items SET queue = ?, status = ?, runnable = ?, waiting = ?, version = ?, attempts = ?,
    objective = ?, created_at = ?, updated_at = ?, tags = ?, agents = ?,
    lease_owner = CASE WHEN ? THEN lease_owner END,
    lease_until = CASE WHEN ? THEN lease_until END
WHERE item_id = ? AND version = ? AND (? IS NULL OR lease_fence = ?)
"""
EVENT_COLUMNS = "log, seq, kind, at, data, prev, hash, position"
INSERT_EVENT = (
    "INSERT INTO events (log, seq, kind, at, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
CLAIMABLE = (
    "SELECT 1 FROM items WHERE runnable = 1 AND (lease_until IS NULL OR lease_until <= ?) LIMIT 1"
)
WATCH_INTERVAL = 0.05  # seconds between looks at PRAGMA data_version while someone watches
COLUMNS = (
    "item_id, queue, status, runnable, waiting, version, attempts, objective, "
    "created_at, updated_at, lease_owner, lease_until, tags, agents"
)


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection to the file as every one of the store's is set up: WAL, autocommit
    (transactions are begun by hand), a generous busy timeout."""
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


def prepare(conn: sqlite3.Connection) -> None:
    """Create the schema (once), and bring a store written by an older baton up to it."""
    conn.executescript(SCHEMA)
    _add_fences(conn)
    upgrades.add_labels(conn)
    _count_items(conn)
    tallies.mark_if_new(conn)


ITEM_COUNTS = (
    """CREATE TABLE item_counts (
        queue  TEXT    NOT NULL,
        status TEXT    NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (queue, status)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER item_counted AFTER INSERT ON items BEGIN
        INSERT INTO item_counts VALUES (NEW.queue, NEW.status, 1)
        ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER item_recounted AFTER UPDATE OF queue, status ON items
    WHEN OLD.queue IS NOT NEW.queue OR OLD.status IS NOT NEW.status BEGIN
        UPDATE item_counts SET n = n - 1 WHERE queue = OLD.queue AND status = OLD.status;
        INSERT INTO item_counts VALUES (NEW.queue, NEW.status, 1)
        ON CONFLICT (queue, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER item_uncounted AFTER DELETE ON items BEGIN
        UPDATE item_counts SET n = n - 1 WHERE queue = OLD.queue AND status = OLD.status;
    END""",
)
"""How many items each queue has in each status, kept by triggers in the transaction that
changes the items (so `counts` reads a few rows, not the index, at any store size)."""

COUNTS = "SELECT status, SUM(n) FROM item_counts{where} GROUP BY status HAVING SUM(n) > 0"
QUEUES = "SELECT queue FROM item_counts GROUP BY queue HAVING SUM(n) > 0 ORDER BY queue"


def _count_items(conn: sqlite3.Connection) -> None:
    """Create the item counts (once), filled from the items a store written by an older
    baton already holds: in one transaction, so no item changes between the count and the
    triggers."""
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_counts'"
    if conn.execute(exists).fetchone():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not conn.execute(exists).fetchone():  # another process may have been first
            for statement in ITEM_COUNTS:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO item_counts SELECT queue, status, COUNT(*) FROM items "
                "GROUP BY queue, status"
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _add_fences(conn: sqlite3.Connection) -> None:
    """A store written by baton 0.2.0 or before has no lease_fence column: add it (once;
    another process opening the file at the same moment may have added it first)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
    if "lease_fence" in columns:
        return
    try:
        conn.execute("ALTER TABLE items ADD COLUMN lease_fence INTEGER NOT NULL DEFAULT 0")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise


def wipe(conn: sqlite3.Connection) -> None:
    """Everything gone (`Store.drop`): positions start again from 1."""
    conn.execute("DELETE FROM events")
    conn.execute("DELETE FROM items")
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
    conn.execute("DELETE FROM item_counts")
    conn.execute("DELETE FROM tallies")
    tallies.mark_if_new(conn)


OPEN_WITHIN = 15.0
"""Seconds an open keeps trying while another process holds the file locked."""


def while_locked(opening: Callable[[], T]) -> T:
    """`opening()`, tried again while the file is locked: two processes opening a new store
    at once (a worker and a submit) race to switch it to WAL and create its schema, and
    SQLite answers the loser "database is locked" at once, without waiting its busy
    timeout (a lock upgrade that would deadlock)."""
    deadline = time.monotonic() + OPEN_WITHIN
    pause = 0.02
    while True:
        try:
            return opening()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def event_of(row: tuple[Any, ...]) -> Event:
    return Event(row[0], row[1], row[2], row[3], orjson.loads(row[4]), row[5], row[6], row[7])


def summary_of(row: tuple[Any, ...]) -> ItemSummary:
    tags, agents = row[12], row[13]  # JSON arrays; '[]' the common case, read without JSON
    return ItemSummary._make(
        (
            *row[:3],
            bool(row[3]),
            *row[4:12],
            tuple(orjson.loads(tags)) if tags != "[]" else (),
            tuple(orjson.loads(agents)) if agents != "[]" else (),
        )
    )


def row_values(s: ItemSummary) -> tuple[Any, ...]:
    """An index row's values as INSERT_ITEM and UPDATE_ITEM take them, after its id (tags
    and agents as JSON arrays)."""
    return (
        *(s.queue, s.status, int(s.runnable), s.waiting, s.version, s.attempts, s.objective),
        *(s.created_at, s.updated_at, _labels(s.tags), _labels(s.agents)),
    )


def _labels(values: tuple[str, ...]) -> str:
    return orjson.dumps(values).decode() if values else "[]"


def with_position(event: Event, position: int) -> Event:
    return Event(
        event.log, event.seq, event.kind, event.at, event.data, event.prev, event.hash, position
    )


# the hashes of many (log, seq) events (Store.hashes): each found through UNIQUE (log, seq)
HASHES = """
SELECT e.log, e.seq, e.hash FROM json_each(?) AS j
  JOIN events AS e ON e.log = j.value ->> 0 AND e.seq = j.value ->> 1
"""


# an archive's events dropped (Store.forget): only while the marker after them is there
FORGET = """
DELETE FROM events WHERE log = ? AND seq <= ?
  AND EXISTS (SELECT 1 FROM events WHERE log = ? AND seq = ?)
"""


def query_sql(
    *,
    statuses: Collection[str] | None,
    queue: str | None,
    waiting: bool | None,
    item_ids: Collection[str] | None,
    text: str | None = None,
    tag: str | None = None,
    agent: str | None = None,
    newest: bool = False,
    cursor: Cursor | None = None,
    limit: int | None,
    offset: int,
) -> tuple[str, list[Any]]:
    """The statement `SqliteStore.query` runs, and its parameters. Ids go in as one JSON
    array (`json_each`): any number of them, each found through the primary key (an
    `IN (?, ?, ...)` list is capped by SQLite's variable limit, and splitting it would
    break the order and the paging)."""
    where: list[str] = []
    params: list[Any] = []
    if statuses is not None:
        where.append(f"status IN ({','.join('?' * len(statuses))})" if statuses else "0")
        params.extend(statuses)
    if queue is not None:
        where.append("queue = ?")
        params.append(queue)
    if waiting is not None:
        where.append("waiting IS NOT NULL" if waiting else "waiting IS NULL")
    if item_ids is not None:
        where.append("item_id IN (SELECT value FROM json_each(?))")
        params.append(orjson.dumps(sorted(set(item_ids))).decode())
    if text:  # SQLite's lower() folds ASCII letters only: paging.fold does the same
        where.append("(instr(lower(objective), ?) > 0 OR instr(lower(item_id), ?) > 0)")
        params.extend([fold(text)] * 2)
    for column, value in (("tags", tag), ("agents", agent)):
        if value is not None:
            where.append(f"EXISTS (SELECT 1 FROM json_each(items.{column}) WHERE value = ?)")
            params.append(value)
    if cursor is not None:  # a row value: the order's index is searched, not scanned
        where.append(f"(created_at, item_id) {'<' if newest else '>'} (?, ?)")
        params.extend(cursor)
    sql = f"SELECT {COLUMNS} FROM items"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = " DESC" if newest else ""
    sql += f" ORDER BY created_at{order}, item_id{order} LIMIT ? OFFSET ?"
    params.extend([-1 if limit is None else limit, offset])
    return sql, params
