"""The read model of the figures on every backend: the counters each append adds to agree
exactly with a rebuild from the log, on randomised histories; stores without counters
are rebuilt on first read; a rebuild catches up with what is appended while it runs."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from baton.core import events as ev
from baton.core.events import Event, chain
from baton.core.state import ItemState
from baton.core.tally import META, VERSION, Tally, tally
from baton.services import metrics, readmodel
from baton.store import Store, open_store

BACKENDS = ["memory", "sqlite", "redis"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = str(tmp_path / "s.db")
    else:
        url = str(request.getfixturevalue("redis_store_url"))
    backend = open_store(url)
    yield backend
    await backend.close()


def lifecycle(
    rng: random.Random, item: str, start: float
) -> list[tuple[float, str, dict[str, Any]]]:
    """One item's events, with times, drawn at random: attempts by several agents, every
    way they end, checks, reviews, waits for people, outcomes, reopened escalations."""
    at = start
    out: list[tuple[float, str, dict[str, Any]]] = []

    def add(kind: str, **data: Any) -> None:
        nonlocal at
        at += rng.choice([0.0004, 0.3, 2.5, 40.0, 900.0, 5000.0]) * rng.random()
        out.append((at, kind, data))

    def usage() -> dict[str, Any]:
        return {
            "prompt_tokens": rng.randrange(500),
            "completion_tokens": rng.randrange(200),
            "cost": round(rng.random() / 100, 6),
            "seconds": round(rng.random() * 30, 3),
        }

    add(ev.ITEM_SUBMITTED, spec={"objective": item})
    rounds = rng.randrange(1, 3)
    n = 0
    for _ in range(rounds):
        for _ in range(rng.randrange(0, 4)):
            n += 1
            agent = rng.choice(["cheap", "strong", "human:ann"])
            add(ev.ATTEMPT_STARTED, attempt=n, agent=agent)
            end = rng.random()
            if end < 0.6:
                add(ev.ATTEMPT_FINISHED, attempt=n, output={"text": "x"}, usage=usage())
                for verifier in rng.sample(["schema", "tests"], rng.randrange(3)):
                    add(ev.CHECK_RECORDED, attempt=n, verifier=verifier, passed=rng.random() < 0.7)
                if rng.random() < 0.3:
                    add(ev.HUMAN_REQUESTED, wait="review", attempt=n, reviewer="lead")
                if rng.random() < 0.6:
                    decision = rng.choice(["approve", "request_changes", "reject"])
                    add(
                        ev.REVIEW_DECIDED,
                        attempt=n,
                        reviewer="lead",
                        decision=decision,
                        usage=usage(),
                    )
            elif end < 0.8:
                add(ev.ATTEMPT_FAILED, attempt=n, error="boom", usage=usage())
            else:
                add(ev.ATTEMPT_ABANDONED, attempt=n)
        if rng.random() < 0.2:
            add(ev.HUMAN_REQUESTED, wait="work", attempt=n + 1, reviewer="ann")
        outcome = rng.random()
        if outcome < 0.45 and n:
            add(ev.ITEM_ACCEPTED, attempt=n, agent="cheap")
            break
        if outcome < 0.7:
            add(ev.ITEM_ESCALATED, reason="budget")
            if rng.random() < 0.6:
                add(ev.ITEM_REOPENED, by="ann", extra_attempts=1)
                continue
            break
        if outcome < 0.8:
            add(ev.ITEM_FAILED, reason="rejected")
            break
        if outcome < 0.9:
            add(ev.ITEM_CANCELLED, by="ann")
            break
    return out


async def write_history(store: Store, seed: int, items: int = 60) -> Tally:
    """Append randomised lifecycles, interleaved, a few events an append, each with what
    it adds to the counters; the counters summed along the way (as the store should)."""
    rng = random.Random(seed)
    pending = {
        f"i{seed}-{n}": lifecycle(rng, f"i{seed}-{n}", 1_800_000_000 + rng.random() * 20_000)
        for n in range(items)
    }
    states = {item: ItemState(item) for item in pending}
    expected = Tally()
    while pending:
        item = rng.choice(sorted(pending))
        k = rng.randrange(1, 4)
        take, pending[item] = pending[item][:k], pending[item][k:]
        state = states[item]
        batch: list[Event] = []
        for at, kind, data in take:
            prev = batch[-1].hash if batch else state.last_hash
            batch.extend(chain(item, state.version + len(batch), prev, at, [(kind, data)]))
        counters = Tally()
        for event in batch:
            tally(state, event, counters)
        await store.append(item, batch[0].seq - 1, batch, tally=counters)
        for key, value in counters.items():
            expected[key] = (
                min(expected.get(key, value), value)
                if key.endswith(".min")
                else max(expected.get(key, value), value)
                if key.endswith(".max")
                else expected[key] + value
            )
        if not pending[item]:
            del pending[item]
    return expected


def nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if v or k.endswith((".min", ".max"))}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_kept_counters_agree_exactly_with_a_rebuild(store: Store, seed: int) -> None:
    expected = await write_history(store, seed)
    kept = await store.tallies()
    assert kept[META] == VERSION  # a new store is covered from its first append
    assert nonzero(kept) == nonzero({**expected, META: VERSION})
    rebuilt = await readmodel.rebuild(store)
    assert rebuilt.differences == {}
    assert nonzero(dict(rebuilt.counters)) == nonzero(kept)
    # and the figures of both are the figures of the events themselves
    events = [e for page in [await store.read(0, 100_000)] for e in page]
    assert metrics.figures(kept, now=2e9) == metrics.compute(events, now=2e9)
    assert nonzero(await store.tallies()) == nonzero(kept)  # put back as they were


async def test_a_prefix_reads_one_scope(store: Store) -> None:
    await write_history(store, 4, items=10)
    everything = await store.tallies()
    for prefix in ("all|", "agent=", "hour=", "agent=cheap|", "pb=", "all|out."):
        assert await store.tallies(prefix) == {
            k: v for k, v in everything.items() if k.startswith(prefix)
        }


async def test_a_store_without_counters_is_rebuilt_on_first_read(store: Store) -> None:
    expected = await write_history(store, 5, items=20)
    head = len(await store.read(0, 100_000))
    assert await store.put_tallies({}, through=head)  # as an older baton left it
    assert META not in await store.tallies()
    figures = await readmodel.current(store, "all|")
    assert figures == {k: v for k, v in expected.items() if k.startswith("all|")}
    assert (await store.tallies("meta|"))[META] == VERSION


async def test_put_tallies_refuses_when_the_log_has_moved(store: Store) -> None:
    await write_history(store, 6, items=3)
    head = len(await store.read(0, 100_000))
    assert not await store.put_tallies({"all|submitted": 99}, through=head - 1)
    assert (await store.tallies("all|"))["all|submitted"] == 3


async def test_a_rebuild_catches_up_with_what_arrives_while_it_runs(store: Store) -> None:
    await write_history(store, 7, items=10)
    put = store.put_tallies
    arrived: list[int] = []

    async def busy(values: Any, *, through: int) -> bool:
        if not arrived:  # another writer appends just before the first attempt to put
            arrived.append(1)
            await write_history(store, 8, items=5)
        return await put(values, through=through)

    store.put_tallies = busy  # type: ignore[method-assign]
    rebuilt = await readmodel.rebuild(store)
    store.put_tallies = put  # type: ignore[method-assign]
    assert rebuilt.counters["all|submitted"] == 15
    assert rebuilt.differences == {}
    assert nonzero(await store.tallies()) == nonzero(dict(rebuilt.counters))


async def test_an_sqlite_file_from_an_older_baton_gets_its_counters(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = open_store(str(path))
    expected = await write_history(store, 9, items=10)
    await store.close()
    with sqlite3.connect(path) as conn:  # as it was before the counters existed
        conn.execute("DROP TABLE tallies")
    store = open_store(str(path))
    try:
        assert META not in await store.tallies()  # events, but no counters: not covered
        assert nonzero(await readmodel.current(store)) == nonzero({**expected, META: VERSION})
    finally:
        await store.close()


async def test_metrics_rebuild_names_the_counters_that_were_wrong(
    tmp_path: Path, baton: Any, baton_store: str
) -> None:
    store = open_store(baton_store)
    expected = await write_history(store, 10, items=12)
    await store.close()
    with sqlite3.connect(baton_store) as conn:  # a counter gone wrong
        conn.execute("UPDATE tallies SET value = value + 5 WHERE name = 'all|submitted'")
    wrong = baton("metrics", "--json", check=True)
    assert '"submitted": 17' in wrong.stdout  # read as kept
    fixed = baton("metrics", "--rebuild", check=True)
    assert (
        "1 differed" in fixed.stdout and "all|submitted: kept 17, the log says 12" in fixed.stdout
    )
    again = baton("metrics", "--rebuild", "--json", check=True)
    assert '"differences": {}' in again.stdout and '"submitted": 12' in again.stdout
    assert expected["all|submitted"] == 12
    unknown = baton("metrics", "--playbook", "nope")
    assert unknown.returncode == 2 and "no item of playbook 'nope'" in unknown.stderr


async def test_the_engines_commits_keep_the_counters_a_rebuild_finds(store: Store) -> None:
    from baton.config.playbook import AgentSlot, Playbook
    from baton.config.sections import BudgetModel
    from baton.testing import FunctionVerifier, ScriptedAgent, run_items

    big = "y" * 300_000  # more than an event holds: the engine keeps it as a blob
    agent = ScriptedAgent("w", ["no", "yes", big, "no", "no", "yes"] * 4)
    book = Playbook.build(
        "engine",
        agents={"w": AgentSlot(agent)},
        verifiers={"says-yes": FunctionVerifier("says-yes", _says_yes)},
        budget=BudgetModel(attempts=2),
    )
    await run_items(book, [f"item {n}" for n in range(8)], store=store)
    kept = await store.tallies()
    assert kept["all|submitted"] == 8 and kept["agent=w|attempts"] >= 8
    assert (await readmodel.rebuild(store)).differences == {}


def _says_yes(candidate: Any) -> bool:
    return "yes" in str(candidate.output)
