"""The engine: claims items, performs the step the loop decides, records what happened.

Many items are in flight at once (asyncio), each driven by one task that folds the item's
log, asks `decide` for the next step, performs it, and commits the result. Leases keep
two engines off the same item; a kill at any point leaves a log from which the next
engine resumes (an attempt that was in flight is recorded as abandoned, never dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from . import effects
from ._gc import fewer_collections
from .bus import Bus
from .config.items import ItemSpec
from .config.playbook import Playbook
from .core import events as ev
from .core.bookkeeping import Entry, bookkeeping
from .core.loop import (
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
from .core.plan import CodePlan
from .core.records import Assignment
from .core.state import ItemState, fold
from .core.vocabulary import ACTIVE_STATUSES, FINAL_STATUSES, FLEET_LOG
from .errors import ItemsError, VersionConflict
from .ledger import commit
from .redact import Redactor
from .rounds import Round
from .store.base import Store
from .system.git import GitError

log = logging.getLogger("baton.engine")

SUBMIT_CHUNK = 1000  # items recorded at once (one group commit on SQLite)


class Engine:
    """Runs items of the given playbooks from a store until they reach an outcome."""

    def __init__(
        self,
        store: Store,
        playbooks: Playbook | Iterable[Playbook],
        *,
        concurrency: int = 8,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.25,
        bus: Bus | None = None,
        state_dir: Path | str = ".baton",
        environ: dict[str, str] | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        keep_worktrees: bool = False,
    ) -> None:
        books = [playbooks] if isinstance(playbooks, Playbook) else list(playbooks)
        self.store = store
        self.playbooks = {b.name: b for b in books}
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.bus = bus or Bus()
        self.state_dir = Path(state_dir)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.keep_worktrees = keep_worktrees  # code work: leave finished attempts' worktrees
        env = dict(os.environ) if environ is None else environ
        self.redactor = Redactor({s for b in books for s in b.secret_names}, env)
        self.paused: set[str] = set()
        self._fleet_version = 0
        self._semaphores = {
            (b.name, name): asyncio.Semaphore(slot.concurrency)
            for b in books
            for name, slot in b.agents.items()
        }
        self._held: set[str] = set()
        self._wait_for_people = True
        self._rounds: dict[str, Round] = {}  # best-of-N rounds running, by item

    # --- submitting -------------------------------------------------------------------
    async def submit(
        self, playbook: str | Playbook, specs: Iterable[ItemSpec]
    ) -> list[tuple[str, bool]]:
        """Record new items; an id already in the store is left as it is (a resume).

        Returns (item id, newly submitted) pairs, in order.
        """
        book = self.playbooks[playbook if isinstance(playbook, str) else playbook.name]
        specs = list(specs)
        problems = [p for s in specs for p in _check_refs(s, book)]
        if problems:
            raise ItemsError(problems)
        results: list[tuple[str, bool]] = []
        with fewer_collections():
            for start in range(0, len(specs), SUBMIT_CHUNK):  # bounded: memory stays flat
                chunk = specs[start : start + SUBMIT_CHUNK]
                results.extend(await asyncio.gather(*(self._submit_one(book, s) for s in chunk)))
        return results

    async def _submit_one(self, book: Playbook, spec: ItemSpec) -> tuple[str, bool]:
        assert spec.id is not None, "items get their ids from items.with_ids"
        state = ItemState(spec.id)
        origin = {
            "name": book.name,
            "path": str(book.path) if book.path else None,
            "digest": book.digest,
        }
        entry = (
            ev.ITEM_SUBMITTED,
            {"spec": spec.to_dict(), "queue": book.name, "playbook": origin},
        )
        try:
            await self._commit(state, [entry])
        except VersionConflict:
            return spec.id, False
        return spec.id, True

    # --- running ----------------------------------------------------------------------
    async def run(
        self,
        items: Collection[str] | None = None,
        *,
        stop: asyncio.Event | None = None,
        wait_for_people: bool = True,
    ) -> None:
        """Work until every item in `items` has an outcome (or, with no items, until `stop`).

        With `wait_for_people` False, an item parked for a person counts as finished too.
        """
        with fewer_collections():
            await self._run(items, stop, wait_for_people)

    async def _run(
        self, items: Collection[str] | None, stop: asyncio.Event | None, wait_for_people: bool
    ) -> None:
        self._wait_for_people = wait_for_people
        pending = set(items) if items is not None else None
        tasks: dict[str, asyncio.Task[ItemState | None]] = {}
        # finished items' tasks, and None whenever the store says work may be claimable
        # (submitted elsewhere, approved by a person, released by another engine)
        finished: asyncio.Queue[asyncio.Task[ItemState | None] | None] = asyncio.Queue()
        unwatch = self.store.watch("work", lambda: finished.put_nowait(None))
        background = [
            asyncio.create_task(self._renew_leases()),
            asyncio.create_task(self._watch_fleet()),
        ]
        await self._poll_fleet()
        await self._release_dead_local_leases()
        last_refresh = 0.0
        try:
            while True:
                now = self.clock()
                if (
                    pending is not None
                    and now - last_refresh >= 1.0
                    and len(tasks) < self.concurrency
                ):
                    await self._drop_finished(pending)  # others (a person, a cancel) may end items
                    last_refresh = now
                if (pending is not None and not pending) or (stop is not None and stop.is_set()):
                    break
                free = self.concurrency - len(tasks)
                claimed = []
                if free > 0:
                    claimed = await self.store.claim(
                        self.owner,
                        limit=free,
                        lease_seconds=self.lease_seconds,
                        queues=list(self.playbooks),
                    )
                    for item_id in claimed:
                        self._held.add(item_id)
                        task = asyncio.create_task(self._drive(item_id), name=item_id)
                        task.add_done_callback(finished.put_nowait)
                        tasks[item_id] = task
                if claimed and len(tasks) < self.concurrency:
                    continue
                # wait for an item to finish (or poll for new work); a queue fed by done
                # callbacks costs O(1) per item, where asyncio.wait re-arms every task
                done: list[asyncio.Task[ItemState | None] | None] = []
                if finished.empty():
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a Ctrl-C's
                    # cancellation when the queue yields at the same moment
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval):
                            done.append(await finished.get())
                while not finished.empty():
                    done.append(finished.get_nowait())
                for task in done:
                    if task is None:  # a wake-up: the loop claims again
                        continue
                    item_id = task.get_name()
                    del tasks[item_id]
                    self._held.discard(item_id)
                    state = task.result()
                    if (
                        pending is not None
                        and state is not None
                        and self._settled(state.outcome is not None, state.waiting is not None)
                    ):
                        pending.discard(item_id)
            if tasks:
                await asyncio.gather(*tasks.values())
        finally:
            unwatch()
            for task in (*background, *tasks.values()):
                task.cancel()
            await asyncio.gather(*background, *tasks.values(), return_exceptions=True)
            if self._held:
                await self.store.release(self.owner, list(self._held))
                self._held.clear()

    async def _drop_finished(self, pending: set[str]) -> None:
        rows = await self.store.query(item_ids=list(pending), limit=None)
        for row in rows:
            if self._settled(row.status in FINAL_STATUSES, row.waiting is not None):
                pending.discard(row.item_id)

    def _settled(self, final: bool, waiting: bool) -> bool:
        return final or (waiting and not self._wait_for_people)

    async def _drive(self, item_id: str) -> ItemState | None:
        state = fold(item_id, await self.store.load(item_id))
        book = self.playbooks.get(state.queue)
        if book is None:
            await self.store.release(self.owner, [item_id])
            return None
        step: Step | None = None
        try:
            while True:
                live = self._rounds.get(item_id)
                if step is None:
                    step = decide(state, self.clock(), live.running if live else ())
                if live and live.tasks and (isinstance(step, Await) or not runnable(step)):
                    # a round's attempts are still running: wait for the next result (or,
                    # when a person is awaited meanwhile, for all of them to be recorded)
                    await live.wait(every=not isinstance(step, Await))
                    step = None
                    continue
                if not runnable(step):
                    await self._tidy(state)
                    await self.store.release(self.owner, [item_id])
                    return state
                step = await self._perform(book, state, step)
                if live and state.outcome is not None:
                    await self._supersede(state, live)
        finally:
            live = self._rounds.pop(item_id, None)
            if live is not None:
                await live.stop()

    async def _perform(self, book: Playbook, state: ItemState, step: Step) -> Step | None:
        """Do one step and record it; returns the next step when the commit computed it."""
        match step:
            case Delegate():
                return await self._delegate(book, state, step)
            case Fanout():
                return await self._fanout(book, state, step)
            case Verify():
                entries = await effects.verify(book, state, step)
            case Review():
                entries = await effects.review(book, state, step)
            case Scope():
                entries = await effects.scope(book, state)
            case Apply():
                entries = await effects.apply_change(state, step)
            case Recover(attempt=n):
                # only a fresh decision may find an attempt lost, so this is never chained
                reason = "the process running this attempt stopped before it finished"
                entries = [(ev.ATTEMPT_ABANDONED, {"attempt": n, "reason": reason})]
            case _:
                entries = bookkeeping(state, step) or []
                if not entries:
                    raise AssertionError(f"not an engine step: {step!r}")
        try:
            return await self._commit(state, entries)
        except VersionConflict:
            return None  # state was reloaded; decide again

    async def _commit(self, state: ItemState, entries: list[Entry]) -> Step:
        live = self._rounds.get(state.item_id)
        # a round's attempts record their results concurrently: one commit at a time
        async with live.lock if live is not None else contextlib.nullcontext():
            stored, step = await commit(
                self.store,
                state,
                entries,
                self.clock(),
                self.redactor,
                follow=True,
                running=live.running if live is not None else (),
            )
        self.bus.publish(stored)
        return step

    # --- steps ------------------------------------------------------------------------
    async def _delegate(self, book: Playbook, state: ItemState, step: Delegate) -> Step | None:
        slot = book.agents.get(step.agent)
        if slot is None:
            reason = f"agent {step.agent!r} is no longer in playbook {book.name}"
            return await self._commit(state, [(ev.ITEM_ESCALATED, {"reason": reason})])
        waited = False
        while step.agent in self.paused:  # the kill switch: hold the item, keep its lease
            waited = True
            await asyncio.sleep(self.poll_interval)
        semaphore = self._semaphores[(book.name, step.agent)]
        waited = waited or semaphore.locked()
        async with semaphore:
            if waited and decide(state, self.clock()) != step:
                return None  # the budget ran out while waiting: decide again
            await self._tidy(state)  # the worktrees of the attempts before this one
            task = await effects.build_assignment(book, state, step, self.clock(), self.state_dir)
            started = {"attempt": step.attempt, "agent": step.agent, "task": task.record()}
            try:
                await self._commit(state, [(ev.ATTEMPT_STARTED, started)])
            except VersionConflict:
                return None
            entries = await effects.attempt(
                slot.agent, task, state.plan.code if state.plan else None
            )
        while True:  # the result is recorded even if a person acted on the item meanwhile
            try:
                return await self._commit(state, entries)
            except VersionConflict:
                if not (
                    len(state.attempts) >= step.attempt and state.attempt(step.attempt).in_flight
                ):
                    return None

    async def _fanout(self, book: Playbook, state: ItemState, step: Fanout) -> Step | None:
        """Start a best-of-N round: every attempt recorded in one append, then run at once."""
        unknown = [agent for _, agent in step.attempts if agent not in book.agents]
        if unknown:
            reason = f"agent {unknown[0]!r} is no longer in playbook {book.name}"
            return await self._commit(state, [(ev.ITEM_ESCALATED, {"reason": reason})])
        while any(agent in self.paused for _, agent in step.attempts):  # the kill switch
            await asyncio.sleep(self.poll_interval)
        await self._tidy(state)
        now = self.clock()
        tasks = [
            await effects.build_assignment(book, state, Delegate(n, agent), now, self.state_dir)
            for n, agent in step.attempts
        ]
        live = self._rounds.setdefault(state.item_id, Round())
        live.running.update(n for n, _ in step.attempts)  # running before it is recorded
        started = [
            (
                ev.ATTEMPT_STARTED,
                {"attempt": n, "agent": agent, "task": task.record(), "round": step.round},
            )
            for (n, agent), task in zip(step.attempts, tasks, strict=True)
        ]
        try:
            await self._commit(state, started)
        except VersionConflict:
            live.running.difference_update(n for n, _ in step.attempts)
            return None
        code = state.plan.code if state.plan else None
        for (n, agent), task in zip(step.attempts, tasks, strict=True):
            live.start(n, self._run_member(book, state, live, n, agent, task, code))
        return None

    async def _run_member(
        self,
        book: Playbook,
        state: ItemState,
        live: Round,
        n: int,
        agent: str,
        task: Assignment,
        code: CodePlan | None,
    ) -> None:
        """One attempt of a round: run its agent, record its result (whatever else happened)."""
        try:
            async with self._semaphores[(book.name, agent)]:
                entries = await effects.attempt(book.agents[agent].agent, task, code)
            live.recording.add(n)  # from here on, a superseding acceptance waits for it
            while True:
                try:
                    await self._commit(state, entries)
                    return
                except VersionConflict:
                    if not state.attempt(n).in_flight:
                        return
        finally:
            live.running.discard(n)
            live.recording.discard(n)

    async def _supersede(self, state: ItemState, live: Round) -> None:
        """Another attempt of the round won: stop the ones still running, on record."""
        winner = state.accepted_attempt
        stopped = await live.stop()
        for n in stopped:
            if state.attempt(n).in_flight:
                reason = f"superseded: attempt {winner} of its round was accepted"
                await self._commit(
                    state, [(ev.ATTEMPT_ABANDONED, {"attempt": n, "reason": reason})]
                )

    async def _tidy(self, state: ItemState) -> None:
        if state.plan is None or state.plan.code is None or self.keep_worktrees:
            return
        try:
            await effects.tidy(state)
        except (GitError, OSError) as exc:  # scratch space: never worth stopping the work
            log.warning("could not remove worktrees of %s: %s", state.item_id, exc)

    # --- fleet and leases -------------------------------------------------------------
    async def _poll_fleet(self) -> None:
        for event in await self.store.load(FLEET_LOG, after=self._fleet_version):
            agent = event.data.get("agent", "")
            if event.kind == ev.AGENT_PAUSED:
                self.paused.add(agent)
            elif event.kind == ev.AGENT_RESUMED:
                self.paused.discard(agent)
            self._fleet_version = event.seq

    async def _watch_fleet(self) -> None:
        while True:
            await asyncio.sleep(min(self.poll_interval, 0.5))
            await self._poll_fleet()

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if self._held:
                wanted = list(self._held)
                held = await self.store.renew(self.owner, wanted, self.lease_seconds)
                lost = (set(wanted) - set(held)) & self._held  # not the ones just finished
                if lost:
                    log.warning(
                        "engine %s lost the lease on %s (expired while the store was out of "
                        "reach?): another engine may take them over; appends stay consistent",
                        self.owner,
                        ", ".join(sorted(lost)),
                    )

    async def _release_dead_local_leases(self) -> None:
        """Free leases held by engines on this host whose process is gone (after kill -9)."""
        host = socket.gethostname()
        rows = await self.store.query(statuses=_ACTIVE, limit=None)
        dead: dict[str, list[str]] = {}
        for row in rows:
            owner = row.lease_owner
            if not owner or owner == self.owner:
                continue
            parts = owner.split(":")
            if (
                len(parts) == 3
                and parts[0] == host
                and parts[1].isdigit()
                and not _alive(int(parts[1]))
            ):
                dead.setdefault(owner, []).append(row.item_id)
        for owner, ids in dead.items():
            await self.store.release(owner, ids)


_ACTIVE = [s.value for s in ACTIVE_STATUSES]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_refs(spec: ItemSpec, book: Playbook) -> list[Any]:
    from .config.items import check_against
    from .config.source import Located

    if all(n in book.verifiers for n in spec.acceptance or ()) and all(
        n in book.agents for n in spec.cascade or ()
    ):
        return []
    src = Located(f"item {spec.id}", spec.to_dict(), {})
    return check_against(spec, book, src, ())
