"""The in-memory store: the real Store contract without durability, for tests and benches."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import replace

from ..errors import VersionConflict
from ..events import Event
from .base import ItemSummary


class MemoryStore:
    """Keeps everything in dicts; one event loop, so every operation is atomic."""

    def __init__(self) -> None:
        self._logs: dict[str, list[Event]] = {}
        self._items: dict[str, ItemSummary] = {}
        self._runnable: dict[str, None] = {}  # insertion-ordered set of claimable ids
        self._feed: list[Event] = []

    async def append(
        self,
        log: str,
        expected_version: int,
        events: Sequence[Event],
        summary: ItemSummary | None = None,
    ) -> list[Event]:
        existing = self._logs.get(log)
        actual = len(existing) if existing else 0
        if actual != expected_version:
            raise VersionConflict(log, expected_version, actual)
        if existing is None:
            existing = self._logs[log] = []
        stored = []
        position = len(self._feed)
        for event in events:
            position += 1
            stored.append(replace(event, position=position))
        existing.extend(stored)
        self._feed.extend(stored)
        if summary is not None:
            old = self._items.get(log)
            if summary.runnable and old is not None:
                summary = summary.with_lease(old.lease_owner, old.lease_until)
            else:
                summary = summary.with_lease(None, None)
            self._items[log] = summary
            if summary.runnable:
                self._runnable[log] = None
            else:
                self._runnable.pop(log, None)
        return stored

    async def load(self, log: str, after: int = 0) -> list[Event]:
        return list(self._logs.get(log, ())[after:])

    async def query(
        self,
        *,
        statuses: Collection[str] | None = None,
        queue: str | None = None,
        waiting: bool | None = None,
        item_ids: Collection[str] | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[ItemSummary]:
        if item_ids is not None:
            rows = [self._items[i] for i in item_ids if i in self._items]
        else:
            rows = list(self._items.values())
        rows = [
            r
            for r in rows
            if (statuses is None or r.status in statuses)
            and (queue is None or r.queue == queue)
            and (waiting is None or (r.waiting is not None) == waiting)
        ]
        rows.sort(key=lambda r: (r.created_at, r.item_id))
        end = None if limit is None else offset + limit
        return rows[offset:end]

    async def counts(self, queue: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self._items.values():
            if queue is None or r.queue == queue:
                counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    async def claim(
        self,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        queues: Collection[str] | None = None,
    ) -> list[str]:
        now = time.time()
        claimed: list[str] = []
        for item_id in self._runnable:
            if len(claimed) >= limit:
                break
            row = self._items[item_id]
            if queues is not None and row.queue not in queues:
                continue
            if row.lease_until is not None and row.lease_until > now:
                continue
            claimed.append(item_id)
        for item_id in claimed:
            self._items[item_id] = self._items[item_id].with_lease(owner, now + lease_seconds)
        return claimed

    async def renew(self, owner: str, item_ids: Collection[str], lease_seconds: float) -> list[str]:
        until = time.time() + lease_seconds
        held = []
        for item_id in item_ids:
            row = self._items.get(item_id)
            if row is not None and row.lease_owner == owner:
                self._items[item_id] = row.with_lease(owner, until)
                held.append(item_id)
        return held

    async def release(self, owner: str, item_ids: Collection[str]) -> None:
        for item_id in item_ids:
            row = self._items.get(item_id)
            if row is not None and row.lease_owner == owner:
                self._items[item_id] = row.with_lease(None, None)

    async def read(self, after: int = 0, limit: int = 1000) -> list[Event]:
        return self._feed[after : after + limit]

    async def close(self) -> None:
        return None
