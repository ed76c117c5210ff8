"""The SQLite store: baton's embedded default, one file (WAL) shared by every process.

Writes are group-committed: every write queued during one turn of the event loop runs in
a single transaction, and each caller's future resolves only after COMMIT, so every step
is durable before the next begins. With synchronous=NORMAL (the default) in WAL mode a
committed write survives the process being killed; synchronous=FULL also survives power
loss, at the price of an fsync per group. Writes run on the loop's thread: a commit takes
microseconds, and another process holding the write lock (a CLI approving an item) makes
it wait at most busy_timeout. Reads use their own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from ...core.events import Event
from ...core.index import ItemSummary
from ...errors import LeaseLost, NotFound, StoreError, VersionConflict
from ..base import Claim, Topic, Watchers
from ..blobfiles import BlobFolder
from ..paging import Cursor
from . import tallies
from .statements import (
    CLAIMABLE,
    COUNTS,
    EVENT_COLUMNS,
    FORGET,
    HASHES,
    INSERT_EVENT,
    INSERT_ITEM,
    QUEUES,
    UPDATE_ITEM,
    WATCH_INTERVAL,
    chunks,
    connect,
    event_of,
    prepare,
    query_sql,
    row_values,
    summary_of,
    while_locked,
    wipe,
    with_position,
)

T = TypeVar("T")


class _Op:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Any] = self.loop.create_future()


class SQLiteStore:
    """Event logs, item index and leases in one SQLite file."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        # what one event may not hold: a folder beside the file (baton.db: baton.db.blobs/)
        self.blobs = BlobFolder(self.path.with_name(self.path.name + ".blobs"))
        with self._mapped("open"):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"SQLite store {self.path}: cannot create its folder: {exc}"
                ) from exc
            self._reader = while_locked(self._prepared)
        self._read_lock = threading.Lock()
        with self._mapped("open"):
            self._writer = while_locked(self._connect)
        self._pending: list[_Op] = []
        self._closed = False
        self._watchers = Watchers()
        self._poller: asyncio.Task[None] | None = None

    def _prepared(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, self.synchronous)

    @contextlib.contextmanager
    def _mapped(self, operation: str) -> Iterator[None]:
        """Translate sqlite3's exceptions into StoreError naming the file and operation."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {operation} failed: {exc}") from exc

    # --- writes (writer thread, group commit) -------------------------------------------
    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed")
        op = _Op(fn)
        self._pending.append(op)
        if len(self._pending) == 1:  # the first write of this turn of the loop schedules the flush
            op.loop.call_soon(self._flush)
        return cast(T, await op.future)

    def _flush(self) -> None:
        """Group commit: every write queued during this turn of the loop, in one transaction."""
        ops, self._pending = self._pending, []
        if ops:
            self._run_batch(self._writer, ops)

    def _run_batch(self, conn: sqlite3.Connection, ops: list[_Op]) -> None:
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                try:
                    results.append((True, op.fn(conn)))
                except (VersionConflict, LeaseLost) as exc:  # checked before writing
                    results.append((False, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            error = StoreError(f"SQLite store {self.path}: write failed: {exc}")
            error.__cause__ = exc
            results = [(False, error)] * len(ops)
        _settle_all([(op.future, ok, value) for op, (ok, value) in zip(ops, results, strict=True)])

    async def append(
        self,
        log: str,
        expected_version: int,
        events: Sequence[Event],
        summary: ItemSummary | None = None,
        *,
        fence: int | None = None,
        tally: Mapping[str, int] | None = None,
    ) -> list[Event]:
        rows = [(e.log, e.seq, e.kind, e.at, orjson.dumps(e.data), e.prev, e.hash) for e in events]

        def write(conn: sqlite3.Connection) -> list[int]:
            if summary is None:
                found = conn.execute(
                    "SELECT seq FROM events WHERE log = ? ORDER BY seq DESC LIMIT 1", (log,)
                ).fetchone()
                if (found[0] if found else 0) != expected_version:
                    raise VersionConflict(log, expected_version, found[0] if found else 0)
            else:
                s = summary
                values = row_values(s)
                if expected_version == 0:
                    done = conn.execute(INSERT_ITEM, (s.item_id, *values)).rowcount
                else:
                    runnable = int(s.runnable)
                    guard = (runnable, runnable, s.item_id, expected_version, fence, fence)
                    done = conn.execute(UPDATE_ITEM, (*values, *guard)).rowcount
                if not done:
                    row = conn.execute(
                        "SELECT version, lease_fence FROM items WHERE item_id = ?", (log,)
                    ).fetchone()
                    if row and fence is not None and row[1] != fence:
                        raise LeaseLost(log, fence, row[1])
                    raise VersionConflict(log, expected_version, row[0] if row else 0)
            if tally:
                tallies.add(conn, tally)
            if len(rows) == 1:
                position = conn.execute(INSERT_EVENT, rows[0]).lastrowid
                assert position is not None  # an INSERT sets it
                return [position]
            conn.executemany(INSERT_EVENT, rows)
            # one writer holds the lock, so the rows just inserted have consecutive positions
            last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            return list(range(last - len(rows) + 1, last + 1))

        positions = await self._write(write)
        return [with_position(e, p) for e, p in zip(events, positions, strict=True)]

    async def claim(
        self, owner: str, *, limit: int, lease_seconds: float, queues: Collection[str] | None = None
    ) -> list[Claim]:
        queue_list = list(queues) if queues is not None else None

        def write(conn: sqlite3.Connection) -> list[Claim]:
            now = time.time()
            where = "runnable = 1 AND (lease_until IS NULL OR lease_until <= ?)"
            params: list[Any] = [now]
            if queue_list is not None:
                if not queue_list:
                    return []
                where += f" AND queue IN ({','.join('?' * len(queue_list))})"
                params.extend(queue_list)
            sql = (  # the order of ItemSummary.claim_score (the items_ready index)
                "UPDATE items SET lease_owner = ?, lease_until = ?, lease_fence = lease_fence + 1 "
                f"WHERE item_id IN (SELECT item_id FROM items WHERE {where} "
                "ORDER BY attempts = 0, updated_at LIMIT ?) "
                "RETURNING item_id, lease_fence"
            )
            rows = conn.execute(sql, [owner, now + lease_seconds, *params, limit])
            return [Claim(item_id, fence) for item_id, fence in rows]

        return await self._write(write)

    async def renew(self, owner: str, item_ids: Collection[str], lease_seconds: float) -> list[str]:
        ids = list(item_ids)

        def write(conn: sqlite3.Connection) -> list[str]:
            until = time.time() + lease_seconds
            held: list[str] = []
            for chunk in chunks(ids):
                marks = ",".join("?" * len(chunk))
                sql = (
                    "UPDATE items SET lease_until = ? WHERE lease_owner = ? "
                    f"AND item_id IN ({marks}) RETURNING item_id"
                )
                held.extend(r[0] for r in conn.execute(sql, [until, owner, *chunk]))
            return held

        return await self._write(write)

    async def release(self, owner: str, item_ids: Collection[str]) -> None:
        ids = list(item_ids)

        def write(conn: sqlite3.Connection) -> None:
            for chunk in chunks(ids):
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    "UPDATE items SET lease_owner = NULL, lease_until = NULL "
                    f"WHERE lease_owner = ? AND item_id IN ({marks})",
                    [owner, *chunk],
                )

        await self._write(write)

    async def hashes(self, events: Collection[tuple[str, int]]) -> dict[tuple[str, int], str]:
        found: dict[tuple[str, int], str] = {}
        wanted = list(events)
        for i in range(0, len(wanted), 50_000):  # one JSON array a statement
            part = orjson.dumps(wanted[i : i + 50_000]).decode()
            found.update({(r[0], r[1]): r[2] for r in self._read("hashes", HASHES, (part,))})
        return found

    async def forget(self, log: str, through: int) -> int:
        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(FORGET, (log, through, log, through + 1)).rowcount

        return await self._write(write)

    # --- reads (reader connection) -------------------------------------------------------
    def _read(self, operation: str, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed")
        with self._read_lock, self._mapped(operation):
            return self._reader.execute(sql, params).fetchall()

    async def load(self, log: str, after: int = 0) -> list[Event]:
        rows = self._read(
            "load",
            f"SELECT {EVENT_COLUMNS} FROM events WHERE log = ? AND seq > ? ORDER BY seq",
            (log, after),
        )
        return [event_of(r) for r in rows]

    async def read(self, after: int = 0, limit: int = 1000) -> list[Event]:
        rows = self._read(
            "read",
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [event_of(r) for r in rows]

    async def query(
        self,
        *,
        statuses: Collection[str] | None = None,
        queue: str | None = None,
        waiting: bool | None = None,
        item_ids: Collection[str] | None = None,
        text: str | None = None,
        tag: str | None = None,
        agent: str | None = None,
        newest: bool = False,
        cursor: Cursor | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[ItemSummary]:
        sql, params = query_sql(
            statuses=statuses,
            queue=queue,
            waiting=waiting,
            item_ids=item_ids,
            text=text,
            tag=tag,
            agent=agent,
            newest=newest,
            cursor=cursor,
            limit=limit,
            offset=offset,
        )
        return [summary_of(r) for r in self._read("query", sql, params)]

    async def queues(self) -> list[str]:
        return [row[0] for row in self._read("queues", QUEUES, ())]

    async def counts(self, queue: str | None = None) -> dict[str, int]:
        where, params = (" WHERE queue = ?", [queue]) if queue is not None else ("", [])
        return dict(self._read("counts", COUNTS.format(where=where), params))

    # --- watching (any process's commits, seen through PRAGMA data_version) ------------
    def watch(self, topic: Topic, callback: Callable[[], None]) -> Callable[[], None]:
        stop = self._watchers.add(topic, callback)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_changes())
        return stop

    async def _poll_changes(self) -> None:
        """Every WATCH_INTERVAL, notify watchers if any connection (any process) committed."""
        seen = self._read("watch", "PRAGMA data_version", ())[0][0]
        while self._watchers and not self._closed:
            await asyncio.sleep(WATCH_INTERVAL)
            if self._closed:
                return
            version = self._read("watch", "PRAGMA data_version", ())[0][0]
            if version == seen:
                continue
            seen = version
            self._watchers.notify("feed")
            if self._watchers.wanted("work") and self._read("watch", CLAIMABLE, (time.time(),)):
                self._watchers.notify("work")

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        return dict(self._read("tallies", *tallies.select(prefix)))

    async def put_tallies(self, values: Mapping[str, int], *, through: int) -> bool:
        return await self._write(lambda conn: tallies.replace(conn, values, through))

    async def put_blobs(self, blobs: Mapping[str, bytes]) -> None:
        await self.blobs.put(blobs)

    async def get_blob(self, digest: str) -> bytes | None:
        return await self.blobs.get(digest)

    async def drop(self) -> None:
        self.blobs.drop()

        await self._write(wipe)

    async def close(self) -> None:
        if self._closed:
            return
        self._flush()
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
        self._writer.close()
        with self._read_lock:
            self._reader.close()


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def open_sqlite(url: str, *, create: bool, reconnect: float | None = None) -> SQLiteStore:
    """The `baton.stores` opener of sqlite:///path and of plain file paths."""
    path = Path(url.removeprefix("sqlite://"))
    if not create and not path.exists():
        raise NotFound(
            f"no baton store at {path}: nothing has run here yet "
            "(start with `baton run PLAYBOOK ITEMS`, or point --store / BATON_STORE at one)"
        )
    return SQLiteStore(path)
