"""The Redis store: the Store protocol on one Redis server, shared by every baton process.

Writes that must be atomic run as Lua scripts (`lua/*.lua`): an append checks the log's
version and writes its events and index entries in one step; a claim leases items in one
step. Leases use the server's clock, so workers on several machines agree. The key layout
is in keys.py; the connection (one pipeline per loop turn, reconnects, outages) in
transport.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ...core.events import Event
from ...core.index import ItemSummary
from ...core.tally import VERSION
from ...errors import LeaseLost, NotFound, VersionConflict
from ..base import TOPICS, Claim, Topic, Watchers
from ..paging import Cursor, page
from . import keys
from .keys import Keys
from .transport import DEFAULT_RECONNECT, Command, Transport, key_exists, parse_url


class RedisStore:
    """The Store protocol on Redis (redis-py's asyncio client; hiredis parses when present)."""

    def __init__(
        self, url: str, *, prefix: str | None = None, reconnect: float | None = DEFAULT_RECONNECT
    ) -> None:
        self.url, self.prefix, self.display = parse_url(url, prefix)
        self.keys = Keys(self.prefix)
        self._watchers = Watchers()
        self._listener: asyncio.Task[None] | None = None
        self._topics: set[Topic] = set()  # the channels the listener subscribes to
        self._stopping: set[asyncio.Task[None]] = set()  # listeners replaced, closing
        self._t = Transport(
            self.url, self.display, reconnect=reconnect, on_recovered=self._watchers.notify
        )

    @property
    def reconnect(self) -> float | None:
        return self._t.reconnect

    @property
    def transport(self) -> Transport:
        """The connection (its `round_trips`, `commands` and `sent` count what it sent)."""
        return self._t

    # --- writes ---------------------------------------------------------------------------
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
        if not events:
            return []
        bodies = [keys.event_body(e) for e in events]
        if summary is None:
            head: list[Any] = [log, expected_version, 0, "", "", 0, 0, 0, ""]
        else:
            s = summary
            head = [log, expected_version, 1, s.status, s.queue, int(s.runnable)]
            head += [repr(s.claim_score), repr(s.created_at), keys.summary_body(s)]
        head.append("" if fence is None or summary is None else fence)

        async def landed() -> list[int] | None:
            """After a lost reply: the script's reply, if the append reached the log."""
            found = await self.load(log, after=expected_version)
            if len(found) >= len(events) and all(
                f.hash == e.hash for f, e in zip(found, events, strict=False)
            ):
                return [found[0].position, expected_version]  # positions are consecutive
            return None

        counters = [x for pair in (tally or {}).items() for x in pair]
        args = [*head, len(bodies), *bodies, VERSION, len(counters) // 2, *counters]
        first, actual = await self._t.run("append", self._script("append", args), landed)
        if first == -1:
            raise VersionConflict(log, expected_version, int(actual))
        if first == -2:
            assert fence is not None
            raise LeaseLost(log, fence, int(actual))
        return [keys.positioned(e, first + i) for i, e in enumerate(events)]

    async def claim(
        self, owner: str, *, limit: int, lease_seconds: float, queues: Collection[str] | None = None
    ) -> list[Claim]:
        if limit <= 0 or (queues is not None and not queues):
            return []
        args = [owner, limit, repr(float(lease_seconds)), 0, *(queues or ())]
        got = await self._t.run("claim", self._script("claim", args))
        return [Claim(got[i].decode(), int(got[i + 1])) for i in range(0, len(got), 2)]

    async def claim_logs(
        self, owner: str, *, limit: int, lease_seconds: float, queues: Collection[str] | None = None
    ) -> list[tuple[Claim, list[Event]]]:
        """`claim`, each claimed item with its log as of the claim: one round trip."""
        if limit <= 0 or (queues is not None and not queues):
            return []
        args = [owner, limit, repr(float(lease_seconds)), 1, *(queues or ())]
        got = await self._t.run("claim", self._script("claim", args))
        return [
            (Claim(got[i].decode(), int(got[i + 1])), [keys.event(r) for r in got[i + 2] if r])
            for i in range(0, len(got), 3)
        ]

    async def renew(self, owner: str, item_ids: Collection[str], lease_seconds: float) -> list[str]:
        if not item_ids:
            return []
        args = [owner, repr(float(lease_seconds)), *item_ids]
        held = await self._t.run("renew", self._script("renew", args))
        return [i.decode() for i in held]

    async def release(self, owner: str, item_ids: Collection[str]) -> None:
        if item_ids:
            await self._t.run("release", self._script("release", [owner, *item_ids]))

    # --- reads ----------------------------------------------------------------------------
    async def load(self, log: str, after: int = 0) -> list[Event]:
        key = self.keys.log(log)
        raw = await self._t.run("load", lambda pipe: pipe.lrange(key, after, -1))
        return [keys.event(r) for r in raw if r]  # an empty entry: archived (`forget`)

    async def read(self, after: int = 0, limit: int = 1000) -> list[Event]:
        if limit <= 0:
            return []
        raw = await self._t.run("read", self._script("read", [after, limit]))
        return [keys.event(r) for r in raw if r is not None]

    async def hashes(self, events: Collection[tuple[str, int]]) -> dict[tuple[str, int], str]:
        wanted = [(log, seq) for log, seq in events if seq > 0]
        found: dict[tuple[str, int], str] = {}

        def at(log: str, seq: int) -> Command:
            return lambda pipe: pipe.lindex(self.keys.log(log), seq - 1)

        for i in range(0, len(wanted), 5000):  # a pipeline of 5,000 commands at a time
            part = wanted[i : i + 5000]
            raw = await asyncio.gather(*(self._t.run("hashes", at(*p)) for p in part))
            found.update({p: keys.event(r).hash for p, r in zip(part, raw, strict=True) if r})
        return found

    async def forget(self, log: str, through: int) -> int:
        dropped: int = await self._t.run("forget", self._script("forget", [log, through]))
        return dropped

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        k = self.keys
        if "|" in prefix:  # within one scope: one hash
            scopes = [prefix[: prefix.index("|") + 1]]
        else:
            members = await self._t.run("tallies", lambda pipe: pipe.smembers(k.tally_scopes))
            scopes = sorted(s for m in members if (s := m.decode()).startswith(prefix))

        def read(scope: str) -> Command:
            return lambda pipe: pipe.hgetall(k.tally(scope))

        found = await asyncio.gather(*(self._t.run("tallies", read(s)) for s in scopes))
        out = {}
        for scope, fields in zip(scopes, found, strict=True):
            for name, value in fields.items():
                if (key := scope + name.decode()).startswith(prefix):
                    out[key] = int(value)
        return out

    async def put_tallies(self, values: Mapping[str, int], *, through: int) -> bool:
        args = [through, *(x for pair in values.items() for x in pair)]
        return bool(await self._t.run("tallies", self._script("tallies", args)))

    async def put_blobs(self, blobs: Mapping[str, bytes]) -> None:
        for digest, content in blobs.items():  # SET NX: content addressed, never changed
            await self._t.run("put_blob", _set_new(self.keys.blob(digest), content))

    async def get_blob(self, digest: str) -> bytes | None:
        key = self.keys.blob(digest)
        found: bytes | None = await self._t.run("get_blob", lambda pipe: pipe.get(key))
        return found

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
        k = self.keys
        ids: list[bytes | str] | None = None
        if item_ids is not None:
            ids = list(dict.fromkeys(item_ids))
        elif statuses is not None:
            if not statuses:
                return []
            sets = [k.status(s) for s in statuses]
            ids = list(await self._t.run("query", lambda pipe: pipe.sunion(sets)))
        elif queue is None and waiting is None and not text and tag is None and agent is None:
            ids = await self._in_order(newest, cursor, offset, limit)
            if ids is not None:  # exactly the page: nothing left to skip
                cursor, offset = None, 0
        if ids is None:
            ids = list(await self._t.run("query", lambda pipe: pipe.zrange(k.created, 0, -1)))
        if not ids:
            return []
        # the index rows and their leases in one round trip (one pipeline)
        rows, leases = await asyncio.gather(
            self._t.run("query", lambda pipe: pipe.hmget(k.items, ids)),
            self._t.run("query", lambda pipe: pipe.hmget(k.leases, ids)),
        )
        wanted = set(statuses) if statuses is not None else None
        found = []
        for raw, lease in zip(rows, leases, strict=True):
            if raw is None:
                continue
            s = keys.summary(raw, lease)
            if wanted is not None and s.status not in wanted:
                continue
            if queue is not None and s.queue != queue:
                continue
            if waiting is not None and (s.waiting is not None) != waiting:
                continue
            if (tag is not None and tag not in s.tags) or (
                agent is not None and agent not in s.agents
            ):
                continue
            found.append(s)
        return page(found, newest=newest, cursor=cursor, text=text, offset=offset, limit=limit)

    async def _in_order(
        self, newest: bool, cursor: Cursor | None, offset: int, limit: int | None
    ) -> list[bytes | str] | None:
        """The ids of one page of the whole index, read by rank from the creation zset
        (its ties sort by id, as the query order does); None if the cursor's item is not
        in it as the cursor says (then the caller pages every id)."""
        k = self.keys
        rank, span = ("zrevrank", "zrevrange") if newest else ("zrank", "zrange")
        start = offset
        if cursor is not None:
            item = cursor[1]
            score, at = await asyncio.gather(
                self._t.run("query", lambda pipe: pipe.zscore(k.created, item)),
                self._t.run("query", lambda pipe: getattr(pipe, rank)(k.created, item)),
            )
            if score is None or at is None or float(score) != cursor[0]:
                return None
            start += at + 1
        if limit == 0:
            return []
        stop = -1 if limit is None else start + limit - 1
        return list(
            await self._t.run("query", lambda pipe: getattr(pipe, span)(k.created, start, stop))
        )

    async def queues(self) -> list[str]:
        found = await self._t.run("queues", lambda pipe: pipe.smembers(self.keys.queues))
        return sorted(q.decode() for q in found)

    async def counts(self, queue: str | None = None) -> dict[str, int]:
        if queue is not None:
            out: dict[str, int] = {}
            for row in await self.query(queue=queue, limit=None):
                out[row.status] = out.get(row.status, 0) + 1
            return out
        k = self.keys
        members = await self._t.run("counts", lambda pipe: pipe.smembers(k.statuses))
        statuses = sorted(m.decode() for m in members)

        def size(status: str) -> Command:
            return lambda pipe: pipe.scard(k.status(status))

        sizes = await asyncio.gather(*(self._t.run("counts", size(s)) for s in statuses))
        return {status: n for status, n in zip(statuses, sizes, strict=True) if n}

    # --- watching: pub/sub wake-ups ---------------------------------------------------------
    def watch(self, topic: Topic, callback: Callable[[], None]) -> Callable[[], None]:
        """Subscribes to the channels of the topics watched, not all of them: an engine,
        which watches `work`, is not sent a `feed` message for every append anywhere (a
        new topic restarts the listener, whose first act is to have everyone look once)."""
        stop = self._watchers.add(topic, callback)
        if self._listener is None or self._listener.done() or topic not in self._topics:
            if self._listener is not None:
                self._listener.cancel()
                self._stopping.add(self._listener)
                self._listener.add_done_callback(self._stopping.discard)
            self._topics.add(topic)
            channels = {self.keys.channel(t): t for t in TOPICS if t in self._topics}

            def deliver(channel: bytes | None) -> None:
                if channel is None:  # (re)subscribed: anything before it, look once
                    self._watchers.notify()
                elif channel in channels:
                    self._watchers.notify(channels[channel])

            relay = self._t.relay(channels, deliver, lambda: bool(self._watchers))
            self._listener = asyncio.get_running_loop().create_task(relay)
        return stop

    # --- lifecycle --------------------------------------------------------------------------
    async def close(self) -> None:
        if self._t.closed:
            return
        if self._listener is not None:
            self._listener.cancel()
        listeners = [*self._stopping, *([self._listener] if self._listener else [])]
        await asyncio.gather(*listeners, return_exceptions=True)
        await self._t.close()

    async def drop(self) -> None:
        """Delete every key under this store's prefix (nothing else on the server); the
        store stays, empty (its position counter at 0)."""
        redis = self._t.redis
        async for key in redis.scan_iter(match=self.keys.everything, count=1000):
            await redis.delete(key)
        await redis.set(self.keys.position, 0)

    def _script(self, name: str, args: Sequence[Any]) -> Command:
        return self._t.script(name, self.prefix, args)


def _set_new(key: str, content: bytes) -> Command:
    def add(pipe: Any) -> None:
        pipe.set(key, content, nx=True)

    return add


def open_redis(
    url: str, *, create: bool, reconnect: float | None = DEFAULT_RECONNECT
) -> RedisStore:
    """The `baton.stores` opener of redis://, rediss:// and unix:// URLs."""
    if not create and not key_exists(url, Keys(parse_url(url)[1]).position):
        raise NotFound(
            f"no baton store at {url}: nothing has run there yet "
            "(start with `baton run PLAYBOOK ITEMS --store URL`, or check the URL and prefix)"
        )
    return RedisStore(url, reconnect=reconnect)
