"""Talking to one Redis server: every command queued during one turn of the event loop goes
out in one pipeline (one round trip for many items in flight: the Redis side of SQLite's
group commit); Lua scripts by hash, reloaded when a restarted server forgot them; a lost
connection retried with backoff for `reconnect` seconds (None: for ever), said once on the
`baton.store` logger, then every 10 s, then when it is over; pub/sub relayed with the same
reconnects. redis-py's exceptions stop here: callers see StoreError.

redis-py's own retries are off: they would resend a pipeline whose first send may have
run. An operation whose reply was lost is retried only after its caller's `landed` check
says it did not take effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlparse

from ...errors import StoreError

log = logging.getLogger("baton.store")

INSTALL_HINT = "pip install 'baton-orchestrator[redis]'"
DEFAULT_PREFIX = "baton:"
DEFAULT_RECONNECT = 10.0  # seconds a one-shot command keeps trying to reach Redis
SCRIPTS = ("append", "claim", "renew", "release", "read", "tallies", "forget")
_LUA = resources.files("baton.store.redis").joinpath("lua")

Command = Callable[[Any], None]
"""Adds one command to a pipeline."""


class Transport:
    """One connection pool to Redis, shared by every operation of a store."""

    def __init__(
        self,
        url: str,
        display: str,
        *,
        reconnect: float | None,
        on_recovered: Callable[[], None] = lambda: None,
    ) -> None:
        try:
            import redis.asyncio as aioredis
            import redis.exceptions as rexc
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise StoreError(f"the Redis store needs the redis package: {INSTALL_HINT}") from None
        self._rexc = rexc
        self.display = display
        self.reconnect = reconnect
        self.on_recovered = on_recovered  # after an outage: whatever happened, look again
        self.redis = aioredis.Redis.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=5,
            socket_timeout=30,
            retry=Retry(NoBackoff(), 0),
        )
        self._sources = {n: _LUA.joinpath(f"{n}.lua").read_text("utf-8") for n in SCRIPTS}
        self._sha = {n: hashlib.sha1(s.encode()).hexdigest() for n, s in self._sources.items()}
        self._pending: list[_Op] = []
        # what went to the server: pipelines (round trips), the commands in them, and those
        # by operation (a bench or a test counts them; counting costs next to nothing)
        self.round_trips = 0
        self.commands = 0
        self.sent: Counter[str] = Counter()
        self._sending: set[asyncio.Task[None]] = set()
        self._outage_since: float | None = None
        self._outage_reported = 0.0
        self.closed = False

    # --- operations -----------------------------------------------------------------------
    async def run(
        self,
        operation: str,
        command: Command,
        landed: Callable[[], Awaitable[Any]] | None = None,
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
                reply = await self._send(operation, command)
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

    def script(self, name: str, prefix: str, args: Sequence[Any]) -> Command:
        """A command running one of baton's scripts (KEYS[1] is the store's prefix)."""
        sha = self._sha[name]

        def add(pipe: Any) -> None:
            pipe.evalsha(sha, 1, prefix, *args)

        return add

    # --- the pipeline: every operation of one loop turn in one round trip ------------------
    async def _send(self, operation: str, command: Command) -> Any:
        """Queue one command for this turn's pipeline; its reply, or StoreError."""
        if self.closed:
            raise StoreError(f"{self.display}: the store is closed")
        loop = asyncio.get_running_loop()
        op = _Op(operation, command, loop.create_future())
        self._pending.append(op)
        if len(self._pending) == 1:
            loop.call_soon(self.flush)
        return await op.future

    def flush(self) -> None:
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
                for source in self._sources.values():
                    await self.redis.script_load(source)
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
        pipe = self.redis.pipeline(transaction=False)
        for op in ops:
            op.command(pipe)
            self.sent[op.operation] += 1
        self.round_trips += 1
        self.commands += len(ops)
        return list(await pipe.execute(raise_on_error=False))

    def _error(self, operation: str, exc: BaseException) -> StoreError:
        error = StoreError(f"{self.display}: {operation} failed: {exc}")
        error.__cause__ = exc
        return error

    # --- pub/sub ---------------------------------------------------------------------------
    async def relay(
        self,
        channels: Iterable[bytes],
        deliver: Callable[[bytes | None], None],
        listening: Callable[[], bool],
    ) -> None:
        """Deliver each message's channel while `listening()`; None once subscribed (and
        after every reconnect): whatever was published meanwhile, look again."""
        rexc = self._rexc
        names = list(channels)
        delay = 0.05
        while listening() and not self.closed:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*names)
                delay = 0.05
                deliver(None)
                while listening():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        deliver(message["channel"])
            except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
                self._unreachable("watch", str(exc) or type(exc).__name__)
                deliver(None)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(rexc.RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    # --- outages: said once, then every 10 s, then when over --------------------------------
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
            self.on_recovered()

    # --- lifecycle ----------------------------------------------------------------------------
    async def close(self) -> None:
        """Send what is queued, wait for what is in flight, then close the connections."""
        if self.closed:
            return
        self.flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        self.closed = True
        await self.redis.aclose()


class _Op:
    __slots__ = ("command", "future", "operation")

    def __init__(self, operation: str, command: Command, future: asyncio.Future[Any]) -> None:
        self.operation = operation
        self.command = command
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


def key_exists(url: str, key: str) -> bool:
    """Whether `key` exists on the server at `url` (a quick synchronous check)."""
    try:
        import redis
        import redis.exceptions as rexc
    except ImportError:
        raise StoreError(f"the Redis store needs the redis package: {INSTALL_HINT}") from None
    conn_url, _, display = parse_url(url)
    client = redis.Redis.from_url(conn_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        return bool(client.exists(key))
    except rexc.RedisError as exc:
        raise StoreError(f"cannot reach {display}: {exc}", retryable=True) from exc
    finally:
        client.close()
