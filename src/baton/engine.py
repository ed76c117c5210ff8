"""The engine: claims items, performs the step the loop decides, records what happened.

Many items are in flight at once (asyncio), each driven by one task that folds the item's
log, asks `decide` for the next step, performs it, and commits the result. Leases keep
two engines off the same item; a kill at any point leaves a log from which the next
engine resumes (an attempt that was in flight is recorded as abandoned, never dropped).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from . import events as ev
from .bus import Bus
from .errors import AgentError, ItemsError, ReviewError, VersionConflict
from .items import ItemSpec
from .ledger import Entry, commit
from .loop import (
    Accept,
    Delegate,
    Finish,
    Recover,
    Refine,
    Review,
    Scope,
    Step,
    Verify,
    build_feedback,
    clip,
    decide,
    runnable,
)
from .playbook import Playbook
from .records import (
    AgentResult,
    AttemptView,
    AwaitHuman,
    BudgetLeft,
    CheckResult,
    ReviewResult,
    Task,
)
from .redact import Redactor
from .state import ItemState, fold
from .store.base import Store
from .types import FINAL_STATUSES, FLEET_LOG, Outcome

EVIDENCE_LIMIT = 20_000
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
        for start in range(0, len(specs), SUBMIT_CHUNK):  # bounded, so memory stays flat
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
        self._wait_for_people = wait_for_people
        pending = set(items) if items is not None else None
        tasks: dict[str, asyncio.Task[ItemState | None]] = {}
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
                        tasks[item_id] = asyncio.create_task(self._drive(item_id), name=item_id)
                if claimed and len(tasks) < self.concurrency:
                    continue
                if tasks:
                    done, _ = await asyncio.wait(
                        tasks.values(),
                        timeout=self.poll_interval,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                else:
                    done = set()
                    await asyncio.sleep(self.poll_interval)
                for task in done:
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
        while True:
            if step is None:
                step = decide(state, self.clock())
            if not runnable(step):
                await self.store.release(self.owner, [item_id])
                return state
            step = await self._perform(book, state, step)

    async def _perform(self, book: Playbook, state: ItemState, step: Step) -> Step | None:
        """Do one step and record it; returns the next step when the commit computed it."""
        match step:
            case Delegate():
                return await self._delegate(book, state, step)
            case Verify():
                entries = await self._verify(book, state, step)
            case Review():
                entries = await self._review(book, state, step)
            case Scope():
                entries = self._scope(book, state)
            case Recover(attempt=n):
                # only a fresh decision may find an attempt lost, so this is never chained
                reason = "the process running this attempt stopped before it finished"
                entries = [(ev.ATTEMPT_ABANDONED, {"attempt": n, "reason": reason})]
            case _:
                entries = _pure(state, step) or []
                if not entries:
                    raise AssertionError(f"not an engine step: {step!r}")
        try:
            return await self._commit(state, entries)
        except VersionConflict:
            return None  # state was reloaded; decide again

    async def _commit(self, state: ItemState, entries: list[Entry]) -> Step:
        stored, step = await commit(
            self.store, state, entries, self.clock(), self.redactor, follow=_pure
        )
        self.bus.publish(stored)
        return step

    # --- steps ------------------------------------------------------------------------
    def _scope(self, book: Playbook, state: ItemState) -> list[Entry]:
        # the spec was validated when submitted; what can have changed since is the playbook
        spec = state.spec
        problems = [
            f"unknown verifier {n!r} in acceptance"
            for n in spec.get("acceptance") or ()
            if n not in book.verifiers
        ] + [
            f"unknown agent {n!r} in cascade"
            for n in spec.get("cascade") or ()
            if n not in book.agents
        ]
        if problems:
            reason = f"invalid against playbook {book.name}: {'; '.join(problems)}"
            return [(ev.ITEM_FAILED, {"reason": reason})]
        plan = book.plan_for(
            risk=spec.get("risk", "low"),
            tags=spec.get("tags", []),
            acceptance=spec.get("acceptance"),
            cascade=spec.get("cascade"),
            budget={k: v for k, v in (spec.get("budget") or {}).items() if v is not None},
        )
        return [(ev.ITEM_SCOPED, {"plan": plan.to_dict()})]

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
            task = await self._task(book, state, step)
            started = {"attempt": step.attempt, "agent": step.agent, "task": task.to_dict()}
            try:
                await self._commit(state, [(ev.ATTEMPT_STARTED, started)])
            except VersionConflict:
                return None
            entries = await self._attempt(slot.agent, task)
        while True:  # the result is recorded even if a person acted on the item meanwhile
            try:
                return await self._commit(state, entries)
            except VersionConflict:
                if not (
                    len(state.attempts) >= step.attempt and state.attempt(step.attempt).in_flight
                ):
                    return None

    async def _attempt(self, agent: Any, task: Task) -> list[Entry]:
        n = task.attempt
        started = time.perf_counter()
        try:
            if task.budget.seconds is not None:
                result = await asyncio.wait_for(agent.run(task), max(task.budget.seconds, 0.001))
            else:
                result = await agent.run(task)
        except TimeoutError:
            seconds = time.perf_counter() - started
            error = f"stopped: the item's time budget ran out after {seconds:.1f}s"
            return [
                (ev.ATTEMPT_FAILED, {"attempt": n, "error": error, "usage": {"seconds": seconds}})
            ]
        except AgentError as exc:
            seconds = time.perf_counter() - started
            return [
                (
                    ev.ATTEMPT_FAILED,
                    {"attempt": n, "error": str(exc), "usage": {"seconds": seconds}},
                )
            ]
        except Exception:
            seconds = time.perf_counter() - started
            error = "the agent raised:\n" + clip(traceback.format_exc(), EVIDENCE_LIMIT)
            return [
                (ev.ATTEMPT_FAILED, {"attempt": n, "error": error, "usage": {"seconds": seconds}})
            ]
        seconds = time.perf_counter() - started
        if isinstance(result, AwaitHuman):
            return [(ev.HUMAN_REQUESTED, {"wait": "work", "attempt": n, "prompt": result.prompt})]
        if not isinstance(result, AgentResult):
            error = (
                f"the agent returned {type(result).__name__}, expected AgentResult or AwaitHuman"
            )
            return [
                (ev.ATTEMPT_FAILED, {"attempt": n, "error": error, "usage": {"seconds": seconds}})
            ]
        usage = result.usage.to_dict()
        if not usage["seconds"]:
            usage["seconds"] = seconds
        output = result.output_dict()
        return [
            (
                ev.ATTEMPT_FINISHED,
                {
                    "attempt": n,
                    "output": output,
                    "usage": usage,
                    "by": f"agent:{task_agent(agent)}",
                },
            )
        ]

    async def _task(self, book: Playbook, state: ItemState, step: Delegate) -> Task:
        plan = state.plan
        assert plan is not None
        now = self.clock()
        budget = plan.budget
        feedback: list[dict[str, Any]] = []
        closed = [a for a in state.attempts if a.feedback is not None]
        if closed:
            feedback.extend(closed[-1].feedback or [])
        feedback.extend(
            {"source": "person", "kind": "review", "message": c} for c in state.reopen_comments
        )
        left = BudgetLeft(
            attempts=budget.attempts + state.extra_attempts - len(state.attempts),
            tokens=None
            if budget.tokens is None
            else budget.tokens + state.extra_tokens - state.tokens,
            cost=None if budget.cost is None else budget.cost + state.extra_cost - state.cost,
            seconds=None
            if budget.wall_seconds is None
            else budget.wall_seconds - (now - state.window_start),
        )
        return Task(
            item_id=state.item_id,
            attempt=step.attempt,
            objective=state.spec["objective"],
            inputs=state.spec.get("inputs", {}),
            feedback=tuple(feedback),
            acceptance=book.acceptance([v.name for v in plan.verifiers]),
            budget=left,
            risk=state.spec.get("risk", "low"),
            tags=tuple(state.spec.get("tags", ())),
            workdir=await self._workdir(book, state.item_id, step.attempt),
        )

    async def _workdir(self, book: Playbook, item_id: str, attempt: int) -> Path | None:
        if book.workspace is None:
            return None
        folder = (self.state_dir / "work" / item_id / str(attempt)).resolve()
        if book.workspace.copy_from:
            assert book.path is not None
            source = book.path.parent / book.workspace.copy_from
            await asyncio.to_thread(shutil.copytree, source, folder, dirs_exist_ok=True)
        else:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _view(self, state: ItemState, n: int) -> AttemptView:
        a = state.attempt(n)
        output = a.output or {}
        workdir = a.task.get("workdir")
        return AttemptView(
            item_id=state.item_id,
            attempt=n,
            agent=a.agent,
            objective=state.spec["objective"],
            inputs=state.spec.get("inputs", {}),
            text=output.get("text", ""),
            data=output.get("data"),
            risk=state.spec.get("risk", "low"),
            tags=tuple(state.spec.get("tags", ())),
            checks=tuple(a.checks.values()),
            reviews=tuple(a.reviews.values()),
            workdir=Path(workdir) if workdir else None,
        )

    async def _review(self, book: Playbook, state: ItemState, step: Review) -> list[Entry]:
        n, name = step.attempt, step.reviewer
        slot = book.reviewers.get(name)
        if slot is None:
            return [
                (
                    ev.ITEM_ESCALATED,
                    {"reason": f"reviewer {name!r} is no longer in playbook {book.name}"},
                )
            ]
        try:
            result = await slot.reviewer.review(self._view(state, n))
        except ReviewError as exc:
            return [(ev.REVIEW_FAILED, {"attempt": n, "reviewer": name, "error": str(exc)})]
        except Exception:
            error = "the reviewer raised:\n" + clip(traceback.format_exc(), EVIDENCE_LIMIT)
            return [(ev.REVIEW_FAILED, {"attempt": n, "reviewer": name, "error": error})]
        if isinstance(result, AwaitHuman):
            data = {"wait": "review", "attempt": n, "reviewer": name, "prompt": result.prompt}
            return [(ev.HUMAN_REQUESTED, data)]
        if not isinstance(result, ReviewResult):
            error = f"the reviewer returned {type(result).__name__}, expected ReviewResult"
            return [(ev.REVIEW_FAILED, {"attempt": n, "reviewer": name, "error": error})]
        decided: dict[str, Any] = {
            "attempt": n,
            "reviewer": name,
            "kind": slot.kind,
            "decision": result.decision.value,
            "comments": result.comments,
            "by": f"{slot.kind}:{name}",
        }
        if result.usage is not None:
            decided["usage"] = result.usage.to_dict()
        return [(ev.REVIEW_DECIDED, decided)]

    async def _verify(self, book: Playbook, state: ItemState, step: Verify) -> list[Entry]:
        view = self._view(state, step.attempt)
        if len(step.verifiers) == 1:  # gather would wrap it in a task for nothing
            checks = [await self._check(book, view, step.verifiers[0])]
        else:
            checks = await asyncio.gather(*(self._check(book, view, n) for n in step.verifiers))
        return [(ev.CHECK_RECORDED, check) for check in checks]

    async def _check(self, book: Playbook, view: AttemptView, name: str) -> dict[str, Any]:
        slot = book.verifiers.get(name)
        started = time.perf_counter()
        if slot is None:
            result = CheckResult(False, f"verifier {name!r} is no longer in playbook {book.name}")
        else:
            try:
                result = await slot.verifier.verify(view)
                if not isinstance(result, CheckResult):
                    result = CheckResult(
                        False,
                        f"the verifier returned {type(result).__name__}, expected CheckResult",
                    )
            except Exception:
                result = CheckResult(False, "the verifier raised:\n" + traceback.format_exc())
        check: dict[str, Any] = {
            "attempt": view.attempt,
            "verifier": name,
            "passed": bool(result.passed),
            "score": result.score,
            "evidence": clip(result.evidence, EVIDENCE_LIMIT),
            "seconds": time.perf_counter() - started,
            "required": slot.required if slot else True,
        }
        if result.usage is not None:
            check["usage"] = result.usage.to_dict()
        return check

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
                await self.store.renew(self.owner, list(self._held), self.lease_seconds)

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


_ACTIVE = ("scoping", "running", "reviewing", "verifying", "refining")


def _pure(state: ItemState, step: Step) -> list[Entry] | None:
    """The events of a step that needs no effect, so it can share the previous append."""
    match step:
        case Refine(attempt=n):
            return [(ev.FEEDBACK_CREATED, {"attempt": n, "feedback": build_feedback(state, n)})]
        case Accept(attempt=n):
            return [(ev.ITEM_ACCEPTED, {"attempt": n, "agent": state.attempt(n).agent})]
        case Finish(outcome=outcome, reason=reason):
            kind = ev.ITEM_ESCALATED if outcome is Outcome.ESCALATED else ev.ITEM_FAILED
            return [(kind, {"reason": reason})]
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def task_agent(agent: Any) -> str:
    return str(getattr(agent, "name", type(agent).__name__))


def _check_refs(spec: ItemSpec, book: Playbook) -> list[Any]:
    from ._source import Located
    from .items import check_against

    if all(n in book.verifiers for n in spec.acceptance or ()) and all(
        n in book.agents for n in spec.cascade or ()
    ):
        return []
    src = Located(f"item {spec.id}", spec.to_dict(), {})
    return check_against(spec, book, src, ())
