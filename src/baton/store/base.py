"""The Store protocol: a handful of operations any backend (memory, SQLite, Redis) provides.

Each log (one per item, plus the fleet log) is appended to with an expected version, so
two writers never both extend the same log. Nothing here spans two logs in one
transaction, so a networked store can implement it with per-key atomic operations.

Leases are fenced: every claim of an item hands out a number larger than any before it
for that item (its fence), and an engine's appends carry the fence of its lease. The
store refuses (LeaseLost) an append whose fence is not the item's latest, in the same
atomic step as the version check, so an engine that lost its lease (a pause, an outage
longer than the lease) can write nothing more for the item once another has claimed it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from ..core.events import Event
from ..core.index import ItemSummary
from .paging import Cursor


class Claim(NamedTuple):
    """An item leased by `claim`, with the lease's fence (what the holder's appends carry)."""

    item_id: str
    fence: int


@runtime_checkable
class Store(Protocol):
    """Durable event logs plus an item index with leases."""

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
        """Append events to a log that is at `expected_version`, atomically with its summary
        and with what they add to the counters of the figures (`tally`, core/tally.py).

        Raises VersionConflict (and writes nothing) if the log has moved. With a `fence`
        (an item's append by the engine holding its lease; only with a summary), raises
        LeaseLost and writes nothing if the item was claimed since: its latest fence is
        not this one. Returns the events with their global `position`. A summary that is
        not runnable releases any lease.
        """
        ...

    async def load(self, log: str, after: int = 0) -> list[Event]:
        """A log's events with seq > `after`, in order ([] for an unknown log)."""
        ...

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
        """Item summaries matching every given filter (`text`: a substring of the objective
        or the id, ignoring ASCII case; `tag`: one of its tags; `agent`: one an attempt of
        it ran on), oldest first by creation or `newest` first, from
        just after `cursor` in that order, then `offset` rows on (store/paging.py)."""
        ...

    async def queues(self) -> list[str]:
        """Every queue (playbook) that has items, by name."""
        ...

    async def counts(self, queue: str | None = None) -> dict[str, int]:
        """How many items are in each status."""
        ...

    async def claim(
        self,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        queues: Collection[str] | None = None,
    ) -> list[Claim]:
        """Lease up to `limit` runnable items that nobody holds (or whose lease expired),
        lowest `ItemSummary.claim_score` first; each with its new fence."""
        ...

    async def renew(self, owner: str, item_ids: Collection[str], lease_seconds: float) -> list[str]:
        """Extend the leases `owner` still holds; returns the ids still held."""
        ...

    async def release(self, owner: str, item_ids: Collection[str]) -> None:
        """Give back leases held by `owner`."""
        ...

    async def read(self, after: int = 0, limit: int = 1000) -> list[Event]:
        """Every log's events with position > `after`, in global order (the live feed):
        `limit` of them unless fewer are left (forgotten ones are skipped, not counted)."""
        ...

    async def hashes(self, events: Collection[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The hash of each (log, seq) event the store holds; one it does not hold (never
        written, cut off, forgotten) is left out. One read for all of them (the verify
        holds every log that did not change to its head this way)."""
        ...

    async def forget(self, log: str, through: int) -> int:
        """Drop a log's events up to seq `through`, which an archive file holds: `load`,
        `read` and the feed return them no more; the log's version, its later events and
        its index row stay as they are. Only if the log holds the event right after
        `through` (the marker that records what was archived): otherwise nothing is
        dropped. Returns how many events were dropped now (0 if they were already)."""
        ...

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        """The counters of the figures whose names start with `prefix` (core/tally.py)."""
        ...

    async def put_tallies(self, values: Mapping[str, int], *, through: int) -> bool:
        """Replace every counter by `values` (computed from the log up to global position
        `through`), atomically, if no event has been appended since; else False, and
        nothing changes. An empty store's counters say they cover it (`core.tally.META`)."""
        ...

    async def put_blobs(self, blobs: Mapping[str, bytes]) -> None:
        """Keep content-addressed blobs (digest -> bytes; see core/bounds.py), durably,
        before the events that reference them are appended. Idempotent."""
        ...

    async def get_blob(self, digest: str) -> bytes | None:
        """A blob's bytes (None: the store has no blob of that digest)."""
        ...

    def watch(self, topic: Topic, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` whenever `topic` may have changed, in this process or any other.

        Topics: "feed" (events were appended), "work" (an item may have become claimable).
        A hint, not a message: calls may be spurious or merged, so the watcher re-reads the
        store. The callback runs on the caller's event loop and must not block. Returns the
        function that stops watching.
        """
        ...

    async def drop(self) -> None:
        """Delete everything the store holds (every log, the index, the leases), so it
        starts again from position 1. `baton reset` keeps a copy first."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ClaimsLogs(Protocol):
    """A store that claims items and reads their logs in one step (Redis: one round trip)."""

    async def claim_logs(
        self, owner: str, *, limit: int, lease_seconds: float, queues: Collection[str] | None = None
    ) -> list[tuple[Claim, list[Event]]]: ...


async def claim_logs(
    store: Store,
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    queues: Collection[str] | None = None,
) -> list[tuple[Claim, list[Event]]]:
    """`store.claim`, each claimed item with its log as of the claim or later (a store
    that can, in the claim's own step; any other, a load of each after the claim)."""
    if isinstance(store, ClaimsLogs):
        return await store.claim_logs(
            owner, limit=limit, lease_seconds=lease_seconds, queues=queues
        )
    claims = await store.claim(owner, limit=limit, lease_seconds=lease_seconds, queues=queues)
    logs = await asyncio.gather(*(store.load(c.item_id) for c in claims))
    return list(zip(claims, logs, strict=True))


Topic = Literal["feed", "work"]
TOPICS: tuple[Topic, ...] = ("feed", "work")


class Watchers:
    """The callbacks watching each topic of one store; what every backend's `watch` uses.

    `feed` and `work` are the lists themselves, so a backend's hot path checks a list's
    truth rather than calling a method."""

    def __init__(self) -> None:
        self.feed: list[Callable[[], None]] = []
        self.work: list[Callable[[], None]] = []

    def add(self, topic: Topic, callback: Callable[[], None]) -> Callable[[], None]:
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r} (expected one of {', '.join(TOPICS)})")
        callbacks = self.feed if topic == "feed" else self.work
        callbacks.append(callback)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                callbacks.remove(callback)

        return stop

    def __bool__(self) -> bool:
        return bool(self.feed or self.work)

    def wanted(self, topic: Topic) -> bool:
        return bool(self.feed if topic == "feed" else self.work)

    def notify(self, *topics: Topic) -> None:
        for topic in topics or TOPICS:
            for callback in list(self.feed if topic == "feed" else self.work):
                callback()
