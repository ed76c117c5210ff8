"""The state store's own latency per operation, and the no-op loop on Redis with several workers.

Part 1: one state operation at a time (sequential awaits: the latency of one call, not a
throughput), p50 and p99 over --samples calls after a warm-up, on the memory store, the
SQLite store (a file in a temporary folder) and the Redis store (--redis, a unique key
prefix, dropped at the end):

    append          one event appended to an item's log at its version, with its summary
                    (what the engine does per step; the item is leased, as it is then)
    load            one item's log of 8 events
    claim           one runnable item leased (--concurrency items stay leased meanwhile,
                    as an engine holds them; older ones are finished, untimed)
    query (id)      query(item_ids=[one id])
    query (status)  query(statuses=["waiting_human"]): 10 rows of --store-items items

The events are copies of those the no-op engine writes, so their size is realistic.
Targets: every Redis operation p99 under 1 ms on loopback; SQLite reads (load, query)
p99 under 0.1 ms.

Part 2: bench/engine.py's no-op loop (6 steps per item) on one Redis prefix shared by 1,
2 and 4 worker processes. The items are submitted first, then the workers start (this
file with --worker), open the store, say "ready" and wait for a line on stdin; the clock
runs from that line to the last worker's engine returning, so start-up and imports are
not timed. Each worker runs `Engine.run(ids)` over every item: it claims what is free and
returns once all of them have an outcome, whoever finished them. Afterwards every log is
checked to end with exactly one item.accepted. The baseline, measured in the same run, is
bench/engine.py's single-process memory-store figure for the same items. Target: at
least 5,000 steps/s with 2 workers. If Redis does not answer (or with --skip-redis) the
Redis parts are skipped, and said so. The last line printed is one JSON object of every
figure.

    .venv/bin/python bench/store.py [--samples 3000] [--items 4000] [--concurrency 256]
        [--redis URL (default $REDIS_URL or redis://127.0.0.1:6379)] [--skip-redis]
        [--warmup 300] [--store-items 3000] [--workers 1,2,4] [--poll-interval 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from baton import Engine, ItemSpec, MemoryStore
from baton.core.events import Event, chain
from baton.store import Claim, ItemSummary, Store, open_store
from baton.store.redis import RedisStore
from baton.store.redis.transport import parse_url

sys.path.insert(0, str(Path(__file__).parent))
import engine as noop  # bench/engine.py: the no-op playbook and its items
import redis_steps  # part 4: one step's round trips on Redis at concurrency 1

OPS = {
    "append": "append (1 event + summary)",
    "load": "load (8-event log)",
    "claim": "claim (1 item, lease)",
    "query_id": "query(item_ids=[id])",
    "query_status": "query(statuses=[waiting_human])",
}
SQLITE_READS = ("load", "query_id", "query_status")
TARGETS = {"redis_p99_ms": 1.0, "sqlite_read_p99_ms": 0.1, "redis_2_workers_steps_per_s": 5_000}
WAITING = 10  # items waiting for a person in the latency store: query(statuses=...)'s result
LOG_EVENTS = 8  # events per item in the latency store: what load reads
OWNER = "bench:store"
CHUNK = 500  # writes in flight at once while populating (one pipeline / group commit)
Entry = tuple[str, dict[str, Any]]


# --- part 1: one operation at a time ------------------------------------------------------
async def event_templates() -> list[Entry]:
    """(kind, data) of every event the no-op engine writes for an item refined once."""
    store = MemoryStore()
    book = noop.playbook(2)
    engine = Engine(store, book, concurrency=2, poll_interval=0.001)
    ids = [i for i, _ in await engine.submit(book, noop.specs(2))]
    await engine.run(ids)
    return [(e.kind, e.data) for e in await store.load(ids[1])]  # item-1 is refined


def summary(
    item_id: str,
    queue: str,
    status: str,
    runnable: bool,
    version: int,
    at: float,
    *,
    waiting: str | None = None,
    attempts: int = 0,
) -> ItemSummary:
    return ItemSummary(item_id, queue, status, runnable, waiting, version, attempts, "noop", at, at)


async def populate(store: Store, rows: Sequence[tuple[str, list[Event], ItemSummary]]) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        await asyncio.gather(*(store.append(log, 0, events, s) for log, events, s in chunk))


async def measure(
    op: Callable[[int], Awaitable[Any]],
    count: int,
    warmup: int,
    after: Callable[[int, Any], Awaitable[None]] | None = None,
) -> dict[str, float]:
    """Latency of `op(i)` awaited alone, `count` times after `warmup` untimed calls.
    `after(i, result)` checks the result (and may tidy up), outside the timing."""
    gc.collect()
    samples: list[int] = []
    for i in range(warmup + count):
        started = time.perf_counter_ns()
        result = await op(i)
        elapsed = time.perf_counter_ns() - started
        if i >= warmup:
            samples.append(elapsed)
        if after is not None:
            await after(i, result)
    samples.sort()
    n = len(samples)
    return {
        "p50_us": samples[n // 2] / 1000,
        "p99_us": samples[int(n * 0.99)] / 1000,
        "mean_us": sum(samples) / n / 1000,
        "max_us": samples[-1] / 1000,
    }


async def latencies(
    store: Store, samples: int, warmup: int, store_items: int, held: int, entries: list[Entry]
) -> dict[str, Any]:
    """Every operation's latency on one store (the reads first, on `store_items` items)."""
    base = time.time()
    spacing = max(1, store_items // WAITING)
    rows = []
    for i in range(store_items):
        item_id = f"base-{i:06d}"
        at = base + i * 1e-3
        waiting = i % spacing == 0 and i // spacing < WAITING
        s = summary(
            item_id,
            "noop",
            "waiting_human" if waiting else "accepted",
            False,
            LOG_EVENTS,
            at,
            waiting="review" if waiting else None,
            attempts=1,
        )
        rows.append((item_id, chain(item_id, 0, "", at, entries[:LOG_EVENTS]), s))
    await populate(store, rows)
    base_ids = [r[0] for r in rows]
    m = len(base_ids)
    out: dict[str, Any] = {"store_items": store_items}

    async def loaded(i: int, events: list[Event]) -> None:
        assert len(events) == LOG_EVENTS, len(events)

    async def one_row(i: int, found: list[ItemSummary]) -> None:
        assert len(found) == 1, len(found)

    async def waiting_rows(i: int, found: list[ItemSummary]) -> None:
        assert len(found) == WAITING, len(found)

    # a stride through the items, so successive calls read different rows
    out["load"] = await measure(
        lambda i: store.load(base_ids[i * 7919 % m]), samples, warmup, loaded
    )
    out["query_id"] = await measure(
        lambda i: store.query(item_ids=[base_ids[i * 7919 % m]]), samples, warmup, one_row
    )
    out["query_status"] = await measure(
        lambda i: store.query(statuses=["waiting_human"]), samples, warmup, waiting_rows
    )

    # claim: a pool of runnable items; an engine holds at most `held` leases, so beyond
    # that the oldest claimed item is finished (untimed), as the engine would finish it
    total = warmup + samples
    at = time.time()
    first: dict[str, str] = {}
    pool = []
    for i in range(total):
        item_id = f"claim-{i:06d}"
        events = chain(item_id, 0, "", at, entries[:1])
        first[item_id] = events[0].hash
        pool.append((item_id, events, summary(item_id, "claim", "queued", True, 1, at + i * 1e-6)))
    await populate(store, pool)
    holding: list[str] = []

    async def finish_oldest(i: int, got: list[Claim]) -> None:
        assert len(got) == 1, got
        holding.extend(c.item_id for c in got)
        if len(holding) > held:
            item_id = holding.pop(0)
            done = chain(item_id, 1, first[item_id], time.time(), entries[-1:])
            s = summary(item_id, "claim", "accepted", False, 2, at, attempts=1)
            await store.append(item_id, 1, done, s)

    out["claim"] = await measure(
        lambda i: store.claim(OWNER, limit=1, lease_seconds=600, queues=["claim"]),
        samples,
        warmup,
        finish_oldest,
    )

    # append: each call records one step of a leased, running item (events built beforehand:
    # hashing them is the engine's work, not the store's)
    at = time.time()
    pool = []
    for i in range(total):
        item_id = f"append-{i:06d}"
        pool.append(
            (
                item_id,
                chain(item_id, 0, "", at, entries[:1]),
                summary(item_id, "append", "running", True, 1, at),
            )
        )
    await populate(store, pool)
    leased = await store.claim(OWNER, limit=total, lease_seconds=600, queues=["append"])
    assert len(leased) == total, len(leased)
    fences = dict(leased)  # an engine's appends carry its lease's fence
    step = next(e for e in entries if e[0] == "attempt.finished")
    writes = []
    for item_id, events, _ in pool:
        now = time.time()
        more = chain(item_id, 1, events[0].hash, now, [step])
        writes.append(
            (item_id, more, summary(item_id, "append", "running", True, 2, now, attempts=1))
        )

    async def appended(i: int, stored: list[Event]) -> None:
        assert len(stored) == 1 and stored[0].seq == 2, stored

    out["append"] = await measure(
        lambda i: store.append(
            writes[i][0], 1, writes[i][1], writes[i][2], fence=fences[writes[i][0]]
        ),
        samples,
        warmup,
        appended,
    )
    return out


async def redis_ping(url: str, samples: int, warmup: int) -> dict[str, float]:
    """A bare redis-py PING's latency: the round trip under every Redis store operation."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(parse_url(url)[0])
    try:
        return await measure(lambda i: client.ping(), samples, warmup)
    finally:
        await client.aclose()


async def latencies_on(url: str, args: argparse.Namespace, entries: list[Entry]) -> dict[str, Any]:
    store = open_store(url, reconnect=5.0)
    try:
        out = await latencies(
            store, args.samples, args.warmup, args.store_items, args.concurrency, entries
        )
        if isinstance(store, RedisStore):
            out["ping"] = await redis_ping(url, args.samples, args.warmup)
        return out
    finally:
        if isinstance(store, RedisStore):
            await store.drop()
        await store.close()


# --- part 2: the no-op loop on Redis, several worker processes ------------------------------
def with_prefix(url: str, prefix: str) -> str:
    """The Redis URL with baton's key prefix set to `prefix` (any other prefix replaced)."""
    conn_url, _, _ = parse_url(url)
    return f"{conn_url}{'&' if urlparse(conn_url).query else '?'}prefix={prefix}"


def redis_problem(url: str) -> str | None:
    """Why the Redis at `url` cannot be used (None: it answers)."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed (pip install 'baton[redis]')"
    try:
        conn_url, _, display = parse_url(url)
        client = redis.Redis.from_url(conn_url, socket_connect_timeout=2, socket_timeout=2)
    except ValueError as exc:
        return f"{url} is not a Redis URL ({exc})"
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"{display} does not answer ({exc})"
    finally:
        client.close()
    return None


async def worker(url: str, items: int, concurrency: int, poll: float, timeout: float) -> None:
    """One worker process: open the store, say ready, wait for the go line, run every item."""
    store = open_store(url)
    engine = Engine(store, noop.playbook(concurrency), concurrency=concurrency, poll_interval=poll)
    ids = [s.id for s in noop.specs(items) if s.id is not None]
    claimed: list[Claim] = []
    assert isinstance(store, RedisStore)
    claim = store.claim_logs  # what the engine claims with on Redis

    async def counted(owner: str, **kw: Any) -> list[tuple[Claim, list[Event]]]:
        got = await claim(owner, **kw)
        claimed.extend(c for c, _ in got)
        return got

    store.claim_logs = counted  # type: ignore[method-assign]
    await store.query(item_ids=ids[:1])  # connected before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    await asyncio.wait_for(engine.run(ids), timeout)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "claimed": len(claimed)}), flush=True)
    await store.close()


async def check_outcomes(store: Store, ids: list[str]) -> dict[str, Any]:
    """How many items' logs end with their only item.accepted; when the last was accepted."""
    logs: list[list[Event]] = []
    for start in range(0, len(ids), 1000):
        logs.extend(await asyncio.gather(*(store.load(i) for i in ids[start : start + 1000])))
    once = 0
    last = 0.0
    for events in logs:
        accepted = [e for e in events if e.kind == "item.accepted"]
        if len(accepted) == 1 and events[-1].kind == "item.accepted":
            once += 1
        last = max([last, *(e.at for e in accepted)])
    return {"accepted_once": once, "events": sum(map(len, logs)), "last_accepted_at": last}


async def fleet(
    base_url: str, workers: int, items: int, concurrency: int, poll: float, timeout: float
) -> dict[str, Any]:
    """`workers` processes running the no-op loop on one fresh Redis prefix."""
    url = with_prefix(base_url, f"bench-store-{uuid.uuid4().hex[:12]}:")
    store = open_store(url, reconnect=5.0)
    procs: list[subprocess.Popen[str]] = []
    try:
        book = noop.playbook(concurrency)
        submitter = Engine(store, book, concurrency=concurrency)
        ids = [i for i, _ in await submitter.submit(book, noop.specs(items))]
        command = [sys.executable, __file__, "--worker", url, "--items", str(items)]
        command += ["--concurrency", str(concurrency), "--poll-interval", str(poll)]
        command += ["--timeout", str(timeout)]
        for _ in range(workers):
            procs.append(
                subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
        for k, proc in enumerate(procs):
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"worker {k} stopped before it was ready (see its stderr)")
        started_at = time.time()
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for k, proc in enumerate(procs):
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"worker {k} stopped without finishing (see its stderr)")
            reports.append(json.loads(line))
        seconds = time.perf_counter() - started
        for proc in procs:
            proc.wait(timeout=60)
        checked = await check_outcomes(store, ids)
        to_last_accept = checked.pop("last_accepted_at") - started_at
        return {
            "workers": workers,
            "items": items,
            "concurrency_per_worker": concurrency,
            "seconds": seconds,
            "steps_per_s": items * noop.STEPS_PER_ITEM / seconds,
            "seconds_to_last_accepted": to_last_accept,
            "steps_per_s_to_last_accepted": items * noop.STEPS_PER_ITEM / to_last_accept,
            "worker_seconds": [r["seconds"] for r in reports],
            "claimed_per_worker": [r["claimed"] for r in reports],
            **checked,
            "all_accepted_once": checked["accepted_once"] == items,
        }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if isinstance(store, RedisStore):
            await store.drop()
        await store.close()


