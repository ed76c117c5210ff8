"""One contract for every Store backend: memory, SQLite and Redis (REDIS_URL)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from baton.core.events import chain, verify_chain
from baton.errors import LeaseLost, StoreError, VersionConflict
from baton.store import ItemSummary, SQLiteStore, Store, open_store
from baton.store.base import claim_logs
from baton.store.paging import position

BACKENDS = ["memory", "sqlite", "redis"]


def url_of(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return str(tmp_path / "s.db")
    return str(request.getfixturevalue("redis_store_url"))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend, as a URL."""
    return url_of(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each backend that several handles (and processes) share."""
    return url_of(request.param, request, tmp_path)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    backend = open_store(store_url)
    yield backend
    await backend.close()


def summary(
    item: str,
    version: int,
    *,
    status: str = "running",
    runnable: bool = True,
    queue: str = "q",
    created: float = 1.0,
    waiting: str | None = None,
) -> ItemSummary:
    return ItemSummary(
        item, queue, status, runnable, waiting, version, 0, f"objective {item}", created, created
    )


async def ids(store: Store, owner: str, **kw: Any) -> list[str]:
    """The ids a claim leased."""
    return [c.item_id for c in await store.claim(owner, **kw)]


async def put(store: Store, item: str, n: int = 1, **kw: object) -> None:
    events = chain(item, 0, "", 1.0, [("item.submitted", {"i": i}) for i in range(n)])
    await store.append(item, 0, events, summary(item, n, **kw))  # type: ignore[arg-type]


async def test_append_load_round_trip_keeps_data_and_chain(store: Store) -> None:
    data = {
        "float": 0.1 + 0.2,
        "unicode": "é ✓ 漢字",
        "nested": {"list": [1, None, True, {"x": 1.5e300}]},
    }
    events = chain("a", 0, "", 1234.5678, [("item.submitted", data), ("item.scoped", {"plan": {}})])
    stored = await store.append("a", 0, events, summary("a", 2))
    loaded = await store.load("a")
    assert [e.data for e in loaded] == [data, {"plan": {}}]
    assert [e.position for e in loaded] == [e.position for e in stored]
    assert verify_chain(loaded) is None
    assert [e.seq for e in await store.load("a", after=1)] == [2]
    assert await store.load("missing") == []


async def test_version_conflict_writes_nothing(store: Store) -> None:
    await put(store, "a")
    events = chain("a", 0, "", 2.0, [("item.submitted", {"again": True})])
    with pytest.raises(VersionConflict) as caught:
        await store.append("a", 0, events, summary("a", 1, status="failed"))
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert len(await store.load("a")) == 1
    assert (await store.query())[0].status == "running"


async def test_feed_is_global_and_ordered(store: Store) -> None:
    await put(store, "a", 2)
    await put(store, "b", 1)
    await put(store, "a2", 3)
    feed = await store.read()
    assert [e.log for e in feed] == ["a", "a", "b", "a2", "a2", "a2"]
    positions = [e.position for e in feed]
    assert positions == sorted(positions) and len(set(positions)) == 6
    assert [e.log for e in await store.read(after=positions[2], limit=2)] == ["a2", "a2"]


async def test_logs_without_summary_are_not_items(store: Store) -> None:
    await store.append("fleet", 0, chain("fleet", 0, "", 1.0, [("agent.paused", {"agent": "x"})]))
    assert await store.query() == []
    assert await store.counts() == {}
    assert len(await store.load("fleet")) == 1


async def test_query_filters_and_counts(store: Store) -> None:
    await put(store, "a", created=3.0)
    await put(store, "b", status="accepted", runnable=False, created=1.0)
    await put(
        store,
        "c",
        status="waiting_human",
        runnable=False,
        waiting="review",
        created=2.0,
        queue="other",
    )
    assert [r.item_id for r in await store.query()] == ["b", "c", "a"]
    assert [r.item_id for r in await store.query(statuses=["accepted", "running"])] == ["b", "a"]
    assert [r.item_id for r in await store.query(queue="other")] == ["c"]
    assert [r.item_id for r in await store.query(waiting=True)] == ["c"]
    assert [r.item_id for r in await store.query(waiting=False)] == ["b", "a"]
    assert [r.item_id for r in await store.query(item_ids=["a", "c", "zz"])] == ["c", "a"]
    assert [r.item_id for r in await store.query(limit=1, offset=1)] == ["c"]
    assert await store.counts() == {"running": 1, "accepted": 1, "waiting_human": 1}
    assert await store.counts(queue="other") == {"waiting_human": 1}


async def test_claim_is_exclusive_and_honours_queues(store: Store) -> None:
    for i in range(20):
        await put(store, f"i{i:02d}", queue="q" if i < 15 else "other")
    claims = await asyncio.gather(
        *(store.claim(f"w{k}", limit=3, lease_seconds=30, queues=["q"]) for k in range(8))
    )
    got = [c.item_id for batch in claims for c in batch]
    assert len(got) == len(set(got)) == 15
    assert all(int(i[1:]) < 15 for i in got)
    assert await ids(store, "late", limit=5, lease_seconds=30, queues=["q"]) == []


async def test_claim_logs_hands_out_each_claimed_item_with_its_log(store: Store) -> None:
    """What the engine claims with: leases as `claim` gives them, each with the item's whole
    log (Redis reads it in the claim's own step; the others load it after)."""
    for i in range(4):
        await put(store, f"i{i}")
    got = await claim_logs(store, "w", limit=3, lease_seconds=30, queues=["q"])
    assert [c.item_id for c, _ in got] == ["i0", "i1", "i2"]
    for c, events in got:
        assert events == await store.load(c.item_id)
        assert [(e.seq, e.kind) for e in events] == [(1, "item.submitted")]
        stored = await store.append(  # the fence handed out is the lease's own
            c.item_id,
            1,
            chain(c.item_id, 1, events[-1].hash, 2.0, [("x", {})]),
            summary(c.item_id, 2),
            fence=c.fence,
        )
        assert [e.seq for e in stored] == [2]
    assert await claim_logs(store, "late", limit=3, lease_seconds=30, queues=["q"]) != []
    assert await claim_logs(store, "later", limit=3, lease_seconds=30, queues=["q"]) == []
    assert await claim_logs(store, "none", limit=0, lease_seconds=30) == []


async def test_claims_take_started_items_before_never_started_ones(store: Store) -> None:
    """A crashed worker's items (an attempt was cut) do not wait behind the backlog."""
    rows = [  # (item, queue, attempts, updated_at): the backlog is older than the cut items
        ("fresh-1", "q", 0, 10.0),
        ("fresh-2", "other", 0, 11.0),
        ("fresh-3", "q", 0, 12.0),
        ("cut-late", "q", 1, 50.0),
        ("cut-early", "other", 2, 40.0),
    ]
    for item, queue, attempts, updated in rows:
        events = chain(item, 0, "", 1.0, [("item.submitted", {})])
        row = ItemSummary(item, queue, "running", True, None, 1, attempts, "o", 1.0, updated)
        await store.append(item, 0, events, row)
    got = await ids(store, "w1", limit=3, lease_seconds=0.05)
    assert sorted(got) == ["cut-early", "cut-late", "fresh-1"]  # in any order
    # one queue at a time, and after the leases lapse, the same order again
    await asyncio.sleep(0.1)
    assert await ids(store, "w2", limit=1, lease_seconds=30, queues=["q"]) == ["cut-late"]
    assert await ids(store, "w2", limit=1, lease_seconds=30, queues=["q"]) == ["fresh-1"]
    assert await ids(store, "w2", limit=1, lease_seconds=30, queues=["other"]) == ["cut-early"]
    await store.release("w2", ["cut-early"])
    assert await ids(store, "w3", limit=1, lease_seconds=30) == ["cut-early"]


async def test_fences_refuse_the_appends_of_a_lease_that_was_claimed_again(
    store: Store,
) -> None:
    """An engine that lost its lease (it paused past the lease) writes nothing once another
    has claimed the item: the fence is checked with the version, atomically."""
    await put(store, "a")
    (first,) = await store.claim("w1", limit=1, lease_seconds=0.05)
    events = chain("a", 1, (await store.load("a"))[-1].hash, 2.0, [("item.scoped", {})])
    row = summary("a", 2)
    await asyncio.sleep(0.1)  # w1's lease lapses; w2 claims the item
    (second,) = await store.claim("w2", limit=1, lease_seconds=30)
    assert second.item_id == "a" and second.fence > first.fence
    with pytest.raises(LeaseLost) as lost:
        await store.append("a", 1, events, row, fence=first.fence)
    assert (lost.value.fence, lost.value.current) == (first.fence, second.fence)
    assert len(await store.load("a")) == 1, "nothing was written"
    assert (await store.query(item_ids=["a"]))[0].version == 1
    stored = await store.append("a", 1, events, row, fence=second.fence)
    assert [e.seq for e in stored] == [2]
    # a stale fence is refused even when the version is right; an unfenced append (a
    # person's action) is checked by version alone
    more = chain("a", 2, stored[-1].hash, 3.0, [("item.scoped", {})])
    with pytest.raises(LeaseLost):
        await store.append("a", 2, more, summary("a", 3), fence=first.fence)
    await store.append("a", 2, more, summary("a", 3))
    # a fence only grows: released and claimed again, the item gets a newer one
    await store.release("w2", ["a"])
    (third,) = await store.claim("w3", limit=1, lease_seconds=30)
    assert third.fence > second.fence


async def test_blobs_are_kept_by_digest_and_dropped_with_the_store(store: Store) -> None:
    from baton.core.bounds import digest_of

    big = b"x" * 3_000_000
    small = "déjà vu".encode()
    blobs = {digest_of(big): big, digest_of(small): small}
    assert await store.get_blob(digest_of(big)) is None
    await store.put_blobs(blobs)
    await store.put_blobs(blobs)  # again: harmless, nothing changes
    assert await store.get_blob(digest_of(big)) == big
    assert await store.get_blob(digest_of(small)) == small
    await store.put_blobs({})
    await store.drop()
    assert await store.get_blob(digest_of(small)) is None


async def test_leases_expire_renew_and_release(store: Store) -> None:
    await put(store, "a")
    await put(store, "b")
    assert sorted(await ids(store, "w1", limit=5, lease_seconds=0.05)) == ["a", "b"]
    assert await store.renew("w1", ["a"], 30) == ["a"]
    assert await store.renew("w2", ["b"], 30) == []
    await asyncio.sleep(0.1)
    assert await ids(store, "w2", limit=5, lease_seconds=30) == ["b"]  # a's lease was renewed
    await store.release("w1", ["b"])  # not w1's any more: nothing changes
    assert (await store.query(item_ids=["b"]))[0].lease_owner == "w2"
    await store.release("w2", ["b"])
    assert await ids(store, "w3", limit=5, lease_seconds=30) == ["b"]


async def test_non_runnable_summary_releases_the_lease(store: Store) -> None:
    await put(store, "a")
    assert await ids(store, "w1", limit=1, lease_seconds=30) == ["a"]
    first = await store.load("a")
    more = chain("a", 1, first[-1].hash, 2.0, [("human.requested", {"wait": "review"})])
    await store.append(
        "a", 1, more, summary("a", 2, status="waiting_human", runnable=False, waiting="review")
    )
    row = (await store.query())[0]
    assert (row.lease_owner, row.runnable, row.waiting) == (None, False, "review")
    assert await ids(store, "w2", limit=1, lease_seconds=30) == []


async def test_drop_empties_the_store_and_positions_start_again(store: Store) -> None:
    await store.append("a", 0, chain("a", 0, "", 1.0, [("k", {}), ("k", {})]), summary("a", 2))
    await store.append("fleet", 0, chain("fleet", 0, "", 1.0, [("agent.paused", {})]))
    assert await ids(store, "w", limit=5, lease_seconds=30) == ["a"]
    await store.drop()
    assert await store.load("a") == [] and await store.read() == []
    assert await store.query(limit=None) == [] and await store.counts() == {}
    stored = await store.append("b", 0, chain("b", 0, "", 2.0, [("k", {})]), summary("b", 1))
    assert stored[0].position == 1
    assert await ids(store, "w", limit=5, lease_seconds=30) == ["b"]


async def test_many_concurrent_appends_all_land(store: Store) -> None:
    await asyncio.gather(*(put(store, f"i{i}", 2) for i in range(500)))
    assert len(await store.read(limit=5000)) == 1000
    assert (await store.counts()) == {"running": 500}


async def test_sqlite_persists_and_races_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    one, two = SQLiteStore(path), SQLiteStore(path)
    a = chain("x", 0, "", 1.0, [("item.submitted", {"by": "one"})])
    b = chain("x", 0, "", 1.0, [("item.submitted", {"by": "two"})])
    results = await asyncio.gather(
        one.append("x", 0, a, summary("x", 1)),
        two.append("x", 0, b, summary("x", 1)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, VersionConflict) for r in results) == 1
    await one.close()
    await two.close()
    reopened = SQLiteStore(path)
    assert len(await reopened.load("x")) == 1
    await reopened.close()


async def test_sqlite_shared_with_another_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    script = textwrap.dedent(
        f"""
        import asyncio
        from baton.core.events import chain
        from baton.store import SQLiteStore, ItemSummary
        async def main():
            store = SQLiteStore({str(path)!r})
            for i in range(50):
                events = chain(f"other{{i}}", 0, "", 1.0, [("item.submitted", {{}})])
                await store.append(f"other{{i}}", 0, events, ItemSummary(f"other{{i}}", "q", "running", True, None, 1, 0, "", 1.0, 1.0))
            await store.close()
        asyncio.run(main())
        """
    )
    store = SQLiteStore(path)
    child = subprocess.Popen([sys.executable, "-c", script])
    for i in range(50):
        await put(store, f"mine{i}")
    assert child.wait(60) == 0
    assert (await store.counts()) == {"running": 100}
    await store.close()


async def test_a_sqlite_file_of_baton_0_2_0_gains_fences_when_opened(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the items table as baton 0.2.0 wrote it
        conn.executescript(
            """
            CREATE TABLE items (item_id TEXT PRIMARY KEY, queue TEXT NOT NULL,
                status TEXT NOT NULL, runnable INTEGER NOT NULL, waiting TEXT,
                version INTEGER NOT NULL, attempts INTEGER NOT NULL, objective TEXT NOT NULL,
                created_at REAL NOT NULL, updated_at REAL NOT NULL, lease_owner TEXT,
                lease_until REAL);
            CREATE INDEX items_claim ON items (runnable, queue, updated_at);
            INSERT INTO items VALUES ('old', 'q', 'running', 1, NULL, 0, 1, 'o', 1, 1, NULL, NULL);
            """
        )
    store = SQLiteStore(path)
    try:
        (claim,) = await store.claim("w", limit=1, lease_seconds=30)
        assert claim == ("old", 1)
        await put(store, "new")
        assert [c.item_id for c in await store.claim("w", limit=5, lease_seconds=30)] == ["new"]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "items_claim" not in indexes and "items_ready" in indexes
    await SQLiteStore(path).close()  # and opening it again changes nothing


async def test_a_query_for_many_ids_finds_exactly_those_in_order(store: Store) -> None:
    for n in range(40):
        await put(store, f"i{n:02}", created=float(40 - n), queue="q" if n % 2 else "other")
    wanted = [f"i{n:02}" for n in range(0, 40, 3)] + [f"missing{n}" for n in range(1200)]
    found = [r.item_id for r in await store.query(item_ids=wanted, limit=None)]
    assert found == [f"i{n:02}" for n in reversed(range(0, 40, 3))]  # oldest first
    page = await store.query(item_ids=wanted, queue="q", limit=2, offset=1)
    assert [r.item_id for r in page] == ["i33", "i27"]


async def test_sqlite_finds_many_ids_through_the_primary_key(tmp_path: Path) -> None:
    """A query for more than 500 ids once read every item row (285 ms for 1,000 ids on a
    100,000-item store against 1.75 ms for 400): every statement it runs must search."""
    store = SQLiteStore(tmp_path / "s.db")
    try:
        for n in range(20):
            await put(store, f"i{n:02}")
        plans: list[str] = []
        ran: list[str] = []
        store._reader.set_trace_callback(ran.append)
        wanted = [f"i{n:02}" for n in range(0, 20, 2)] + [f"other{n}" for n in range(600)]
        rows = await store.query(item_ids=wanted, limit=None)
        store._reader.set_trace_callback(None)
        assert len(rows) == 10 and ran
        with sqlite3.connect(tmp_path / "s.db") as conn:
            for sql in ran:
                plans += [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert not [p for p in plans if p.startswith("SCAN items")], plans
        assert any("items" in p and "item_id=?" in p for p in plans), plans
    finally:
        await store.close()


async def test_sqlite_reads_a_page_through_an_index_at_any_store_size(tmp_path: Path) -> None:
    """The board's and the API's pages, newest first from a cursor: each statement searches
    an index in its order, so no page sorts (or reads) every matching row."""
    store = SQLiteStore(tmp_path / "s.db")
    try:
        for n in range(30):
            await put(store, f"i{n:02}", created=float(n), queue="q" if n % 2 else "p")
        ran: list[str] = []
        store._reader.set_trace_callback(ran.append)
        at = (20.0, "i20")
        pages = [
            await store.query(newest=True, limit=5),
            await store.query(newest=True, limit=5, cursor=at),
            await store.query(statuses=["running"], newest=True, limit=5, cursor=at),
            await store.query(queue="q", newest=True, limit=5, cursor=at),
            await store.query(queue="p", limit=5, cursor=at),
        ]
        store._reader.set_trace_callback(None)
        assert [len(p) for p in pages] == [5, 5, 5, 5, 4]
        with sqlite3.connect(tmp_path / "s.db") as conn:
            plans = [[r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)] for sql in ran]
        assert len(plans) == 5, ran
        for plan in plans:
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # a sort of every row
        for plan in plans[1:]:
            assert any(p.startswith("SEARCH items USING") for p in plan), plan
        for plan, searched in zip(plans[2:], ["status=?", "queue=?", "queue=?"], strict=True):
            assert searched in plan[0], plan  # the filter's rows alone, not every row's
    finally:
        await store.close()


async def test_sqlite_keeps_its_counts_as_items_change(tmp_path: Path) -> None:
    """`counts` reads a table the items' triggers keep (a few rows at any store size): on
    a randomised history it equals a count over the items, per queue and in all."""
    import random

    rng = random.Random(13)
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    versions: dict[str, int] = {}
    try:
        for step in range(400):
            item = f"i{rng.randrange(60)}"
            version = versions.get(item, 0)
            status = rng.choice(["running", "accepted", "failed", "waiting_human"])
            queue = rng.choice(["a", "b"]) if version == 0 or rng.random() < 0.1 else None
            events = chain(item, version, "", float(step), [("item.submitted", {"s": step})])
            if version:
                prev = (await store.load(item))[-1]
                events = chain(item, version, prev.hash, float(step), [("item.noted", {})])
            row = summary(item, version + 1, status=status, queue=queue or "a")
            if version and queue is None:  # keep its queue
                old = (await store.query(item_ids=[item]))[0]
                row = row._replace(queue=old.queue)
            await store.append(item, version, events, row)
            versions[item] = version + 1
        with sqlite3.connect(path) as conn:
            for queue in (None, "a", "b"):
                where, params = (" WHERE queue = ?", [queue]) if queue else ("", [])
                sql = f"SELECT status, COUNT(*) FROM items{where} GROUP BY status"
                assert await store.counts(queue) == dict(conn.execute(sql, params)), queue
        assert await store.counts("nobody") == {}
        await store.drop()
        assert await store.counts() == {}
    finally:
        await store.close()


async def test_an_older_sqlite_file_gets_its_counts_from_its_items(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    for n in range(5):
        await put(store, f"i{n}", status="accepted" if n % 2 else "running", queue="q")
    await store.close()
    with sqlite3.connect(path) as conn:  # as a baton before the counts table wrote it
        for name in ("item_counted", "item_recounted", "item_uncounted"):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE item_counts")
    store = SQLiteStore(path)
    try:
        assert await store.counts() == {"accepted": 2, "running": 3}
        await put(store, "new", status="running", queue="other")
        assert await store.counts() == {"accepted": 2, "running": 4}
        assert await store.counts("other") == {"running": 1}
    finally:
        await store.close()


def test_sqlite_errors_name_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-db"
    bogus.write_text("this is not a database " * 100)
    with pytest.raises(StoreError, match="not-a-db"):
        SQLiteStore(bogus)


async def _woken(flag: asyncio.Event) -> bool:
    """Whether a watcher was called within a generous bound (a liveness check, not a timing)."""
    try:
        await asyncio.wait_for(flag.wait(), 10)
    except TimeoutError:
        return False
    flag.clear()
    return True


async def test_watchers_hear_of_appends_and_of_claimable_work(store: Store) -> None:
    fed, work = asyncio.Event(), asyncio.Event()
    stop_feed = store.watch("feed", fed.set)
    stop_work = store.watch("work", work.set)
    await asyncio.sleep(0.1)  # a backend may start listening in the background
    fed.clear()
    work.clear()
    await put(store, "a")
    assert await _woken(fed)
    assert await _woken(work)
    assert await ids(store, "w1", limit=1, lease_seconds=30) == ["a"]
    await store.release("w1", ["a"])  # claimable again: watchers hear of it
    assert await _woken(work)
    stop_feed()
    stop_work()


async def test_a_second_handle_on_a_shared_store_sees_and_wakes(shared_url: str) -> None:
    one, two = open_store(shared_url), open_store(shared_url)
    try:
        fed = asyncio.Event()
        stop = one.watch("feed", fed.set)
        await asyncio.sleep(0.1)
        fed.clear()
        await put(two, "from-two")
        assert await _woken(fed)
        assert [e.log for e in await one.read()] == ["from-two"]
        assert await ids(one, "w", limit=5, lease_seconds=30) == ["from-two"]
        assert await ids(two, "w2", limit=5, lease_seconds=30) == []
        stop()
    finally:
        await one.close()
        await two.close()


async def test_a_broken_watcher_topic_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown topic 'nope'"):
        store.watch("nope", lambda: None)  # type: ignore[arg-type]


async def test_pages_newest_first_follow_their_cursor_while_items_arrive(store: Store) -> None:
    for n in range(9):  # three share a creation time: ties go by id, in either order
        await put(store, f"i{n}", created=float(n // 3 * 3 if n < 6 else n))
    oldest = [r.item_id for r in await store.query(limit=None)]
    assert oldest == [f"i{n}" for n in range(9)]
    newest = [r.item_id for r in await store.query(newest=True, limit=None)]
    assert newest == oldest[::-1]
    first = await store.query(newest=True, limit=4)
    await put(store, "late", created=100.0)  # arrives between two pages: not in the second
    second = await store.query(newest=True, limit=4, cursor=position(first[-1]))
    assert [r.item_id for r in first + second] == newest[:8]
    rest = await store.query(newest=True, limit=4, cursor=position(second[-1]))
    assert [r.item_id for r in rest] == ["i0"]
    assert await store.query(newest=True, cursor=position(rest[-1])) == []
    onward = await store.query(limit=3, cursor=position(first[2]), offset=1)  # oldest first
    assert [r.item_id for r in onward] == ["i8", "late"]
    assert [r.item_id for r in await store.query(newest=True, limit=2)] == ["late", "i8"]
    between = (3.0, "i4x")  # a cursor between two rows: no item of that id
    assert [r.item_id for r in await store.query(newest=True, cursor=between)] == [
        "i4",
        "i3",
        "i2",
        "i1",
        "i0",
    ]
    moved = (5.0, "i4")  # an item of that id, but not at that time
    found = [r.item_id for r in await store.query(newest=True, cursor=moved, limit=2)]
    assert found == ["i5", "i4"]
    assert await store.query(limit=0) == []


async def test_a_text_filter_finds_the_same_items_on_every_backend(store: Store) -> None:
    objectives = ["Fix the Billing export", "billing: retry", "Ünïcode BILLING", "other"]
    for n, objective in enumerate(objectives):
        events = chain(f"t{n}", 0, "", 1.0, [("item.submitted", {})])
        row = summary(f"t{n}", 1, created=float(n), queue="q" if n % 2 else "p")
        await store.append(f"t{n}", 0, events, row._replace(objective=objective))
    found = [r.item_id for r in await store.query(text="BilLing", newest=True, limit=None)]
    assert found == ["t2", "t1", "t0"]
    assert [r.item_id for r in await store.query(text="billing", queue="q")] == ["t1"]
    assert [r.item_id for r in await store.query(text="ünï")] == []  # ASCII case only
    assert [r.item_id for r in await store.query(text="Ünï", statuses=["running"])] == ["t2"]
    assert [r.item_id for r in await store.query(text="T3")] == ["t3"]  # ids match too
    page = await store.query(text="billing", limit=1, cursor=(0.0, "t0"))
    assert [r.item_id for r in page] == ["t1"]


async def test_forgotten_events_leave_the_log_its_version_and_the_feed_its_order(
    store: Store,
) -> None:
    await put(store, "a", 3)
    events = chain("b", 0, "", 1.0, [("item.submitted", {"i": i}) for i in range(2600)])
    await store.append("b", 0, events, summary("b", 2600))  # more than two pages of read
    await put(store, "c", 2)
    assert await store.forget("b", 2600) == 0  # nothing after them: nothing is dropped
    marker = chain("b", 2600, events[-1].hash, 2.0, [("item.archived", {"through": 2600})])
    await store.append("b", 2600, marker, summary("b", 2601))
    assert await store.forget("b", 2600) == 2600
    assert await store.forget("b", 2600) == 0  # again: they are gone already
    assert [e.seq for e in await store.load("b")] == [2601]
    assert [e.seq for e in await store.load("b", 2600)] == [2601]
    assert await store.load("b", 2601) == []
    page = await store.read(0, 4)  # a full page, the forgotten ones skipped, not counted
    assert [(e.log, e.seq) for e in page] == [("a", 1), ("a", 2), ("a", 3), ("c", 1)]
    rest = await store.read(page[-1].position, 1000)
    assert [(e.log, e.seq) for e in rest] == [("c", 2), ("b", 2601)]
    more = chain("b", 2601, marker[0].hash, 3.0, [("item.reopened", {})])
    await store.append("b", 2601, more, summary("b", 2602))  # the version did not move
    assert [e.seq for e in await store.load("b")] == [2601, 2602]
    with pytest.raises(VersionConflict):
        await store.append("b", 1, more, summary("b", 2))
    assert (await store.query(item_ids=["b"]))[0].version == 2602
    await put(store, "d")
    assert [e.log for e in await store.read(rest[-1].position)] == ["b", "d"]


async def test_hashes_of_many_events_in_one_read(store: Store) -> None:
    await put(store, "a", 3)
    await put(store, "b", 2)
    a = await store.load("a")
    marker = chain("a", 3, a[-1].hash, 2.0, [("item.archived", {"through": 2})])
    await store.append("a", 3, marker, summary("a", 4))
    await store.forget("a", 2)
    wanted = [("a", 1), ("a", 3), ("a", 4), ("b", 2), ("b", 3), ("c", 1), ("a", 0), ("a", -1)]
    found = await store.hashes(wanted + [(f"x{n}", 1) for n in range(3000)])
    assert found == {("a", 3): a[2].hash, ("a", 4): marker[0].hash, ("b", 2): ANY}
    assert found[("b", 2)] == (await store.load("b"))[1].hash
    assert await store.hashes([]) == {}


async def test_tags_and_agents_filter_the_index_on_every_backend(store: Store) -> None:
    labelled = {
        "a": (("billing", "urgent"), ("small",)),
        "b": (("billing",), ("small", "big")),
        "c": ((), ("big",)),
        "d": (("urgent",), ()),
    }
    for n, (item, (tags, agents)) in enumerate(labelled.items()):
        events = chain(item, 0, "", 1.0, [("item.submitted", {})])
        row = summary(item, 1, created=float(n))._replace(tags=tags, agents=agents)
        await store.append(item, 0, events, row)

    async def found(**kw: Any) -> list[str]:
        return [r.item_id for r in await store.query(limit=None, **kw)]

    assert await found(tag="billing") == ["a", "b"]
    assert await found(tag="urgent", newest=True) == ["d", "a"]
    assert await found(agent="big") == ["b", "c"]
    assert await found(tag="billing", agent="big") == ["b"]
    assert await found(tag="bill") == [] and await found(agent="") == []  # whole values only
    assert (await store.query(item_ids=["a"]))[0][-2:] == (("billing", "urgent"), ("small",))


async def test_an_older_sqlite_file_gains_tags_and_agents_from_its_logs(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    try:
        started = [("item.submitted", {"spec": {"tags": ["billing", "q3"]}})]
        started += [("attempt.started", {"agent": a}) for a in ("small", "big", "small")]
        await store.append("a", 0, chain("a", 0, "", 1.0, started), summary("a", 4))
        plain = [("item.submitted", {"spec": {"objective": "x"}})]
        await store.append("b", 0, chain("b", 0, "", 1.0, plain), summary("b", 1))
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:  # as an older baton wrote it: no such columns
        conn.execute("ALTER TABLE items DROP COLUMN tags")
        conn.execute("ALTER TABLE items DROP COLUMN agents")
    store = SQLiteStore(path)
    try:
        rows = {r.item_id: (r.tags, r.agents) for r in await store.query(limit=None)}
        assert rows == {"a": (("billing", "q3"), ("small", "big")), "b": ((), ())}
        assert [r.item_id for r in await store.query(agent="big")] == ["a"]
    finally:
        await store.close()
    await SQLiteStore(path).close()  # and opening it again changes nothing


async def test_queues_name_every_playbook_with_items(store: Store) -> None:
    assert await store.queues() == []
    for item, queue in (("a", "triage"), ("b", "notes"), ("c", "triage")):
        await put(store, item, queue=queue)
    assert await store.queues() == ["notes", "triage"]
