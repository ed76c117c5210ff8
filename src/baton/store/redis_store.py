"""The Redis store: the Store protocol on one Redis server, shared by every baton process.

Writes that must be atomic run as Lua scripts (`lua/*.lua`): an append checks the log's
version and writes its events and index entries in one step; a claim leases items in one
step. Leases use the server's clock, so workers on several machines agree. Every operation
queued during one turn of the event loop goes to the server in one pipeline (the Redis
side of the SQLite store's group commit): one round trip for many items in flight.

Keys, all under a prefix (`baton:` unless the URL says `?prefix=`):

    log:{log}        list   the log's events as `position TAB json`; its length is the version
    feed             list   `log TAB seq` of every event in global order (position = index + 1)
    position         string the last global position handed out (exists once anything ran)
    items            hash   item id -> summary JSON (without the lease)
    where            hash   item id -> `status TAB queue TAB runnable TAB updated_at`
    created          zset   item ids by creation time (the default order of queries)
    status:{status}  set    item ids in that status; `statuses` names the statuses seen
    queues           set    every queue that has had an item
    ready:{queue}    zset   runnable items nobody holds, by last update (the claim order)
    leases           hash   item id -> `owner TAB until`;  expiry  zset  item id by until

Channels `feed` (a new last position) and `work` (an item became claimable) only wake
watchers; what happened is always read from the keys, so a missed message loses nothing.

A connection that drops is retried with backoff for `reconnect` seconds (None: for ever),
with a warning on the `baton.store` logger, so a worker rides out a Redis restart. An
append whose reply was lost is checked against the log before it is sent again: events
that landed are never written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson

from ..core.events import Event
from ..core.index import ItemSummary
from ..errors import StoreError, VersionConflict
from .base import Topic, Watchers

log = logging.getLogger("baton.store")

INSTALL_HINT = "pip install 'baton[redis]'"
DEFAULT_PREFIX = "baton:"
DEFAULT_RECONNECT = 10.0  # seconds a one-shot command keeps trying to reach Redis
_LUA = resources.files("baton.store").joinpath("lua")
_SCRIPTS = ("append", "claim", "renew", "release", "read")
_new = tuple.__new__  # an Event with its position, without the NamedTuple's __new__


class RedisStore:
    """The Store protocol on Redis (redis-py's asyncio client; hiredis parses when present)."""

    def __init__(
        self, url: str, *, prefix: str | None = None, reconnect: float | None = DEFAULT_RECONNECT
    ) -> None:
        try:
            import redis.asyncio as aioredis
            import redis.exceptions as rexc
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise StoreError(f"the Redis store needs the redis package: {INSTALL_HINT}") from None
        self._rexc = rexc
        self.url, self.prefix, self.display = parse_url(url, prefix)
        self.reconnect = reconnect
        # redis-py's own retries would resend a pipeline whose first send may have run: this
        # store retries itself, checking what landed
        self._redis = aioredis.Redis.from_url(
            self.url,
            decode_responses=False,
            socket_connect_timeout=5,
            socket_timeout=30,
            retry=Retry(NoBackoff(), 0),
        )
        self._sources = {n: _LUA.joinpath(f"{n}.lua").read_text("utf-8") for n in _SCRIPTS}
        self._sha = {n: _sha1(source) for n, source in self._sources.items()}
        self._pending: list[_Op] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._watchers = Watchers()
        self._listener: asyncio.Task[None] | None = None
        self._outage_since: float | None = None
        self._outage_reported = 0.0
        self._closed = False

    # --- the pipeline: every operation of one loop turn in one round trip ----------------
    async def _send(self, operation: str, add: Callable[[Any], None]) -> Any:
        """Queue one command for this turn's pipeline; its reply, or StoreError."""
        if self._closed:
            raise StoreError(f"{self.display}: the store is closed")
        loop = asyncio.get_running_loop()
        op = _Op(operation, add, loop.create_future())
        self._pending.append(op)
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await op.future

    def _flush(self) -> None:
        ops, self._pending = self._pending, []
        if ops:
            task = asyncio.get_running_loop().create_task(self._execute(ops))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _execute(self, ops: list[_Op]) -> None:
        rexc = self._rexc
        try:
            replies = await self._pipeline(ops)
            missing = [i for i, r in enumerate(replies) if isinstance(r, rexc.NoScriptError)]
            if missing:  # a restarted or flushed server forgot the scripts: load, send again
                await self._load_scripts()
                again = await self._pipeline([ops[i] for i in missing])
                for i, reply in zip(missing, again, strict=True):
                    replies[i] = reply
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            for op in ops:
                _settle(op.future, exception=_Unreachable(str(exc) or type(exc).__name__))
            return
        except Exception as exc:  # anything else fails every queued op, clearly
            for op in ops:
                _settle(op.future, exception=self._error(op.operation, exc))
            return
        for op, reply in zip(ops, replies, strict=True):
            if isinstance(reply, Exception):
                _settle(op.future, exception=self._error(op.operation, reply))
            else:
                _settle(op.future, result=reply)

    async def _pipeline(self, ops: list[_Op]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for op in ops:
            op.add(pipe)
        return list(await pipe.execute(raise_on_error=False))

    async def _load_scripts(self) -> None:
        for source in self._sources.values():
            await self._redis.script_load(source)

    def _error(self, operation: str, exc: BaseException) -> StoreError:
        error = StoreError(f"{self.display}: {operation} failed: {exc}")
        error.__cause__ = exc
        return error

    async def _run(
        self,
        operation: str,
        add: Callable[[Any], None],
        landed: Callable[[], Any] | None = None,
    ) -> Any:
        """One operation, retried while Redis is unreachable (for `reconnect` seconds).

        `landed` checks, after a lost reply, whether the operation took effect anyway; it
        returns the operation's result if so (None if not).
        """
        delay = 0.05
        lost = False
        while True:
            try:
                if lost and landed is not None:
                    found = await landed()
                    if found is not None:
                        self._recovered()
                        return found
                reply = await self._send(operation, add)
            except _Unreachable as exc:
                lost = True
                waited = self._unreachable(operation, str(exc))
                if self.reconnect is not None and waited >= self.reconnect:
                    raise StoreError(
                        f"{self.display}: {operation} failed: cannot reach Redis ({exc}); "
                        f"gave up after {waited:.1f}s",
                        retryable=True,
                    ) from None
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)
                continue
            self._recovered()
            return reply

    def _script(self, name: str, args: Sequence[Any]) -> Callable[[Any], None]:
        sha, prefix = self._sha[name], self.prefix

        def add(pipe: Any) -> None:
            pipe.evalsha(sha, 1, prefix, *args)

        return add

    # --- outages: said once, then every 10 s, then when over ------------------------------
    def _unreachable(self, operation: str, reason: str) -> float:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._outage_reported = now
            log.warning("%s is unreachable (%s): retrying %s", self.display, reason, operation)
        elif now - self._outage_reported >= 10:
            self._outage_reported = now
            log.warning(
                "%s still unreachable after %.0fs (%s)",
                self.display,
                now - self._outage_since,
                reason,
            )
        return now - self._outage_since

    def _recovered(self) -> None:
        if self._outage_since is not None:
            log.warning(
                "%s is back after %.1fs", self.display, time.monotonic() - self._outage_since
            )
            self._outage_since = None
            self._watchers.notify()  # whatever happened meanwhile: watchers look again

    # --- writes ---------------------------------------------------------------------------
    async def append(
        self,
        log: str,
        expected_version: int,
        events: Sequence[Event],
        summary: ItemSummary | None = None,
    ) -> list[Event]:
        if not events:
            return []
        bodies = [
            orjson.dumps(
                {
                    "log": e.log,
                    "seq": e.seq,
                    "kind": e.kind,
                    "at": e.at,
                    "data": e.data,
                    "prev": e.prev,
                    "hash": e.hash,
                }
            )
            for e in events
        ]
        if summary is None:
            head: list[Any] = [log, expected_version, 0, "", "", 0, 0, 0, ""]
        else:
            s = summary
            head = [log, expected_version, 1, s.status, s.queue, int(s.runnable)]
            head += [repr(s.updated_at), repr(s.created_at), _summary_json(s)]

        async def landed() -> list[int] | None:
            """After a lost reply: the script's reply, if the append reached the log."""
            found = await self.load(log, after=expected_version)
            if len(found) >= len(events) and all(
                f.hash == e.hash for f, e in zip(found, events, strict=False)
            ):
                return [found[0].position, expected_version]  # positions are consecutive
            return None

        first, actual = await self._run(
            "append", self._script("append", [*head, len(bodies), *bodies]), landed
        )
        if first == -1:
            raise VersionConflict(log, expected_version, int(actual))
        return [_new(Event, (*e[:7], first + i)) for i, e in enumerate(events)]

    async def claim(
        self, owner: str, *, limit: int, lease_seconds: float, queues: Collection[str] | None = None
    ) -> list[str]:
        if limit <= 0 or (queues is not None and not queues):
            return []
        args = [owner, limit, repr(float(lease_seconds)), *(queues or ())]
        got = await self._run("claim", self._script("claim", args))
        return [i.decode() for i in got]

    async def renew(self, owner: str, item_ids: Collection[str], lease_seconds: float) -> list[str]:
        if not item_ids:
            return []
        args = [owner, repr(float(lease_seconds)), *item_ids]
        held = await self._run("renew", self._script("renew", args))
        return [i.decode() for i in held]

    async def release(self, owner: str, item_ids: Collection[str]) -> None:
        if item_ids:
            await self._run("release", self._script("release", [owner, *item_ids]))

    # --- reads ----------------------------------------------------------------------------
    async def load(self, log: str, after: int = 0) -> list[Event]:
        key = f"{self.prefix}log:{log}"
        raw = await self._run("load", lambda pipe: pipe.lrange(key, after, -1))
        return [_event(r) for r in raw]

    async def read(self, after: int = 0, limit: int = 1000) -> list[Event]:
        if limit <= 0:
            return []
        raw = await self._run("read", self._script("read", [after, limit]))
        return [_event(r) for r in raw if r is not None]

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
        p = self.prefix
        narrowed = queue is not None or waiting is not None
        if item_ids is not None:
            ids: list[bytes | str] = list(dict.fromkeys(item_ids))
        elif statuses is not None:
            if not statuses:
                return []
            keys = [f"{p}status:{s}" for s in statuses]
            ids = list(await self._run("query", lambda pipe: pipe.sunion(keys)))
        elif not narrowed:  # the whole index in creation order: only the page is read
            stop = -1 if limit is None else offset + limit - 1
            ids = list(
                await self._run("query", lambda pipe: pipe.zrange(f"{p}created", offset, stop))
            )
            offset = 0
        else:
            ids = list(await self._run("query", lambda pipe: pipe.zrange(f"{p}created", 0, -1)))
        if not ids:
            return []
        # the index rows and their leases in one round trip (one pipeline)
        rows, leases = await asyncio.gather(
            self._run("query", lambda pipe: pipe.hmget(f"{p}items", ids)),
            self._run("query", lambda pipe: pipe.hmget(f"{p}leases", ids)),
        )
        wanted = set(statuses) if statuses is not None else None
        found = []
        for raw, lease in zip(rows, leases, strict=True):
            if raw is None:
                continue
            s = _summary(raw)
            if wanted is not None and s.status not in wanted:
                continue
            if queue is not None and s.queue != queue:
                continue
            if waiting is not None and (s.waiting is not None) != waiting:
                continue
            found.append(_leased(s, lease))
        found.sort(key=lambda s: (s.created_at, s.item_id))
        return found[offset : None if limit is None else offset + limit]

    async def counts(self, queue: str | None = None) -> dict[str, int]:
        if queue is not None:
            out: dict[str, int] = {}
            for row in await self.query(queue=queue, limit=None):
                out[row.status] = out.get(row.status, 0) + 1
            return out
        p = self.prefix
        members = await self._run("counts", lambda pipe: pipe.smembers(f"{p}statuses"))
        statuses = sorted(m.decode() for m in members)
        sizes = await asyncio.gather(
            *(self._run("counts", lambda pipe, s=s: pipe.scard(f"{p}status:{s}")) for s in statuses)
        )
        return {status: n for status, n in zip(statuses, sizes, strict=True) if n}

    # --- watching: pub/sub wake-ups ---------------------------------------------------------
    def watch(self, topic: Topic, callback: Callable[[], None]) -> Callable[[], None]:
        stop = self._watchers.add(topic, callback)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        return stop

    async def _listen(self) -> None:
        """Relay the channels to watchers; after a lost connection, wake them all (catch up)."""
        rexc = self._rexc
        channels = {f"{self.prefix}{t}".encode(): t for t in ("feed", "work")}
        delay = 0.05
        while self._watchers and not self._closed:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                delay = 0.05
                self._watchers.notify()  # anything before the subscription: look once
                while self._watchers:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        topic = channels.get(message["channel"])
                        if topic is not None:
                            self._watchers.notify(topic)
            except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
                self._unreachable("watch", str(exc) or type(exc).__name__)
                self._watchers.notify()
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(rexc.RedisError, OSError):
                    await pubsub.aclose()

    # --- lifecycle --------------------------------------------------------------------------
    async def close(self) -> None:
        if self._closed:
            return
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._redis.aclose()

    async def drop(self) -> int:
        """Delete every key under this store's prefix (tests and benches; never the CLI)."""
        deleted = 0
        async for key in self._redis.scan_iter(match=f"{_glob(self.prefix)}*", count=1000):
            deleted += await self._redis.delete(key)
        return deleted


class _Op:
    __slots__ = ("add", "future", "operation")

    def __init__(
        self, operation: str, add: Callable[[Any], None], future: asyncio.Future[Any]
    ) -> None:
        self.operation = operation
        self.add = add
        self.future = future


class _Unreachable(Exception):
    """The connection failed: the reply (and whether the command ran) is unknown."""


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, exception: BaseException | None = None
) -> None:
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


