"""Driving one claimed item: decide -> perform -> record, until nothing is left for an
engine to do (an outcome, or a wait for a person).

The driver is the one place a step goes through: `decide` (core/loop.py) says what is
next, `perform` does it (runtime/effects.py calls the plugins and turns what they return
into entries), `record` settles the entries (core/transition.py: the events, the
effect-free steps they lead to, the index row) and appends them (runtime/recording.py).
What comes back is the next step, or a named outcome saying to decide again: `Conflict`
(another writer moved the log first) or `Outdated` (the item changed while the step
waited for an agent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from ..config.playbook import Playbook
from ..core import events as ev
from ..core.bookkeeping import Entry, bookkeeping
from ..core.bounds import EVENT_BYTES
from ..core.loop import (
    Apply,
    Await,
    Delegate,
    Fanout,
    Recover,
    Review,
    Scope,
    Step,
    Verify,
    decide,
    runnable,
)
from ..core.plan import CodePlan
from ..core.records import Assignment
from ..core.state import ItemState
from ..core.transition import settle
from ..errors import LeaseLost, VersionConflict
from ..store.base import Store
from ..system.git import GitError
from . import effects
from .bus import Bus
from .fleet import Fleet
from .leases import Leases, take_over
from .recording import Conflict, record, reload
from .redact import Redactor
from .rounds import Round
from .shutdown import Interrupted, Shutdown, unless

log = logging.getLogger("baton.engine")


@dataclass(frozen=True, slots=True)
class Outdated:
    """The step no longer fits the item: its budget ran out (or it changed otherwise) while
    the step waited for its agent to be free. Nothing was recorded: decide again."""

    step: Step


_DECIDE_AGAIN = (Conflict, Outdated)


@dataclass(frozen=True)
class Shared:
    """What every driver of one engine shares."""

    store: Store
    clock: Callable[[], float]
    redactor: Redactor
    bus: Bus
    fleet: Fleet
    leases: Leases
    slots: dict[tuple[str, str], asyncio.Semaphore]  # (playbook, agent) -> its concurrency
    state_dir: Path
    keep_worktrees: bool
    shutdown: Shutdown
    event_bytes: int = EVENT_BYTES  # what one event may hold (runtime/blobs.py)


class ItemDriver:
    """Drives one item that this engine holds the lease on."""

    def __init__(self, shared: Shared, book: Playbook, state: ItemState) -> None:
        self.shared = shared
        self.book = book
        self.state = state
        self.round: Round | None = None  # a best-of-N round running here
        self.taken_from: set[str] = set()  # engines whose work this driver took over
        # the fence of the lease given back by this driver's latest append (not runnable)
        self.released: int | None = None

    @property
    def running(self) -> Collection[int]:
        """The attempts whose agents run in this engine now (decide needs to know them)."""
        return self.round.running if self.round is not None else ()

    async def drive(self) -> ItemState:
        """Steps until nothing is left for an engine; the item's state then."""
        shared, state = self.shared, self.state
        step: Step | None = None
        try:
            while True:
                live = self.round
                if step is None:
                    step = decide(state, shared.clock(), self.running)
                if live and live.tasks and (isinstance(step, Await) or not runnable(step)):
                    # a round's attempts are still running: wait for the next result (or,
                    # when a person is awaited meanwhile, for all of them to be recorded)
                    await live.wait(every=not isinstance(step, Await))
                    step = None
                    continue
                log.debug("%s: %r", state.item_id, step)
                if not runnable(step) or self._stopping(step):
                    return await self.let_go()
                try:
                    done = await self.perform(step)
                except Interrupted:  # the engine is stopping: nothing was recorded for it
                    return await self.let_go()
                step = None if isinstance(done, _DECIDE_AGAIN) else done
                if live and state.outcome is not None:
                    await self.supersede(live)
        except LeaseLost:
            doing = ", ".join(str(n) for n in sorted(self._ours_in_flight())) or "none"
            log.warning(
                "engine %s lost its lease on %s to another engine: it stopped working on it "
                "and recorded nothing more for it (attempts in flight here: %s; the new "
                "holder records them as abandoned)",
                shared.leases.owner,
                state.item_id,
                doing,
            )
            shared.leases.forget(state.item_id)
            return state
        finally:
            if self.round is not None:
                await self.round.stop()

    def _stopping(self, step: Step) -> bool:
        """Whether the engine's stop means leaving the item here: once it drains, nothing
        new is begun (an attempt, a round, scoping); once it halts, nothing at all."""
        shutdown = self.shared.shutdown
        if not shutdown.draining.is_set():
            return False
        return shutdown.halted.is_set() or isinstance(step, Delegate | Fanout | Scope)

    async def let_go(self) -> ItemState:
        """Done with the item (for now): give it back, unless its latest append did."""
        await self.tidy()
        leases, item_id = self.shared.leases, self.state.item_id
        if self.released is None or self.released != leases.fences.get(item_id):
            await leases.release([item_id])
        leases.forget(item_id)
        return self.state

    async def perform(self, step: Step) -> Step | Conflict | Outdated:
        """Do one step and record what happened: the next step, or decide again."""
        book, state = self.book, self.state
        halted = self.shared.shutdown.halted
        match step:
            case Delegate():
                return await self.delegate(step)
            case Fanout():
                return await self.fanout(step)
            # a gate (or scoping) that a halt cuts off is recorded as nothing: it runs again
            case Verify():
                entries = await unless(halted, effects.verify(book, state, step))
            case Review():
                entries = await unless(halted, effects.review(book, state, step))
            case Scope():
                entries = await unless(halted, effects.scope(book, state))
            case Apply():
                entries = await effects.apply_change(state, step)
            case Recover(attempt=n):
                # only a fresh decision may find an attempt lost, so this is never settled
                # onto another step's events
                entries = take_over(state, n, self.shared.leases.owner, self.taken_from)
            case _:  # an effect-free step decided afresh (at a claim, after a conflict)
                entries = bookkeeping(state, step) or []
                if not entries:
                    raise AssertionError(f"not an engine step: {step!r}")
        return await self.record(entries)

    def _ours_in_flight(self) -> list[int]:
        me = self.shared.leases.owner
        return [a.n for a in self.state.attempts if a.in_flight and a.engine == me]

    async def record(self, entries: list[Entry]) -> Step | Conflict:
        """Settle `entries` onto the state (with the effect-free steps they lead to) and
        append them; the next step, or Conflict (the state was reloaded)."""
        shared, state = self.shared, self.state
        live = self.round
        # a round's attempts record their results concurrently: one at a time
        async with live.lock if live is not None else contextlib.nullcontext():
            if shared.redactor:
                entries = [(kind, shared.redactor.data(data)) for kind, data in entries]
            transition = settle(
                state, entries, shared.clock(), self.running, limit=shared.event_bytes
            )
            fence = shared.leases.fence(state.item_id)  # LeaseLost: no longer ours to write
            try:
                stored = await record(shared.store, transition, fence)
            except VersionConflict as exc:
                self.released = None
                await reload(shared.store, state)
                return Conflict(exc.log, exc.expected, exc.actual)
            self.released = None if transition.summary.runnable else fence
        shared.bus.publish(stored)
        return transition.step

    # --- attempts ---------------------------------------------------------------------------
    async def delegate(self, step: Delegate) -> Step | Conflict | Outdated:
        """One attempt: wait for the agent (the kill switch, its concurrency), record that it
        started, run it, record its result (even if a person acted on the item meanwhile)."""
        shared, book, state = self.shared, self.book, self.state
        slot = book.agents.get(step.agent)
        if slot is None:
            reason = f"agent {step.agent!r} is no longer in playbook {book.name}"
            return await self.record([(ev.ITEM_ESCALATED, {"reason": reason})])
        async with self._agent_slot(step.agent, unstarted=True) as waited:
            if waited and decide(state, shared.clock()) != step:
                return Outdated(step)  # the budget ran out while waiting
            await self.tidy()  # the worktrees of the attempts before this one
            assignment = await effects.build_assignment(
                book, state, step, shared.clock(), shared.state_dir
            )
            started = {
                "attempt": step.attempt,
                "agent": step.agent,
                "task": assignment.record(),
                "engine": shared.leases.owner,
            }
            begun = await self.record([(ev.ATTEMPT_STARTED, started)])
            if isinstance(begun, Conflict):
                return begun
            entries = await self._attempt(step.agent, assignment, self._code())
        return await self._record_result(step.attempt, entries)

    async def fanout(self, step: Fanout) -> Step | Conflict:
        """Start a best-of-N round: every attempt recorded in one append, then run at once."""
        shared, book, state = self.shared, self.book, self.state
        unknown = [agent for _, agent in step.attempts if agent not in book.agents]
        if unknown:
            reason = f"agent {unknown[0]!r} is no longer in playbook {book.name}"
            return await self.record([(ev.ITEM_ESCALATED, {"reason": reason})])
        draining = shared.shutdown.draining
        await unless(draining, shared.fleet.until_active({agent for _, agent in step.attempts}))
        await self.tidy()
        now = shared.clock()
        assignments = [
            await effects.build_assignment(book, state, Delegate(n, agent), now, shared.state_dir)
            for n, agent in step.attempts
        ]
        live = self.round = self.round or Round()
        live.running.update(n for n, _ in step.attempts)  # running before it is recorded
        started = [
            (
                ev.ATTEMPT_STARTED,
                {
                    "attempt": n,
                    "agent": agent,
                    "task": assignment.record(),
                    "round": step.round,
                    "engine": shared.leases.owner,
                },
            )
            for (n, agent), assignment in zip(step.attempts, assignments, strict=True)
        ]
        begun = await self.record(started)
        if isinstance(begun, Conflict):
            live.running.difference_update(n for n, _ in step.attempts)
            return begun
        code = self._code()
        for (n, agent), assignment in zip(step.attempts, assignments, strict=True):
            live.start(n, self._run_member(live, n, agent, assignment, code))
        return begun

    async def _run_member(
        self, live: Round, n: int, agent: str, assignment: Assignment, code: CodePlan | None
    ) -> None:
        """One attempt of a round: run its agent, record its result (whatever else happened)."""
        try:
            async with self._agent_slot(agent, unstarted=False):
                entries = await self._attempt(agent, assignment, code)
            live.recording.add(n)  # from here on, a superseding acceptance waits for it
            await self._record_result(n, entries)
        finally:
            live.running.discard(n)
            live.recording.discard(n)

    async def _record_result(self, n: int, entries: list[Entry]) -> Step | Conflict:
        """An attempt's result, recorded for as long as the attempt is still open."""
        while True:
            done = await self.record(entries)
            if not isinstance(done, Conflict) or not self._in_flight(n):
                return done

    async def supersede(self, live: Round) -> None:
        """Another attempt of the round won: stop the ones still running, on record."""
        winner = self.state.accepted_attempt
        for n in await live.stop():
            reason = f"superseded: attempt {winner} of its round was accepted"
            while self._in_flight(n):
                done = await self.record([(ev.ATTEMPT_ABANDONED, {"attempt": n, "reason": reason})])
                if not isinstance(done, Conflict):
                    break

    @contextlib.asynccontextmanager
    async def _agent_slot(self, agent: str, *, unstarted: bool) -> AsyncIterator[bool]:
        """One of the agent's concurrency slots, taken only while the agent is not paused:
        the kill switch is looked at again once a slot is free, so an item that waited for
        one does not slip through a pause. Yields whether it had to wait. For an attempt
        not yet on record (`unstarted`), the engine's stop ends the wait (Interrupted)."""
        semaphore = self.shared.slots[(self.book.name, agent)]
        draining = self.shared.shutdown.draining
        taking = self._take_slot(agent, semaphore)
        waited = await (unless(draining, taking) if unstarted else taking)
        try:
            if unstarted and draining.is_set():
                raise Interrupted  # the engine began to stop as the slot came free
            yield waited
        finally:
            semaphore.release()

    async def _take_slot(self, agent: str, semaphore: asyncio.Semaphore) -> bool:
        fleet = self.shared.fleet
        waited = False
        while True:
            waited = await fleet.until_active([agent]) or waited  # held: the lease is kept
            waited = semaphore.locked() or waited
            await semaphore.acquire()
            if agent not in fleet.paused:
                return waited
            semaphore.release()  # paused while it waited for the slot: wait again
            waited = True

    async def _attempt(
        self, agent: str, assignment: Assignment, code: CodePlan | None
    ) -> list[Entry]:
        """The agent's work on the assignment, stopped (and recorded so) when the agent is
        paused with --stop meanwhile, or when the engine halts."""
        shared = self.shared
        stop = shared.fleet.stop_signal(agent)
        work = asyncio.ensure_future(
            effects.attempt(self.book.agents[agent].agent, assignment, code)
        )
        lost = shared.leases.lost(self.state.item_id)
        signals = (stop, shared.shutdown.halted, lost)
        # each signal cancels the work when it is set (no waiting task per signal: the hot path)
        undo = [signal.on_set(work.cancel) for signal in signals]
        if any(signal.is_set() for signal in signals):
            work.cancel()
        started = time.perf_counter()
        try:
            await asyncio.wait({work})
        finally:
            for forget in undo:
                forget()
            if not work.done():
                work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        if not work.cancelled():
            return work.result()
        if lost.is_set():  # the lease lapsed: the agent was stopped; nothing is recorded
            fence = shared.leases.fences.get(self.state.item_id, 0)
            raise LeaseLost(self.state.item_id, fence, -1)
        if shared.shutdown.halted.is_set() and not stop.is_set():
            reason = f"engine {shared.leases.owner} stopped before it finished: "
            reason += shared.shutdown.why
            return [(ev.ATTEMPT_ABANDONED, {"attempt": assignment.attempt, "reason": reason})]
        who = shared.fleet.stopped_by.get(agent, {})
        reason = f": {who['reason']}" if who.get("reason") else ""
        error = f"stopped by {who.get('by') or 'a person'} (agents pause --stop){reason}"
        usage = {"seconds": time.perf_counter() - started}
        return [
            (ev.ATTEMPT_FAILED, {"attempt": assignment.attempt, "error": error, "usage": usage})
        ]

    def _in_flight(self, n: int) -> bool:
        state = self.state
        return len(state.attempts) >= n and state.attempt(n).in_flight

    def _code(self) -> CodePlan | None:
        return self.state.plan.code if self.state.plan else None

    async def tidy(self) -> None:
        """Remove the worktrees of closed attempts (code work; never worth stopping for)."""
        state = self.state
        if state.plan is None or state.plan.code is None or self.shared.keep_worktrees:
            return
        try:
            await effects.tidy(state)
        except (GitError, OSError) as exc:
            log.warning("could not remove worktrees of %s: %s", state.item_id, exc)
