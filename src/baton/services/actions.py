"""What people do to items and agents, from any process: decide reviews, deliver work,
reopen or end escalations, cancel, pause and resume agents.

Each action reads the item's log, checks that it fits the item's state (a clear
InvalidAction otherwise, and nothing is written), and records its event with the expected
version (runtime/recording.py), trying again if an engine wrote in between.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core import events as ev
from ..core.bookkeeping import Entry
from ..core.events import Event, chain
from ..core.loop import exhausted_reason
from ..core.state import ItemState
from ..core.transition import settle
from ..core.vocabulary import FLEET_LOG, Decision, HumanWait, Outcome
from ..errors import InvalidAction
from ..runtime.recording import event_limit, hydrate, load_state, record, retrying
from ..store.base import Store
from ..system import worktrees


async def _write(store: Store, state: ItemState, entries: list[Entry], now: float) -> None:
    """A person's action recorded: the engine takes the steps that follow from it."""
    await record(store, settle(state, entries, now, follow=False, limit=event_limit()))


def _waiting(state: ItemState) -> HumanWait | None:
    return HumanWait(state.waiting["wait"]) if state.waiting else None


def _nothing_waits(state: ItemState) -> InvalidAction:
    if state.outcome is not None:
        return InvalidAction(
            f"item {state.item_id} is {state.outcome.value}; nothing waits for a person"
        )
    return InvalidAction(f"item {state.item_id} does not wait for a person (the engine has it)")


async def decide_review(
    store: Store, item_id: str, decision: Decision, by: str, comments: str = "", **reopen: Any
) -> str:
    """Apply a person's decision to whatever the item waits for; returns what was done."""

    async def act() -> str:
        state = await load_state(store, item_id)
        wait = _waiting(state)
        if wait is HumanWait.REVIEW:
            assert state.waiting is not None
            data = {
                "attempt": state.waiting["attempt"],
                "reviewer": state.waiting.get("reviewer", "human"),
                "kind": "human",
                "decision": decision.value,
                "comments": comments,
                "by": f"human:{by}",
            }
            await _write(store, state, [(ev.REVIEW_DECIDED, data)], time.time())
            return f"{decision.value} recorded for attempt {data['attempt']} of {item_id}"
        if wait is HumanWait.ESCALATION:
            return await _decide_escalation(store, state, decision, by, comments, **reopen)
        if wait is HumanWait.WORK:
            if decision is Decision.REJECT:
                reason = f"the work was declined by {by}: {comments or 'no reason given'}"
                await _write(
                    store,
                    state,
                    [(ev.ITEM_FAILED, {"reason": reason, "by": f"human:{by}"})],
                    time.time(),
                )
                return f"{item_id} failed: {reason}"
            raise InvalidAction(
                f"item {item_id} waits for a person to do the work: deliver it with "
                f"`baton submit-result {item_id} FILE` (or reject it)"
            )
        raise _nothing_waits(state)

    return await retrying(act)


async def _decide_escalation(
    store: Store,
    state: ItemState,
    decision: Decision,
    by: str,
    comments: str,
    attempts: int = 1,
    tokens: int = 0,
    cost: float = 0.0,
) -> str:
    if decision is Decision.APPROVE:
        raise InvalidAction(
            f"item {state.item_id} was escalated ({state.reason}) and has no accepted attempt to "
            "approve; give it another attempt with request-changes, or reject it"
        )
    if decision is Decision.REJECT:
        reason = f"rejected by {by} after escalation: {comments or 'no reason given'}"
        await _write(
            store, state, [(ev.ITEM_FAILED, {"reason": reason, "by": f"human:{by}"})], time.time()
        )
        return f"{state.item_id} failed"
    if not comments:
        raise InvalidAction("say what to change: request-changes needs a message (-m)")
    data = {
        "by": f"human:{by}",
        "comments": comments,
        "extra_attempts": attempts,
        "extra_tokens": tokens,
        "extra_cost": cost,
    }
    now = time.time()
    trial = replace(state, attempts=list(state.attempts), waiting=dict(state.waiting or {}))
    for event in chain(
        state.item_id, state.version, state.last_hash, now, [(ev.ITEM_REOPENED, data)]
    ):
        trial.apply(event)
    assert trial.plan is not None
    still = exhausted_reason(trial, trial.plan, now)
    if still:
        raise InvalidAction(
            f"item {state.item_id} would still be out of budget ({still}); "
            "grant more with --attempts, --tokens or --cost"
        )
    await _write(store, state, [(ev.ITEM_REOPENED, data)], now)
    return f"{state.item_id} reopened with {attempts} more attempt(s)"


