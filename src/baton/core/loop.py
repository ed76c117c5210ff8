"""The loop's decision: given an item's folded state (and the time), what happens next.

`decide` is pure: no I/O, no clock of its own, no randomness. The engine performs the step
it returns and records the result as events; folding those events and deciding again
drives an item from submission to its outcome, and replays it after a crash.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .plan import FanoutPlan, Plan
from .state import AttemptState, ItemState
from .vocabulary import Decision, Gate, HumanWait, Outcome, Status


@dataclass(frozen=True, slots=True)
class Scope:
    """Validate the item and resolve its plan from the playbook."""


@dataclass(frozen=True, slots=True)
class Delegate:
    attempt: int
    agent: str


@dataclass(frozen=True, slots=True)
class Fanout:
    """Start a best-of-N round: several attempts at once, each with its agent."""

    round: int
    attempts: tuple[tuple[int, str], ...]  # (attempt number, agent)


@dataclass(frozen=True, slots=True)
class Await:
    """Attempts of the round are still running in this engine: wait for the next result."""


@dataclass(frozen=True, slots=True)
class Recover:
    """An attempt was in flight when its process died: record it as abandoned."""

    attempt: int


@dataclass(frozen=True, slots=True)
class Review:
    attempt: int
    reviewer: str


@dataclass(frozen=True, slots=True)
class Verify:
    attempt: int
    verifiers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refine:
    attempt: int


@dataclass(frozen=True, slots=True)
class Accept:
    attempt: int


@dataclass(frozen=True, slots=True)
class Apply:
    """Put an accepted change where the playbook says (a branch, or the repo's checkout)."""

    attempt: int
    how: str


@dataclass(frozen=True, slots=True)
class Finish:
    """End the item without acceptance: escalate to a person, or fail."""

    outcome: Outcome
    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Parked until a person acts; nothing for an engine to do."""

    wait: HumanWait


@dataclass(frozen=True, slots=True)
class Done:
    outcome: Outcome


Step = (
    Scope
    | Delegate
    | Fanout
    | Await
    | Recover
    | Review
    | Verify
    | Refine
    | Accept
    | Apply
    | Finish
    | Wait
    | Done
)


def decide(state: ItemState, now: float, running: Collection[int] = ()) -> Step:
    """The next step for an item. `running`: attempts the deciding engine is running now
    (a best-of-N round); any other attempt in flight was lost with its process."""
    if state.outcome is not None and state.outcome is not Outcome.ESCALATED:
        code = state.plan.code if state.plan else None
        if (
            state.outcome is Outcome.ACCEPTED
            and code is not None
            and code.on_accept != "none"
            and not any(a.get("on_accept") for a in state.applied)  # done (or tried) once
        ):
            return Apply(state.accepted_attempt or 0, code.on_accept)
        return Done(state.outcome)
    if state.waiting is not None:
        return Wait(HumanWait(state.waiting["wait"]))
    if state.plan is None:
        return Scope()
    plan = state.plan
    if plan.fanout is not None:
        return _round(state, plan, plan.fanout, now, running)
    current = state.current
    if current is not None and current.in_flight:
        return Recover(current.n)
    if current is None or current.closed:
        return _next_attempt(state, plan, now)
    if current.error is not None:
        return Refine(current.n)
    for gate in plan.order:
        step = _review_gate(plan, current) if gate is Gate.REVIEW else _verify_gate(plan, current)
        if step is not None:
            return step
    return Accept(current.n)


def _next_attempt(state: ItemState, plan: Plan, now: float) -> Step:
    exhausted = exhausted_reason(state, plan, now)
    if exhausted:
        outcome = Outcome.ESCALATED if plan.on_exhausted == "escalate" else Outcome.FAILED
        return Finish(outcome, exhausted)
    counted = sum(1 for a in state.attempts if not a.abandoned)
    agent = plan.cascade[min(counted, len(plan.cascade) - 1)]
    return Delegate(len(state.attempts) + 1, agent)


def _round(
    state: ItemState, plan: Plan, fanout: FanoutPlan, now: float, running: Collection[int]
) -> Step:
    """Best-of-N: the step for the item's current round of attempts.

    pick first: finished attempts go through the gates in the order they finished; the
    first to pass every gate is accepted (the rest of the round stops mattering); while
    none has and some still run, wait. pick ranked: once every attempt is in, each is
    verified; the passing ones are reviewed best-scored first, and the first approved
    wins. A round where none wins is refined as one: its feedback covers every attempt.
    """
    last = state.attempts[-1].round if state.attempts else 0
    members = [a for a in state.attempts if a.round == last] if state.attempts else []
    for a in members:
        if a.in_flight and a.n not in running:
            return Recover(a.n)
    if not members or all(a.closed for a in members):
        return _next_round(state, plan, fanout, now, last + 1)
    busy = any(a.in_flight for a in members)
    done = sorted(
        (a for a in members if a.finished_at is not None and a.error is None and not a.abandoned),
        key=lambda a: (a.finished_at, a.n),
    )
    if fanout.pick == "ranked":
        if busy:
            return Await()
        for a in done:
            step = _verify_gate(plan, a)
            if isinstance(step, Verify):
                return step
        passing = sorted((a for a in done if _verify_gate(plan, a) is None), key=_rank)
        for a in passing:
            step = _review_gate(plan, a)
            if step is None:
                return Accept(a.n)
            if isinstance(step, Review):
                return step
    else:
        for a in done:
            step = _gates(plan, a)
            if step is None:
                return Accept(a.n)
            if isinstance(step, Review | Verify):
                return step
        if busy:
            return Await()
    return Refine(members[-1].n)


def _gates(plan: Plan, attempt: AttemptState) -> Step | None:
    for gate in plan.order:
        step = _review_gate(plan, attempt) if gate is Gate.REVIEW else _verify_gate(plan, attempt)
        if step is not None:
            return step
    return None


def _rank(attempt: AttemptState) -> tuple[float, int, float, int]:
    """Best first: higher total check score (a pass without a score counts 1), then the
    smaller change, then the earlier finish."""
    score = sum(
        float(c["score"]) if c.get("score") is not None else float(bool(c.get("passed")))
        for c in attempt.checks.values()
    )
    change = (attempt.output or {}).get("change") or {}
    size = int(change.get("added", 0)) + int(change.get("removed", 0))
    return (-score, size, attempt.finished_at or 0.0, attempt.n)


def _next_round(state: ItemState, plan: Plan, fanout: FanoutPlan, now: float, number: int) -> Step:
    exhausted = exhausted_reason(state, plan, now)
    if exhausted:
        outcome = Outcome.ESCALATED if plan.on_exhausted == "escalate" else Outcome.FAILED
        return Finish(outcome, exhausted)
    left = plan.budget.attempts + state.extra_attempts - len(state.attempts)
    first = len(state.attempts) + 1
    agents = fanout.round[:left]  # the last round may be smaller: budgets are hard limits
    return Fanout(number, tuple((first + i, agent) for i, agent in enumerate(agents)))


def round_of(state: ItemState, attempt: int) -> list[AttemptState]:
    """The attempts started together with `attempt` (just itself outside best-of-N)."""
    number = state.attempt(attempt).round
    return [a for a in state.attempts if a.round == number]


def exhausted_reason(state: ItemState, plan: Plan, now: float) -> str:
    """Why no further attempt may start ('' if one may): budgets are hard limits."""
    budget = plan.budget
    allowed = budget.attempts + state.extra_attempts
    if len(state.attempts) >= allowed:
        return f"attempt budget used: {len(state.attempts)} of {allowed}"
    if budget.tokens is not None and state.tokens >= budget.tokens + state.extra_tokens:
        return f"token budget used: {state.tokens} of {budget.tokens + state.extra_tokens}"
    if budget.cost is not None and state.cost >= budget.cost + state.extra_cost:
        return f"cost budget used: {state.cost:.4f} of {budget.cost + state.extra_cost:.4f}"
    if budget.wall_seconds is not None and now - state.window_start >= budget.wall_seconds:
        return f"time budget used: {now - state.window_start:.1f}s of {budget.wall_seconds:g}s"
    return ""


def _review_gate(plan: Plan, attempt: AttemptState) -> Step | None:
    for reviewer in plan.reviewers:
        review = attempt.reviews.get(reviewer.name)
        if review is None:
            failures = attempt.review_failures.get(reviewer.name, [])
            if len(failures) > plan.review_retries:
                return Finish(
                    Outcome.ESCALATED,
                    f"reviewer {reviewer.name} could not decide: {failures[-1]}",
                )
            return Review(attempt.n, reviewer.name)
        decision = review["decision"]  # a str: comparing with the StrEnum needs no lookup
        if decision == Decision.REQUEST_CHANGES:
            return Refine(attempt.n)
        if decision == Decision.REJECT:
            if plan.on_reject == "refine":
                return Refine(attempt.n)
            outcome = Outcome.FAILED if plan.on_reject == "fail" else Outcome.ESCALATED
            comments = review.get("comments") or "no comments"
            return Finish(outcome, f"rejected by {reviewer.name}: {comments}")
    return None


def _verify_gate(plan: Plan, attempt: AttemptState) -> Step | None:
    missing = tuple(v.name for v in plan.verifiers if v.name not in attempt.checks)
    if missing:
        return Verify(attempt.n, missing)
    if any(v.required and not attempt.checks[v.name]["passed"] for v in plan.verifiers):
        return Refine(attempt.n)
    return None


_STEP_STATUS: dict[type, Status] = {
    Scope: Status.QUEUED,  # scoping is an engine's first step: until then the item waits
    Delegate: Status.RUNNING,
    Fanout: Status.RUNNING,
    Await: Status.RUNNING,
    Recover: Status.RUNNING,
    Review: Status.REVIEWING,
    Verify: Status.VERIFYING,
    Accept: Status.VERIFYING,
    Refine: Status.REFINING,
    Finish: Status.REFINING,
    Wait: Status.WAITING_HUMAN,
}
_OUTCOME_STATUS: dict[Outcome, Status] = {o: Status(o) for o in Outcome}


def status_of(state: ItemState, step: Step) -> Status:
    """The board status for an item whose next step is `step`."""
    if state.outcome is not None:
        return _OUTCOME_STATUS[state.outcome]
    return _STEP_STATUS[type(step)]


def runnable(step: Step) -> bool:
    """Whether an engine has work to do on an item whose next step is `step`."""
    return not isinstance(step, Wait | Done)
