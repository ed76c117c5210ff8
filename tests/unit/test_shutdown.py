"""An engine's stop (memory store): draining begins nothing new and lets the attempts in
flight finish; the grace running out (or a stop at once) stops them, recorded as
abandoned by this engine with why; every lease is given back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from baton import AgentResult, Assignment
from baton.config.playbook import AgentSlot, Playbook
from baton.config.sections import BudgetModel
from baton.core import events as ev
from baton.runtime.engine import Engine
from baton.runtime.shutdown import Interrupted, Latch, Shutdown, unless
from baton.store import MemoryStore, Store
from baton.testing import FunctionAgent, item


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


async def kinds(store: Store, item_id: str) -> list[str]:
    return [e.kind for e in await store.load(item_id)]


def engine_with(work: Callable[[Assignment], object], concurrency: int = 2) -> Engine:
    agent = FunctionAgent("w", work)
    book = Playbook.build(
        "s", agents={"w": AgentSlot(agent, concurrency=concurrency)}, budget=BudgetModel(attempts=3)
    )
    return Engine(MemoryStore(), book, poll_interval=0.01, concurrency=concurrency)


async def test_draining_lets_attempts_finish_and_begins_nothing_new() -> None:
    gate = asyncio.Event()
    began: list[str] = []

    async def work(assignment: Assignment) -> AgentResult:
        began.append(assignment.item_id)
        await gate.wait()
        return AgentResult(text="done")

    engine = engine_with(work)
    store = engine.store
    book = next(iter(engine.playbooks.values()))
    ids = [f"i{n}" for n in range(5)]
    await engine.submit(book, [item(f"job {n}", id=i) for n, i in enumerate(ids)])
    running = asyncio.create_task(engine.run(ids))
    await until(lambda: len(began) == 2)
    engine.stop(grace=30)
    await asyncio.sleep(0.1)
    assert not running.done(), "the attempts in flight are waited for"
    gate.set()
    await asyncio.wait_for(running, 5)
    assert len(began) == 2, "nothing new began once the engine was stopping"
    for i in began:
        assert ev.ATTEMPT_FINISHED in await kinds(store, i)
        assert ev.ATTEMPT_ABANDONED not in await kinds(store, i)
    rows = await store.query(item_ids=ids, limit=None)
    assert all(r.lease_owner is None for r in rows), "every lease given back"
    # the items it did not get to are there for the next engine, untouched
    untouched = [r for r in rows if r.item_id not in began]
    assert len(untouched) == 3 and all(r.attempts == 0 for r in untouched)


async def test_the_grace_running_out_stops_attempts_on_record() -> None:
    forever = asyncio.Event()

    async def work(assignment: Assignment) -> AgentResult:
        await forever.wait()
        return AgentResult(text="never")

    engine = engine_with(work, concurrency=1)
    store = engine.store
    book = next(iter(engine.playbooks.values()))
    await engine.submit(book, [item("stuck", id="x")])
    running = asyncio.create_task(engine.run(["x"]))
    await until(lambda: engine.shared.leases.held == {"x"})
    await asyncio.sleep(0.05)
    engine.stop(grace=0.2, why="SIGTERM")
    await asyncio.wait_for(running, 5)
    events = await store.load("x")
    abandoned = [e for e in events if e.kind == ev.ATTEMPT_ABANDONED]
    assert len(abandoned) == 1
    reason = abandoned[0].data["reason"]
    assert reason == (
        f"engine {engine.owner} stopped before it finished: its grace of 0.2 s ran out (SIGTERM)"
    )
    assert events[-1].kind == ev.ATTEMPT_ABANDONED, "and no new attempt began"
    (row,) = await store.query(item_ids=["x"])
    assert row.lease_owner is None and row.runnable


async def test_a_stop_at_once_after_a_drain_does_not_wait_for_the_grace() -> None:
    forever = asyncio.Event()

    async def work(assignment: Assignment) -> AgentResult:
        await forever.wait()
        return AgentResult(text="never")

    engine = engine_with(work, concurrency=1)
    book = next(iter(engine.playbooks.values()))
    await engine.submit(book, [item("stuck", id="x")])
    running = asyncio.create_task(engine.run(["x"]))
    await until(lambda: engine.shared.leases.held == {"x"})
    await asyncio.sleep(0.05)
    engine.stop(grace=3600, why="SIGINT")
    await asyncio.sleep(0.1)
    assert not running.done()
    engine.stop(0, "asked to stop at once (SIGINT again)")
    await asyncio.wait_for(running, 5)
    (abandoned,) = [e for e in await engine.store.load("x") if e.kind == ev.ATTEMPT_ABANDONED]
    assert abandoned.data["reason"].endswith("asked to stop at once (SIGINT again)")


async def test_an_item_waiting_for_a_paused_agent_is_let_go_at_once() -> None:
    async def work(assignment: Assignment) -> AgentResult:
        return AgentResult(text="done")

    engine = engine_with(work)
    store = engine.store
    book = next(iter(engine.playbooks.values()))
    from baton.services import actions

    await actions.set_paused(store, "w", True, "ops", "hold")
    await engine.submit(book, [item("held", id="h")])
    running = asyncio.create_task(engine.run(["h"]))
    await until(lambda: engine.shared.leases.held == {"h"})  # held by the switch
    engine.stop(grace=3600)
    await asyncio.wait_for(running, 5)  # no attempt in flight: nothing to wait for
    assert ev.ATTEMPT_STARTED not in await kinds(store, "h")
    (row,) = await store.query(item_ids=["h"])
    assert row.lease_owner is None


async def test_run_with_a_stop_event_drains_without_a_grace() -> None:
    gate = asyncio.Event()

    async def work(assignment: Assignment) -> AgentResult:
        await gate.wait()
        return AgentResult(text="done")

    engine = engine_with(work, concurrency=1)
    book = next(iter(engine.playbooks.values()))
    await engine.submit(book, [item("one", id="a"), item("two", id="b")])
    stop = asyncio.Event()
    running = asyncio.create_task(engine.run(None, stop=stop))
    await until(lambda: len(engine.shared.leases.held) == 1)
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.sleep(0.2)
    assert not running.done() and engine.stopping
    gate.set()
    await asyncio.wait_for(running, 5)
    finished = [i for i in "ab" if ev.ATTEMPT_FINISHED in await kinds(engine.store, i)]
    assert len(finished) == 1


async def test_unless_returns_the_result_or_interrupts() -> None:
    event = Latch()

    async def slow() -> int:
        await asyncio.sleep(10)
        return 1

    async def quick() -> int:
        return 2

    assert await unless(event, quick()) == 2
    task = asyncio.create_task(unless(event, slow()))
    await asyncio.sleep(0.01)
    event.set()
    with pytest.raises(Interrupted):
        await task
    with pytest.raises(Interrupted):
        await unless(event, quick())  # already set: the work never starts


async def test_unless_leaves_other_cancellations_of_its_caller_alone() -> None:
    event = Latch()

    async def slow() -> int:
        await asyncio.sleep(10)
        return 1

    task = asyncio.create_task(unless(event, slow()))
    await asyncio.sleep(0.01)
    task.cancel()  # not the latch: the caller is cancelled, and stays so
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not event.is_set()

    async def caller() -> str:
        try:
            await unless(event, slow())
        except Interrupted:
            await asyncio.sleep(0)  # an interrupted caller goes on, not cancelled
            return "interrupted, and on its way"
        return "finished"

    running = asyncio.create_task(caller())
    await asyncio.sleep(0.01)
    event.set()
    assert await running == "interrupted, and on its way"


async def test_a_shorter_grace_brings_the_halt_forward_and_a_longer_one_does_not() -> None:
    shutdown = Shutdown()
    shutdown.drain(0.2, "first")
    shutdown.drain(3600, "later, longer")
    await asyncio.wait_for(shutdown.halted.wait(), 2)
    assert shutdown.why == "its grace of 0.2 s ran out (first)"