# --- part 3: how soon an idle worker picks up submitted work --------------------------------
async def idle_worker(url: str) -> None:
    """A worker process with the default poll interval, running until its stdin closes."""
    store = open_store(url, reconnect=5.0)
    engine = Engine(store, noop.playbook(4), concurrency=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.readline() or stop.set())
    running = asyncio.create_task(engine.run(None, stop=stop))
    await asyncio.sleep(0.5)  # claiming and watching before it says so
    print("ready", flush=True)
    await running
    await store.close()


async def pickup(url: str, samples: int) -> dict[str, Any]:
    """Submit items one at a time while a worker process idles; submit -> scoped latency."""
    store = open_store(url, reconnect=5.0)
    command = [sys.executable, __file__, "--idle-worker", url]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    waits: list[float] = []
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the idle worker stopped before it was ready (see its stderr)")
        book = noop.playbook(4)
        submitter = Engine(store, book)
        for n in range(samples):
            spec = ItemSpec(id=f"pickup-{n}", objective="noop", inputs={"refine": False})
            await submitter.submit(book, [spec])
            while True:  # the worker's first step records when it saw the item
                events = await store.load(spec.id or "")
                if len(events) > 1:
                    break
                await asyncio.sleep(0.0005)
            waits.append((events[1].at - events[0].at) * 1000)
            await asyncio.sleep(0.02)  # idle again
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=30)
        if isinstance(store, RedisStore):
            await store.drop()
        await store.close()
    waits.sort()
    return {
        "samples": samples,
        "p50_ms": waits[len(waits) // 2],
        "p99_ms": waits[min(len(waits) - 1, int(len(waits) * 0.99))],
        "max_ms": waits[-1],
    }


def print_pickup(pickups: dict[str, dict[str, Any]]) -> None:
    print()
    print("an idle worker (another process) picks up a submitted item: submit -> its first step")
    print(f"{'store':<10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}  woken by")
    how = {
        "sqlite": "PRAGMA data_version, looked at every 50 ms",
        "redis": "pub/sub",
    }
    for backend, fig in pickups.items():
        print(
            f"{backend:<10}{fig['p50_ms']:>10.2f}{fig['p99_ms']:>10.2f}{fig['max_ms']:>10.2f}  "
            f"{how.get(backend, '')}"
        )
    print("(without wake-ups a worker would find new work at its next poll: 250 ms at most)")


# --- the report -----------------------------------------------------------------------------
def target_of(backend: str, op: str) -> float | None:
    """The p99 target in ms for an operation on a backend, if it has one."""
    if backend == "redis":
        return TARGETS["redis_p99_ms"]
    if backend == "sqlite" and op in SQLITE_READS:
        return TARGETS["sqlite_read_p99_ms"]
    return None


def print_latencies(latency: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"state operations, one call at a time: {args.samples} calls each after "
        f"{args.warmup} warm-up; {args.store_items} items in the store for the reads "
        f"({LOG_EVENTS} events each, {WAITING} waiting_human)"
    )
    print(
        f"{'operation':34} {'backend':8} {'p50 us':>9} {'p99 us':>9} {'p99 ms':>8} "
        f"{'max ms':>8}  {'p99 target':11} {'':4}"
    )
    passed: dict[str, dict[str, bool]] = {}
    for op, label in OPS.items():
        for backend, figures in latency.items():
            r = figures[op]
            target = target_of(backend, op)
            mark = ""
            if target is not None:
                ok = r["p99_us"] / 1000 < target
                passed.setdefault(backend, {})[op] = ok
                mark = "pass" if ok else "FAIL"
            goal = f"< {target:g} ms" if target is not None else "-"
            print(
                f"{label:34} {backend:8} {r['p50_us']:9.1f} {r['p99_us']:9.1f} "
                f"{r['p99_us'] / 1000:8.3f} {r['max_us'] / 1000:8.3f}  {goal:11} {mark:4}"
            )
    ping = latency.get("redis", {}).get("ping")
    if ping is not None:
        print(
            f"reference: a bare redis-py PING round trip, p50 {ping['p50_us']:.1f} us, "
            f"p99 {ping['p99_us']:.1f} us (under every Redis store call: one or more)"
        )
    return passed


def print_fleet(
    baseline: dict[str, Any], runs: list[dict[str, Any]], args: argparse.Namespace
) -> bool | None:
    print()
    print(
        f"no-op loop, {args.items} items x {noop.STEPS_PER_ITEM} steps, concurrency "
        f"{args.concurrency} per process, Redis workers share one prefix"
    )
    print(
        f"{'run':36} {'steps/s':>9} {'seconds':>8} {'vs memory':>10} "
        f"{'steps/s to last accept':>23} {'accepted once':>14}  claimed per worker"
    )
    print(
        f"{'baton, memory store, in-process':36} {baseline['steps_per_s']:9,.0f} "
        f"{baseline['seconds']:8.2f} {1:10.2f} {'-':>23} {'-':>14}  -"
    )
    for r in runs:
        label = f"baton, Redis, {r['workers']} worker process" + ("es" if r["workers"] > 1 else "")
        print(
            f"{label:36} {r['steps_per_s']:9,.0f} {r['seconds']:8.2f} "
            f"{r['steps_per_s'] / baseline['steps_per_s']:10.2f} "
            f"{r['steps_per_s_to_last_accepted']:23,.0f} "
            f"{r['accepted_once']:>6}/{r['items']:<7}  "
            f"{', '.join(str(c) for c in r['claimed_per_worker'])}"
        )
    two = next((r for r in runs if r["workers"] == 2), None)
    goal = TARGETS["redis_2_workers_steps_per_s"]
    if two is None:
        print(f"target: Redis with 2 workers >= {goal:,} steps/s: not measured")
        return None
    ok = two["steps_per_s"] >= goal and two["all_accepted_once"]
    print(
        f"target: Redis with 2 workers >= {goal:,} steps/s, every item accepted once: "
        f"{'pass' if ok else 'FAIL'}"
    )
    print(
        "(seconds: from the go line to the last worker's engine returning; an engine notices "
        "items finished by others when it re-reads its pending items, about once a second)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3_000, help="timed calls per operation")
    parser.add_argument("--warmup", type=int, default=300, help="untimed calls first")
    parser.add_argument("--store-items", type=int, default=3_000, help="items for the reads")
    parser.add_argument("--items", type=int, default=4_000, help="no-op items per engine run")
    parser.add_argument("--concurrency", type=int, default=256, help="items in flight/process")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts on Redis")
    parser.add_argument("--poll-interval", type=float, default=0.01, help="workers' poll (s)")
    parser.add_argument(
        "--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), help="Redis URL"
    )
    parser.add_argument("--skip-redis", action="store_true", help="memory and SQLite only")
    parser.add_argument("--pickups", type=int, default=50, help="items submitted one by one")
    parser.add_argument("--step-items", type=int, default=500, help="items at concurrency 1")
    parser.add_argument(
        "--steps-only", action="store_true", help="only part 4: one step's cost on Redis"
    )
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--idle-worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.idle_worker:
        asyncio.run(idle_worker(args.idle_worker))
        return
    if args.worker:
        asyncio.run(
            worker(args.worker, args.items, args.concurrency, args.poll_interval, args.timeout)
        )
        return
    workers = [int(k) for k in args.workers.split(",") if k.strip()]

    skipped = "--skip-redis given" if args.skip_redis else redis_problem(args.redis)
    if skipped:
        print(f"Redis: skipped ({skipped}); measuring memory and SQLite only", flush=True)
    steps = None
    if not skipped:
        print("measuring one step on Redis at concurrency 1...", file=sys.stderr, flush=True)
        steps = asyncio.run(redis_steps.steps_at_concurrency_1(args.redis, args.step_items))
    if args.steps_only:
        if steps is not None:
            redis_steps.print_steps(steps)
        print(json.dumps({"bench": "store", "redis_skipped": skipped, "redis_steps": steps}))
        return
    entries = asyncio.run(event_templates())
    latency: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"memory": "memory://", "sqlite": str(Path(tmp) / "bench.db")}
        if not skipped:
            urls["redis"] = with_prefix(args.redis, f"bench-store-{uuid.uuid4().hex[:12]}:")
        for backend, url in urls.items():
            print(f"measuring {backend} operations...", file=sys.stderr, flush=True)
            latency[backend] = asyncio.run(latencies_on(url, args, entries))

    print("measuring the in-memory baseline...", file=sys.stderr, flush=True)
    gc.collect()
    baseline = asyncio.run(noop.run_baton(MemoryStore(), args.items, args.concurrency))
    runs = []
    if not skipped:
        for k in workers:
            print(
                f"running the no-op loop with {k} Redis worker(s)...", file=sys.stderr, flush=True
            )
            runs.append(
                asyncio.run(
                    fleet(
                        args.redis,
                        k,
                        args.items,
                        args.concurrency,
                        args.poll_interval,
                        args.timeout,
                    )
                )
            )

    pickups: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pickup_urls = {"sqlite": str(Path(tmp) / "pickup.db")}
        if not skipped:
            pickup_urls["redis"] = with_prefix(args.redis, f"bench-store-{uuid.uuid4().hex[:12]}:")
        for backend, url in pickup_urls.items():
            print(f"measuring pick-up on {backend}...", file=sys.stderr, flush=True)
            pickups[backend] = asyncio.run(pickup(url, args.pickups))

    passed = print_latencies(latency, args)
    fleet_ok = print_fleet(baseline, runs, args)
    print_pickup(pickups)
    if steps is not None:
        redis_steps.print_steps(steps)
    if skipped:
        print(f"Redis: skipped ({skipped})")
    figures = {
        "bench": "store",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "samples": args.samples,
        "warmup": args.warmup,
        "redis": None if skipped else parse_url(args.redis)[2],
        "redis_skipped": skipped,
        "latency": latency,
        "baseline_memory": baseline,
        "redis_workers": runs,
        "pickup": pickups,
        "redis_steps": steps,
        "targets": TARGETS,
        "passed": {**passed, "redis_2_workers": fleet_ok},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
