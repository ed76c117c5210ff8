"""What only the Redis store has: a lost reply, an unreachable server, a restart, its keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from baton.core.events import chain, verify_chain
from baton.errors import NotFound, StoreError, VersionConflict
from baton.store import ItemSummary, open_store
from baton.store.redis import RedisStore
from tests.redis_server import RedisServer, free_port, start_redis_server


def summary(item: str, version: int, runnable: bool = True) -> ItemSummary:
    status = "running" if runnable else "accepted"
    return ItemSummary(item, "q", status, runnable, None, version, 0, "obj", 1.0, 1.0)


@pytest.fixture
async def store(redis_store_url: str) -> AsyncIterator[RedisStore]:
    s = open_store(redis_store_url)
    assert isinstance(s, RedisStore)
    yield s
    await s.close()


async def test_an_append_whose_reply_was_lost_is_not_written_twice(store: RedisStore) -> None:
    first = chain("a", 0, "", 1.0, [("item.submitted", {})])
    await store.append("a", 0, first, summary("a", 1))
    transport = store._t
    real = transport._pipeline
    calls = 0

    async def lose_the_first_reply(ops: list[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        replies = await real(ops)
        if calls == 1:  # the server ran it; the client never hears back
            raise ConnectionError("connection reset by peer")
        return replies

    transport._pipeline = lose_the_first_reply  # type: ignore[method-assign]
    more = chain("a", 1, first[-1].hash, 2.0, [("item.scoped", {"plan": {}}), ("x", {})])
    stored = await store.append("a", 1, more, summary("a", 3))
    transport._pipeline = real  # type: ignore[method-assign]
    log = await store.load("a")
    assert [e.seq for e in log] == [1, 2, 3]
    assert verify_chain(log) is None
    assert [e.position for e in stored] == [e.position for e in log[1:]]


async def test_an_unreachable_server_is_a_clear_error_after_the_reconnect_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    store = RedisStore(url, reconnect=0.5)
    with caplog.at_level(logging.WARNING, logger="baton.store"), pytest.raises(StoreError) as err:
        await store.load("a")
    await store.close()
    assert "cannot reach Redis" in str(err.value) and "gave up after" in str(err.value)
    assert err.value.retryable
    assert f"Redis at 127.0.0.1:{url.split(':')[2].split('/')[0]}/0 is unreachable" in caplog.text


def test_opening_an_empty_prefix_for_reading_is_not_found(redis_store_url: str) -> None:
    with pytest.raises(NotFound, match="no baton store at redis://"):
        open_store(redis_store_url, create=False)


def test_a_bad_url_names_what_was_expected() -> None:
    from baton.errors import InputError

    with pytest.raises(InputError, match="redis://HOST:PORT/DB"):
        open_store("postgres://x")


async def test_keys_stay_under_the_prefix(store: RedisStore, redis_store_url: str) -> None:
    import redis.asyncio as aioredis

    await store.append("a", 0, chain("a", 0, "", 1.0, [("k", {})]), summary("a", 1))
    await store.claim("w", limit=1, lease_seconds=30)
    client = aioredis.Redis.from_url(store.url)
    keys = [k.decode() async for k in client.scan_iter(match=f"{store.prefix}*")]
    await client.aclose()
    assert keys and all(k.startswith(store.prefix) for k in keys)
    await store.drop()
    client = aioredis.Redis.from_url(store.url)
    left = [k.decode() async for k in client.scan_iter(match=f"{store.prefix}*")]
    await client.aclose()
    assert left == [f"{store.prefix}position"]  # the store is there, empty


async def test_a_restarted_server_loses_nothing_acknowledged(tmp_path: Path) -> None:
    server: RedisServer = start_redis_server(tmp_path / "redis")
    store = RedisStore(server.url, reconnect=None)
    try:
        await store.append(
            "a", 0, chain("a", 0, "", 1.0, [("item.submitted", {})]), summary("a", 1)
        )
        assert [c.item_id for c in await store.claim("w", limit=1, lease_seconds=30)] == ["a"]
        server.kill()

        async def restart_soon() -> None:
            await asyncio.sleep(0.5)
            server.start()

        restarting = asyncio.create_task(restart_soon())
        prev = (await asyncio.wait_for(store.load("a"), 30))[-1].hash  # waits out the outage
        await restarting
        events = chain("a", 1, prev, 2.0, [("item.scoped", {"plan": {}})])
        await store.append("a", 1, events, summary("a", 2))  # the scripts are loaded again
        assert [e.seq for e in await store.load("a")] == [1, 2]
        assert (await store.query())[0].lease_owner == "w"  # the lease survived too
        with pytest.raises(VersionConflict):
            await store.append("a", 1, events, summary("a", 2))
    finally:
        await store.close()
        server.kill()


async def test_a_store_subscribes_to_the_topics_it_watches_only(store: RedisStore) -> None:
    """An engine watches `work`; it was also sent a `feed` message for every append of
    every process (CPU on the client for nothing)."""
    client = store._t.redis

    async def subscribed() -> set[str]:
        for _ in range(100):  # the listener subscribes in the background
            found = {c.decode() for c in await client.pubsub_channels(store.keys.prefix + "*")}
            if found == expected:
                return found
            await asyncio.sleep(0.02)
        return found

    woken: list[str] = []
    stop_work = store.watch("work", lambda: woken.append("work"))
    expected = {store.keys.channel("work").decode()}
    assert await subscribed() == expected
    stop_feed = store.watch("feed", lambda: woken.append("feed"))
    expected = {store.keys.channel(t).decode() for t in ("work", "feed")}
    assert await subscribed() == expected
    woken.clear()
    await store.append("a", 0, chain("a", 0, "", 1.0, [("item.submitted", {})]), summary("a", 1))
    for _ in range(100):
        if {"work", "feed"} <= set(woken):
            break
        await asyncio.sleep(0.02)
    assert {"work", "feed"} <= set(woken), woken
    stop_work()
    stop_feed()
