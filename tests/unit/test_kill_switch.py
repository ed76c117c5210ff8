"""The kill switch on a running engine (memory store): a paused agent gets no new attempt,
not even one that was waiting for the agent's concurrency slot when the pause came; the
hard form stops the attempts that are running, on record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from baton import AgentResult, Assignment
from baton.config.playbook import AgentSlot, Playbook
from baton.config.sections import BudgetModel
from baton.core import events as ev
from baton.runtime.engine import Engine
from baton.services import actions
from baton.store import MemoryStore
from baton.testing import FunctionAgent, item


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


async def started(store: MemoryStore, item_id: str) -> int:
    return sum(1 for e in await store.load(item_id) if e.kind == ev.ATTEMPT_STARTED)


async def test_an_item_waiting_for_the_slot_does_not_slip_through_a_pause() -> None:
    gate = asyncio.Event()
    runs: list[str] = []

    async def work(assignment: Assignment) -> AgentResult:
        runs.append(assignment.item_id)
        if assignment.item_id == "first":
            await gate.wait()
        return AgentResult(text="done")

    agent = FunctionAgent("w", work)
    book = Playbook.build("k", agents={"w": AgentSlot(agent, concurrency=1)})
    store = MemoryStore()
    engine = Engine(store, book, poll_interval=0.01)
    await engine.submit(book, [item("a", id="first"), item("b", id="second")])
    running = asyncio.create_task(engine.run(["first", "second"]))
    await until(lambda: runs == ["first"])  # the second waits for the agent's one slot
    await actions.set_paused(store, "w", True, "ops", "hold everything")
    await until(lambda: "w" in engine.paused)
    gate.set()  # the slot frees while the agent is paused
    await asyncio.sleep(0.3)
    assert runs == ["first"] and await started(store, "second") == 0
    await actions.set_paused(store, "w", False, "ops")
    await asyncio.wait_for(running, 10)
    assert runs == ["first", "second"]


async def test_pause_with_stop_stops_the_running_attempt_on_record() -> None:
    calls = 0
    forever = asyncio.Event()

    async def work(assignment: Assignment) -> AgentResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            await forever.wait()  # a stuck attempt
        return AgentResult(text="done")

    book = Playbook.build(
        "s", agents={"w": FunctionAgent("w", work)}, budget=BudgetModel(attempts=3)
    )
    store = MemoryStore()
    engine = Engine(store, book, poll_interval=0.01)
    await engine.submit(book, [item("stuck", id="x")])
    running = asyncio.create_task(engine.run(["x"]))
    await until(lambda: calls == 1)
    said = await actions.set_paused(store, "w", True, "ops", "runaway", stop=True)
    assert said == "agent w paused, and its running attempts are being stopped"
    log: list[ev.Event] = []

    async def failed() -> bool:
        log[:] = await store.load("x")
        return any(e.kind == ev.ATTEMPT_FAILED for e in log)

    for _ in range(500):
        if await failed():
            break
        await asyncio.sleep(0.01)
    (stopped,) = [e for e in log if e.kind == ev.ATTEMPT_FAILED]
    assert stopped.data["error"] == "stopped by human:ops (agents pause --stop): runaway"
    await asyncio.sleep(0.2)
    assert calls == 1, "paused: no new attempt"
    await actions.set_paused(store, "w", False, "ops")
    await asyncio.wait_for(running, 10)
    kinds = [e.kind for e in await store.load("x")]
    assert kinds.count(ev.ATTEMPT_STARTED) == 2 and kinds[-1] == ev.ITEM_ACCEPTED


async def test_a_stop_written_before_an_engine_starts_stops_nothing_of_it() -> None:
    store = MemoryStore()
    await actions.set_paused(store, "w", True, "ops", "old", stop=True)
    await actions.set_paused(store, "w", False, "ops")
    book = Playbook.build("o", agents={"w": FunctionAgent("w", lambda a: "done")})
    engine = Engine(store, book, poll_interval=0.01)
    await engine.submit(book, [item("fine", id="y")])
    await asyncio.wait_for(engine.run(["y"]), 10)
    kinds = [e.kind for e in await store.load("y")]
    assert ev.ATTEMPT_FAILED not in kinds and kinds[-1] == ev.ITEM_ACCEPTED
