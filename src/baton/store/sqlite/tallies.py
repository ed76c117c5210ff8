"""The SQLite store's counters of the figures (core/tally.py): one row a counter, added
to in the transaction of the append that changes it."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from ...core.tally import META, VERSION

# sums, but `.min` / `.max` names keep the least / greatest value (core/tally.py)
ADD = """
INSERT INTO tallies (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = CASE
    WHEN name LIKE '%.min' THEN min(value, excluded.value)
    WHEN name LIKE '%.max' THEN max(value, excluded.value)
    ELSE value + excluded.value END
"""
HEAD = "SELECT COALESCE(MAX(position), 0) FROM events"


def add(conn: sqlite3.Connection, tally: Mapping[str, int]) -> None:
    conn.executemany(ADD, tally.items())


def select(prefix: str) -> tuple[str, tuple[str, ...]]:
    """The query of the counters whose names start with `prefix` (a range of the key)."""
    if not prefix:
        return "SELECT name, value FROM tallies", ()
    past = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first name after every match
    return "SELECT name, value FROM tallies WHERE name >= ? AND name < ?", (prefix, past)


def replace(conn: sqlite3.Connection, values: Mapping[str, int], through: int) -> bool:
    """Put `values` in place of every counter, if the store's newest event is still at
    position `through` (what they were computed up to); False, writing nothing, if not."""
    if conn.execute(HEAD).fetchone()[0] != through:
        return False
    conn.execute("DELETE FROM tallies")
    conn.executemany("INSERT INTO tallies (name, value) VALUES (?, ?)", values.items())
    return True


def mark_if_new(conn: sqlite3.Connection) -> None:
    """A store without events is covered by its counters from its first append on; one
    an older baton wrote is not, until they are rebuilt from its log (services/metrics)."""
    if conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
        conn.execute("INSERT OR IGNORE INTO tallies (name, value) VALUES (?, ?)", (META, VERSION))
