"""The in-memory store: the real Store contract without durability, for tests and benches."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from ..core.events import Event
from ..core.index import ItemSummary
from ..core.tally import META, VERSION, Tally, merge
from ..errors import LeaseLost, VersionConflict
from .base import Claim, Topic, Watchers
from .paging import Cursor, page

_new = tuple.__new__  # an Event with its position, without the NamedTuple's __new__ (hot path)


class MemoryStore:
    """Keeps everything in dicts; one event loop, so every operation is atomic."""

    def __init__(self) -> None:
        # a forgotten event (archived: `forget`) leaves None in its place in both lists
        self._logs: dict[str, list[Event | None]] = {}
        self._items: dict[str, ItemSummary] = {}
        # claimable ids in claim order (ItemSummary.claim_score): each dict is an
        # insertion-ordered set that an update moves to its end; started ones come first
        self._started: dict[str, None] = {}
        self._fresh: dict[str, None] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # item id -> (owner, until)
        self._fences: dict[str, int] = {}  # item id -> the fence of its latest claim
        self._feed: list[Event | None] = []
        self._forgotten: set[str] = set()  # logs with a None in them
        self._blobs: dict[str, bytes] = {}
        self._tallies = Tally({META: VERSION})  # empty, so covered from the first append
        self._watchers = Watchers()

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
        if fence is not None and summary is not None and fence != self._fences.get(log, 0):
            raise LeaseLost(log, fence, self._fences.get(log, 0))
        existing = self._logs.get(log)
        actual = len(existing) if existing else 0
        if actual != expected_version:
            raise VersionConflict(log, expected_version, actual)
        if existing is None:
            existing = self._logs[log] = []
        position = len(self._feed)
        stored = [_new(Event, (*e[:7], position + i)) for i, e in enumerate(events, start=1)]
        existing.extend(stored)
        self._feed.extend(stored)
        if tally:
            merge(self._tallies, tally)
        if summary is not None:
            self._items[log] = summary
            self._started.pop(log, None)
            self._fresh.pop(log, None)
            if summary.runnable:
                (self._started if summary.attempts else self._fresh)[log] = None
            else:
                self._leases.pop(log, None)
        watchers = self._watchers
        if watchers.feed:
            watchers.notify("feed")
        if watchers.work and summary is not None and summary.runnable and log not in self._leases:
            watchers.notify("work")
        return stored

    async def load(self, log: str, after: int = 0) -> list[Event]:
        found = self._logs.get(log, [])[after:]
        if log in self._forgotten:
            return [e for e in found if e is not None]
        return found  # type: ignore[return-value]  # no None in a log never forgotten

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
        if item_ids is not None:
            rows = [self._items[i] for i in dict.fromkeys(item_ids) if i in self._items]
        else:
            rows = list(self._items.values())
        rows = [
            r
            for r in rows
            if (statuses is None or r.status in statuses)
            and (queue is None or r.queue == queue)
            and (waiting is None or (r.waiting is not None) == waiting)
            and (tag is None or tag in r.tags)
            and (agent is None or agent in r.agents)
        ]
        found = page(rows, newest=newest, cursor=cursor, text=text, offset=offset, limit=limit)
        return [self._leased(r) for r in found]

    def _leased(self, row: ItemSummary) -> ItemSummary:
        lease = self._leases.get(row.item_id)
        return row.with_lease(*lease) if lease else row

    async def queues(self) -> list[str]:
        return sorted({r.queue for r in self._items.values()})

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
    ) -> list[Claim]:
        now = time.time()
        claimed: list[str] = []
        for item_id in itertools.chain(self._started, self._fresh):
            if len(claimed) >= limit:
                break
            if queues is not None and self._items[item_id].queue not in queues:
                continue
            lease = self._leases.get(item_id)
            if lease is not None and lease[1] > now:
                continue
            claimed.append(item_id)
        got = []
        for item_id in claimed:
            self._leases[item_id] = (owner, now + lease_seconds)
            fence = self._fences[item_id] = self._fences.get(item_id, 0) + 1
            got.append(Claim(item_id, fence))
        return got

    async def renew(self, owner: str, item_ids: Collection[str], lease_seconds: float) -> list[str]:
        until = time.time() + lease_seconds
        held = []
        for item_id in item_ids:
            lease = self._leases.get(item_id)
            if lease is not None and lease[0] == owner:
                self._leases[item_id] = (owner, until)
                held.append(item_id)
        return held

    async def release(self, owner: str, item_ids: Collection[str]) -> None:
        for item_id in item_ids:
            lease = self._leases.get(item_id)
            if lease is not None and lease[0] == owner:
                del self._leases[item_id]
                if item_id in self._started or item_id in self._fresh:
                    self._watchers.notify("work")

    async def read(self, after: int = 0, limit: int = 1000) -> list[Event]:
        if not self._forgotten:
            return self._feed[after : after + limit]  # type: ignore[return-value]  # no None
        found: list[Event] = []
        while len(found) < limit and after < len(self._feed):
            page = self._feed[after : after + limit - len(found)]
            found += [e for e in page if e is not None]
            after += len(page)
        return found

    async def hashes(self, events: Collection[tuple[str, int]]) -> dict[tuple[str, int], str]:
        found = {}
        for log, seq in events:
            held = self._logs.get(log)
            if held and 0 < seq <= len(held) and (event := held[seq - 1]) is not None:
                found[(log, seq)] = event.hash
        return found

    async def forget(self, log: str, through: int) -> int:
        events = self._logs.get(log)
        if events is None or len(events) <= through:
            return 0
        dropped = 0
        for i in range(through):
            event = events[i]
            if event is not None:
                self._feed[event.position - 1] = events[i] = None
                dropped += 1
        self._forgotten.add(log)
        return dropped

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        return {k: v for k, v in self._tallies.items() if k.startswith(prefix)}

    async def put_tallies(self, values: Mapping[str, int], *, through: int) -> bool:
        if len(self._feed) != through:
            return False
        self._tallies = Tally(values)
        return True

    async def put_blobs(self, blobs: Mapping[str, bytes]) -> None:
        self._blobs.update(blobs)

    async def get_blob(self, digest: str) -> bytes | None:
        return self._blobs.get(digest)

    def watch(self, topic: Topic, callback: Callable[[], None]) -> Callable[[], None]:
        return self._watchers.add(topic, callback)

    async def drop(self) -> None:
        self._logs.clear()
        self._items.clear()
        self._started.clear()
        self._fresh.clear()
        self._leases.clear()
        self._fences.clear()
        self._feed.clear()
        self._forgotten.clear()
        self._blobs.clear()
        self._tallies = Tally({META: VERSION})

    async def close(self) -> None:
        return None


def open_memory(url: str, *, create: bool, reconnect: float | None = None) -> MemoryStore:
    """The `baton.stores` opener of memory:// (a new, empty store: it lives in this process)."""
    return MemoryStore()
