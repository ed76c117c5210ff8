"""Fenced leases on a running engine (memory store): an engine that lost its lease writes
nothing more for the item and stops its agent; the engine holding the newer lease records
the cut attempt as abandoned with the true reason, and the takeover itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from baton import AgentResult, Assignment
from baton.config.playbook import Playbook
from baton.config.sections import BudgetModel
from baton.core import events as ev
from baton.core.state import fold
from baton.runtime.engine import Engine
from baton.runtime.leases import take_over
from baton.store import MemoryStore
from baton.testing import FunctionAgent, item


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


def book_of(work: Callable[[Assignment], object]) -> Playbook:
    agent = FunctionAgent("w", work)
    return Playbook.build("f", agents={"w": agent}, budget=BudgetModel(attempts=3))


async def test_an_engine_that_lost_its_lease_records_nothing_and_the_new_holder_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first_gate = asyncio.Event()
    runs: list[tuple[str, int]] = []

    async def work(assignment: Assignment) -> AgentResult:
        runs.append((assignment.item_id, assignment.attempt))
        if assignment.attempt == 1:
            await first_gate.wait()  # engine A's attempt: it outlives A's lease
            return AgentResult(text="done, late")
        return AgentResult(text="done")

    book = book_of(work)
    store = MemoryStore()
    # A drives one item at a time, so it cannot claim x again itself (see below for that)
    a = Engine(store, book, poll_interval=0.01, owner="host-a:1:aaaa", concurrency=1)
    b = Engine(store, book, poll_interval=0.01, owner="host-b:2:bbbb")
    await a.submit(book, [item("one item", id="x")])
    running_a = asyncio.create_task(a.run(["x"]))
    await until(lambda: runs == [("x", 1)])
    # A's lease lapses behind its back (a pause, an outage longer than the lease) and B
    # claims the item
    store._leases["x"] = ("host-a:1:aaaa", 0.0)
    caplog.set_level(logging.WARNING, logger="baton.engine")
    await asyncio.wait_for(b.run(["x"]), 10)
    # A's agent finishes now: its result must not land
    first_gate.set()
    await asyncio.wait_for(running_a, 10)
    events = await store.load("x")
    kinds = [e.kind for e in events]
    assert kinds.count(ev.ATTEMPT_ABANDONED) == 1
    assert kinds.count(ev.ATTEMPT_FINISHED) == 1, "only B's attempt's result is on record"
    (taken,) = [e for e in events if e.kind == ev.LEASE_TAKEN_OVER]
    assert taken.data == {
        "from": "host-a:1:aaaa",
        "by": "host-b:2:bbbb",
        "why": "lease expired",
        "attempts": [1],
    }
    (abandoned,) = [e for e in events if e.kind == ev.ATTEMPT_ABANDONED]
    assert abandoned.data["attempt"] == 1
    assert abandoned.data["reason"].startswith(
        "taken over by engine host-b:2:bbbb: engine host-a:1:aaaa stopped renewing its lease"
    )
    state = fold("x", events)
    assert state.outcome == "accepted" and state.accepted_attempt == 2
    assert state.attempt(2).engine == "host-b:2:bbbb"
    assert "engine host-a:1:aaaa lost its lease on x to another engine" in caplog.text


async def test_an_engine_that_claims_its_own_lapsed_item_again_goes_on_with_it() -> None:
    gate = asyncio.Event()
    runs: list[int] = []

    async def work(assignment: Assignment) -> AgentResult:
        runs.append(assignment.attempt)
        await gate.wait()
        return AgentResult(text="done")

    book = book_of(work)
    store = MemoryStore()
    engine = Engine(store, book, poll_interval=0.01, owner="host-a:1:aaaa", concurrency=2)
    await engine.submit(book, [item("one", id="x")])
    running = asyncio.create_task(engine.run(["x"]))
    await until(lambda: runs == [1])
    before = engine.shared.leases.fences["x"]
    store._leases["x"] = ("host-a:1:aaaa", 0.0)  # its lease lapsed; it has a free slot
    await until(lambda: engine.shared.leases.fences.get("x", 0) > before)
    gate.set()
    await asyncio.wait_for(running, 10)
    events = await store.load("x")
    kinds = [e.kind for e in events]
    assert runs == [1], "one driver, one run of the agent"
    assert ev.ATTEMPT_ABANDONED not in kinds and ev.LEASE_TAKEN_OVER not in kinds
    assert fold("x", events).accepted_attempt == 1


async def test_a_renewal_that_finds_the_lease_gone_stops_the_agent() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def work(assignment: Assignment) -> AgentResult:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return AgentResult(text="never")

    book = book_of(work)
    store = MemoryStore()
    engine = Engine(store, book, poll_interval=0.01, owner="host-a:1:aaaa", lease_seconds=0.3)
    await engine.submit(book, [item("one", id="x")])
    running = asyncio.create_task(engine.run(None))
    await asyncio.wait_for(started.wait(), 5)
    # another engine claims the item (the lease was taken from under this one)
    store._leases["x"] = ("host-b:2:bbbb", 1e12)
    store._fences["x"] += 1
    await asyncio.wait_for(cancelled.wait(), 5)  # the next renewal stops the agent
    engine.stop(0)
    await asyncio.wait_for(running, 5)
    kinds = [e.kind for e in await store.load("x")]
    assert kinds[-1] == ev.ATTEMPT_STARTED, "nothing recorded after the lease was lost"


def test_take_over_says_who_and_why() -> None:
    from baton.core.events import chain

    started: list[tuple[str, dict[str, Any]]] = [
        ("item.submitted", {"spec": {"objective": "o"}, "queue": "q"}),
        ("attempt.started", {"attempt": 1, "agent": "w", "engine": "elsewhere:9:cccc"}),
        ("attempt.started", {"attempt": 2, "agent": "w", "engine": "elsewhere:9:cccc"}),
    ]
    state = fold("x", chain("x", 0, "", 1.0, started))
    taken: set[str] = set()
    first = take_over(state, 1, "me:1:aaaa", taken)
    assert [k for k, _ in first] == [ev.LEASE_TAKEN_OVER, ev.ATTEMPT_ABANDONED]
    assert first[0][1]["attempts"] == [1, 2] and first[0][1]["why"] == "lease expired"
    second = take_over(state, 2, "me:1:aaaa", taken)
    assert [k for k, _ in second] == [ev.ATTEMPT_ABANDONED], "one takeover event per engine"
    legacy = fold(
        "y",
        chain("y", 0, "", 1.0, [started[0], ("attempt.started", {"attempt": 1, "agent": "w"})]),
    )
    (only,) = take_over(legacy, 1, "me:1:aaaa", set())
    assert only[1]["reason"] == "the engine running it stopped before it finished"


def test_take_over_from_a_local_process_that_is_gone() -> None:
    import socket
    import subprocess
    import sys

    from baton.core.events import chain

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    prior = f"{socket.gethostname()}:{dead.stdout.strip()}:dddd"
    state = fold(
        "x",
        chain(
            "x",
            0,
            "",
            1.0,
            [
                ("item.submitted", {"spec": {"objective": "o"}, "queue": "q"}),
                ("attempt.started", {"attempt": 1, "agent": "w", "engine": prior}),
            ],
        ),
    )
    taken, abandoned = take_over(state, 1, "me:1:aaaa", set())
    assert taken[1]["why"] == "owner gone"
    assert (
        abandoned[1]["reason"]
        == f"taken over by engine me:1:aaaa: engine {prior}'s process is gone"
    )
