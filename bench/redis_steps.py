"""Part 4 of bench/store.py: what one step of the no-op loop costs on Redis at concurrency 1.

bench/engine.py's no-op loop (6 steps per item) runs on a fresh Redis prefix with one
item in flight (`Engine.submit`, then `Engine.run` over every item; the default poll
interval), and the transport counts what it sent meanwhile: round trips (pipelines) and
commands, per step and by operation. Beside it, measured in the same run on the same
server: plain redis-py sending one Lua append per step (the log's length checked, the
event pushed: one round trip), the floor a step on Redis cannot go under. The ratio of the
two is the figure to compare between runs.
"""

from __future__ import annotations

import gc
import json
import time
import uuid
from typing import Any

import engine as noop  # bench/engine.py: the no-op playbook and its items
from baton import Engine
from baton.store import open_store
from baton.store.redis import RedisStore
from baton.store.redis.transport import parse_url

PLAIN_APPEND = """
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return -1 end
return redis.call('RPUSH', KEYS[1], ARGV[2])
"""


async def baton_steps(url: str, items: int) -> dict[str, Any]:
    """The no-op loop at concurrency 1 on the Redis store at `url` (a prefix of its own)."""
    store = open_store(url, reconnect=5.0)
    assert isinstance(store, RedisStore)
    try:
        book = noop.playbook(1)
        engine = Engine(store, book, concurrency=1)
        ids = [i for i, _ in await engine.submit(book, noop.specs(items))]
        sent = store.transport
        gc.collect()
        trips, commands, by_op = sent.round_trips, sent.commands, dict(sent.sent)
        started = time.perf_counter()
        await engine.run(ids)
        seconds = time.perf_counter() - started
        trips, commands = sent.round_trips - trips, sent.commands - commands
        ops = {op: n - by_op.get(op, 0) for op, n in sent.sent.items() if n > by_op.get(op, 0)}
        last = [(await store.load(i))[-1].kind for i in ids]
        assert all(kind == "item.accepted" for kind in last), set(last)
        steps = items * noop.STEPS_PER_ITEM
        return {
            "items": items,
            "steps": steps,
            "seconds": seconds,
            "steps_per_s": steps / seconds,
            "us_per_step": seconds / steps * 1e6,
            "round_trips_per_step": trips / steps,
            "commands_per_step": commands / steps,
            "commands_per_step_by_operation": {op: n / steps for op, n in sorted(ops.items())},
        }
    finally:
        await store.drop()
        await store.close()


async def plain_steps(url: str, items: int) -> dict[str, Any]:
    """Plain redis-py: one Lua append (version checked) per step, awaited one at a time."""
    import redis.asyncio as aioredis

    conn_url, prefix, _ = parse_url(url)
    client = aioredis.Redis.from_url(conn_url)
    body = json.dumps({"kind": "attempt.finished", "data": {"output": "done"}, "at": time.time()})
    sha = await client.script_load(PLAIN_APPEND)
    keys = [f"{prefix}plain:{i}" for i in range(items)]
    try:
        gc.collect()
        started = time.perf_counter()
        for key in keys:
            for version in range(noop.STEPS_PER_ITEM):
                assert await client.evalsha(sha, 1, key, version, body) == version + 1
        seconds = time.perf_counter() - started
    finally:
        await client.delete(*keys)
        await client.aclose()
    steps = items * noop.STEPS_PER_ITEM
    return {
        "items": items,
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "us_per_step": seconds / steps * 1e6,
        "round_trips_per_step": 1.0,
    }


async def steps_at_concurrency_1(url: str, items: int) -> dict[str, Any]:
    """Both loops on fresh prefixes of the Redis at `url` (the plain one first, then baton)."""
    prefix = f"bench-steps-{uuid.uuid4().hex[:12]}:"
    conn_url = parse_url(url)[0]
    plain = await plain_steps(f"{conn_url}?prefix={prefix}plain:", items)
    baton = await baton_steps(f"{conn_url}?prefix={prefix}baton:", items)
    return {
        "plain": plain,
        "baton": baton,
        "baton_vs_plain_steps_per_s": baton["steps_per_s"] / plain["steps_per_s"],
    }


def print_steps(figures: dict[str, Any]) -> None:
    plain, baton = figures["plain"], figures["baton"]
    print()
    print(
        f"one step on Redis at concurrency 1: the no-op loop, {baton['items']} items x "
        f"{noop.STEPS_PER_ITEM} steps, one item in flight"
    )
    print(
        f"{'run':44} {'steps/s':>9} {'us/step':>9} {'round trips/step':>17} {'commands/step':>14}"
    )
    print(
        f"{'plain redis-py, one Lua append per step':44} {plain['steps_per_s']:9,.0f} "
        f"{plain['us_per_step']:9.1f} {1.0:17.2f} {1.0:14.2f}"
    )
    print(
        f"{'baton, Redis store, Engine.run':44} {baton['steps_per_s']:9,.0f} "
        f"{baton['us_per_step']:9.1f} {baton['round_trips_per_step']:17.2f} "
        f"{baton['commands_per_step']:14.2f}"
    )
    by_op = ", ".join(f"{op} {n:.2f}" for op, n in baton["commands_per_step_by_operation"].items())
    print(f"baton's commands per step by operation: {by_op}")
    print(f"baton / plain steps/s: {figures['baton_vs_plain_steps_per_s']:.3f}")
