"""Bringing a SQLite file an older baton wrote up to the schema: what one upgrade needs
beyond `CREATE ... IF NOT EXISTS` (statements.prepare runs them all on every open)."""

from __future__ import annotations

import sqlite3

# the items' tags (from their submission) and agents (of their attempts, first one first),
# folded from each item's own events, found through UNIQUE (log, seq)
FILL_TAGS = """
UPDATE items SET tags = COALESCE((
    SELECT json_extract(CAST(e.data AS TEXT), '$.spec.tags') FROM events AS e
    WHERE e.log = items.item_id AND e.seq = 1 AND e.kind = 'item.submitted'
), '[]')
"""
FILL_AGENTS = """
UPDATE items SET agents = (
    SELECT json_group_array(agent) FROM (
        SELECT json_extract(CAST(e.data AS TEXT), '$.agent') AS agent, MIN(e.seq) AS first
        FROM events AS e WHERE e.log = items.item_id AND e.kind = 'attempt.started'
        GROUP BY agent ORDER BY first
    )
)
"""


def add_labels(conn: sqlite3.Connection) -> None:
    """A store written before the index kept tags and agents: add the columns and fill
    them from each item's log (once, in one transaction: no item changes meanwhile, and
    another process opening the file at the same moment finds it done)."""
    if "agents" in _columns(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if "agents" not in _columns(conn):
            conn.execute("ALTER TABLE items ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
            conn.execute("ALTER TABLE items ADD COLUMN agents TEXT NOT NULL DEFAULT '[]'")
            conn.execute(FILL_TAGS)
            conn.execute(FILL_AGENTS)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(items)")}