def parse_url(url: str, prefix: str | None = None) -> tuple[str, str, str]:
    """(connection URL without baton's options, key prefix, a name for messages)."""
    parsed = urlparse(url)
    options = parse_qs(parsed.query)
    chosen = prefix or options.pop("prefix", [DEFAULT_PREFIX])[0]
    query = "&".join(f"{k}={v}" for k, values in options.items() for v in values)
    where = parsed.path or "/0"
    display = f"Redis at {parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}{where}"
    if parsed.scheme == "unix":
        display = f"Redis at {parsed.path}"
    return parsed._replace(query=query).geturl(), chosen, display


def _sha1(source: str) -> str:
    import hashlib

    return hashlib.sha1(source.encode()).hexdigest()


def _glob(prefix: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix)


def _summary_json(s: ItemSummary) -> bytes:
    return orjson.dumps(
        (
            s.item_id,
            s.queue,
            s.status,
            s.runnable,
            s.waiting,
            s.version,
            s.attempts,
            s.objective,
            s.created_at,
            s.updated_at,
        )
    )


def _summary(raw: bytes) -> ItemSummary:
    return ItemSummary(*orjson.loads(raw))


def _leased(s: ItemSummary, lease: bytes | None) -> ItemSummary:
    if lease is None:
        return s
    owner, _, until = lease.decode().rpartition("\t")
    return s.with_lease(owner, float(until))


def _event(raw: bytes) -> Event:
    position, _, body = raw.partition(b"\t")
    d = orjson.loads(body)
    return _new(
        Event,
        (d["log"], d["seq"], d["kind"], d["at"], d["data"], d["prev"], d["hash"], int(position)),
    )


def redis_exists(url: str) -> bool:
    """Whether a baton store lives at this URL (a quick synchronous check, for opening)."""
    try:
        import redis
        import redis.exceptions as rexc
    except ImportError:
        raise StoreError(f"the Redis store needs the redis package: {INSTALL_HINT}") from None
    conn_url, prefix, display = parse_url(url)
    client = redis.Redis.from_url(conn_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        return bool(client.exists(prefix + "position"))
    except rexc.RedisError as exc:
        raise StoreError(f"cannot reach {display}: {exc}", retryable=True) from exc
    finally:
        client.close()
