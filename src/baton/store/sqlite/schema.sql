-- baton's SQLite schema: per-log events in one table (global order = position), and one
-- summary row per item (the index that queries, claims and the inbox read).
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    log      TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    at       REAL    NOT NULL,
    data     BLOB    NOT NULL,
    prev     TEXT    NOT NULL,
    hash     TEXT    NOT NULL,
    UNIQUE (log, seq)
);

CREATE TABLE IF NOT EXISTS items (
    item_id     TEXT PRIMARY KEY,
    queue       TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    runnable    INTEGER NOT NULL,
    waiting     TEXT,
    version     INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    objective   TEXT    NOT NULL,
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    lease_fence INTEGER NOT NULL DEFAULT 0, -- raised by every claim (store/base.py)
    tags        TEXT    NOT NULL DEFAULT '[]', -- JSON arrays: the item's tags, and every
    agents      TEXT    NOT NULL DEFAULT '[]'  -- agent an attempt of it ran on
);

-- the claim order (ItemSummary.claim_score): items that have had an attempt first, then
-- never-started ones, each oldest update first; baton 0.2.0 claimed by update alone
DROP INDEX IF EXISTS items_claim;
CREATE INDEX IF NOT EXISTS items_ready ON items (runnable, queue, attempts = 0, updated_at);
CREATE INDEX IF NOT EXISTS items_status ON items (status, created_at);
CREATE INDEX IF NOT EXISTS items_created ON items (created_at, item_id);
-- one playbook's items in either order (GET /api/items?playbook=), from a cursor
CREATE INDEX IF NOT EXISTS items_queue ON items (queue, created_at, item_id);

-- the read model of the figures (core/tally.py): counters every append adds to
CREATE TABLE IF NOT EXISTS tallies (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