async def submit_result(store: Store, item_id: str, by: str, text: str, data: Any = None) -> str:
    """Deliver a person's work for an item whose agent is a human."""

    async def act() -> str:
        state = await load_state(store, item_id)
        if _waiting(state) is not HumanWait.WORK:
            if _waiting(state) is HumanWait.REVIEW:
                raise InvalidAction(
                    f"item {item_id} waits for a review decision, not for work: "
                    "use approve, request-changes or reject"
                )
            raise _nothing_waits(state)
        assert state.waiting is not None
        output: dict[str, Any] = {"text": text}
        if data is not None:
            output["data"] = data
        n = state.waiting["attempt"]
        finished = {
            "attempt": n,
            "output": output,
            "usage": {"seconds": time.time() - state.waiting["since"]},
            "by": f"human:{by}",
        }
        await _write(store, state, [(ev.ATTEMPT_FINISHED, finished)], time.time())
        return f"result recorded as attempt {n} of {item_id}"

    return await retrying(act)


async def cancel(store: Store, item_id: str, by: str, reason: str = "") -> str:
    async def act() -> str:
        state = await load_state(store, item_id)
        if state.outcome is not None and state.outcome is not Outcome.ESCALATED:
            raise InvalidAction(f"item {item_id} is already {state.outcome.value}")
        data = {"by": f"human:{by}", "reason": reason or f"cancelled by {by}"}
        await _write(store, state, [(ev.ITEM_CANCELLED, data)], time.time())
        return f"{item_id} cancelled"

    return await retrying(act)


async def apply_change(
    store: Store,
    item_id: str,
    by: str,
    *,
    branch: str | None = None,
    patch: Path | None = None,
    repo: Path | None = None,
) -> str:
    """Put an accepted item's change onto a new branch, into a patch file, or (neither
    given) onto the working tree of its repository; checked first, all or nothing."""
    state = await load_state(store, item_id)
    await hydrate(store, state)  # a diff larger than an event holds is in a blob
    if state.outcome is not Outcome.ACCEPTED or state.accepted_attempt is None:
        status = state.outcome.value if state.outcome else "not finished"
        raise InvalidAction(f"item {item_id} is {status}: only an accepted change is applied")
    n = state.accepted_attempt
    change = (state.attempt(n).output or {}).get("change")
    if change is None:
        raise InvalidAction(f"item {item_id} did no code work: its output has no change to apply")
    code = state.plan.code if state.plan else None
    where = repo or (Path(code.repo) if code else None)
    if patch is not None:
        if patch.exists():
            raise InvalidAction(f"{patch} exists already: name a new file for the patch")
        patch.write_text(change["diff"], encoding="utf-8")
        how, target, message = "patch", str(patch), f"patch written to {patch}"
    elif where is None or not where.is_dir():
        raise InvalidAction(f"no repository to apply to ({where}): give --repo PATH")
    elif branch is not None:
        how, target = "branch", branch
        message = await worktrees.apply_to_branch(where, change, branch)
    else:
        how, target = "checkout", str(where)
        message = await worktrees.apply_to_checkout(where, change)
    data = {"attempt": n, "how": how, "target": target, "message": message, "by": f"human:{by}"}

    async def record() -> None:
        await _write(
            store, await load_state(store, item_id), [(ev.CHANGE_APPLIED, data)], time.time()
        )

    await retrying(record)
    return message


async def fleet_paused(store: Store) -> dict[str, dict[str, Any]]:
    """Agents paused now, with who paused them and why."""
    return _paused(await store.load(FLEET_LOG))


def _paused(log: list[Event]) -> dict[str, dict[str, Any]]:
    paused: dict[str, dict[str, Any]] = {}
    for event in log:
        if event.kind == ev.AGENT_PAUSED:
            paused[event.data["agent"]] = dict(event.data, at=event.at)
        elif event.kind == ev.AGENT_RESUMED:
            paused.pop(event.data["agent"], None)
    return paused


async def set_paused(
    store: Store, agent: str, paused: bool, by: str, reason: str = "", *, stop: bool = False
) -> str:
    """The kill switch: stop (or restart) delegation to an agent on every engine; with
    `stop`, its attempts that are running are stopped too (recorded as stopped by `by`)."""

    async def act() -> str:
        log = await store.load(FLEET_LOG)
        now_paused = agent in _paused(log)
        if now_paused == paused and not (paused and stop):
            return f"agent {agent} is already {'paused' if paused else 'active'}"
        kind = ev.AGENT_PAUSED if paused else ev.AGENT_RESUMED
        data: dict[str, Any] = {"agent": agent, "by": f"human:{by}", "reason": reason}
        if paused and stop:
            data["stop"] = True
        prev = log[-1].hash if log else ""
        await store.append(
            FLEET_LOG, len(log), chain(FLEET_LOG, len(log), prev, time.time(), [(kind, data)])
        )
        if paused and stop:
            return f"agent {agent} paused, and its running attempts are being stopped"
        return f"agent {agent} {'paused' if paused else 'resumed'}"

    return await retrying(act)
