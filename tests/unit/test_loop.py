"""The loop's decisions, table-style: a log of (kind, data) entries -> the next step. No I/O."""

from __future__ import annotations

from typing import Any

import pytest

from baton.core import events as ev
from baton.core.bookkeeping import build_feedback
from baton.core.events import chain
from baton.core.loop import (
    Accept,
    Apply,
    Delegate,
    Done,
    Finish,
    Recover,
    Refine,
    Review,
    Scope,
    Verify,
    Wait,
    decide,
    runnable,
    status_of,
)
from baton.core.plan import Budget, Plan, ReviewerPlan, VerifierPlan
from baton.core.state import fold
from baton.core.vocabulary import Gate, HumanWait, Outcome, Status

T0 = 1_000.0


def plan(**overrides: Any) -> dict[str, Any]:
    base = Plan(
        cascade=("cheap", "strong"),
        order=(Gate.REVIEW, Gate.VERIFY),
        reviewers=(ReviewerPlan("critic", "agent"),),
        verifiers=(VerifierPlan("tests"), VerifierPlan("lint", required=False)),
        budget=Budget(attempts=3),
    )
    raw = base.to_dict()
    raw.update(overrides)
    return raw


SUBMIT = (ev.ITEM_SUBMITTED, {"spec": {"objective": "x"}, "queue": "q"})


def scoped(**overrides: Any) -> list[tuple[str, dict[str, Any]]]:
    return [SUBMIT, (ev.ITEM_SCOPED, {"plan": plan(**overrides)})]


def started(n: int, agent: str = "cheap") -> tuple[str, dict[str, Any]]:
    return (ev.ATTEMPT_STARTED, {"attempt": n, "agent": agent, "task": {}})


def finished(n: int, tokens: int = 0, cost: float = 0.0) -> tuple[str, dict[str, Any]]:
    usage = {"prompt_tokens": tokens, "completion_tokens": 0, "cost": cost, "seconds": 1.0}
    return (ev.ATTEMPT_FINISHED, {"attempt": n, "output": {"text": "out"}, "usage": usage})


def review(n: int, decision: str, reviewer: str = "critic") -> tuple[str, dict[str, Any]]:
    data = {"attempt": n, "reviewer": reviewer, "decision": decision, "comments": "c"}
    return (ev.REVIEW_DECIDED, data)


def check(n: int, name: str, passed: bool) -> tuple[str, dict[str, Any]]:
    return (
        ev.CHECK_RECORDED,
        {"attempt": n, "verifier": name, "passed": passed, "evidence": f"{name} said no"},
    )


def feedback(n: int) -> tuple[str, dict[str, Any]]:
    return (ev.FEEDBACK_CREATED, {"attempt": n, "feedback": []})


PASSED_1 = [
    started(1),
    finished(1),
    review(1, "approve"),
    check(1, "tests", True),
    check(1, "lint", True),
]

CODE = {
    "repo": "/r",
    "base": "main",
    "commit": "abc",
    "paths": [],
    "max_diff_lines": 10,
    "max_diff_bytes": 100,
    "allow_empty": False,
    "keep": False,
}
ACCEPTED_1 = (ev.ITEM_ACCEPTED, {"attempt": 1, "agent": "cheap"})


def applied(by: str, on_accept: bool, ok: bool = True) -> tuple[str, dict[str, Any]]:
    kind = ev.CHANGE_APPLIED if ok else ev.CHANGE_APPLY_FAILED
    return (kind, {"attempt": 1, "how": "branch", "by": by, "on_accept": on_accept})


CASES = [
    ("new item is scoped", [SUBMIT], Scope()),
    (
        "an accepted change goes where the playbook says",
        [*scoped(code={**CODE, "on_accept": "branch"}), *PASSED_1, ACCEPTED_1],
        Apply(1, "branch"),
    ),
    (
        "a person applying it elsewhere does not stand in for the playbook's on_accept",
        [
            *scoped(code={**CODE, "on_accept": "apply"}),
            *PASSED_1,
            ACCEPTED_1,
            applied("human:ann", on_accept=False),
        ],
        Apply(1, "apply"),
    ),
    (
        "on_accept is tried once, even when it failed (a person takes it from there)",
        [
            *scoped(code={**CODE, "on_accept": "branch"}),
            *PASSED_1,
            ACCEPTED_1,
            applied("playbook", on_accept=True, ok=False),
        ],
        Done(Outcome.ACCEPTED),
    ),
    (
        "without on_accept an accepted change stays where it is",
        [*scoped(code={**CODE, "on_accept": "none"}), *PASSED_1, ACCEPTED_1],
        Done(Outcome.ACCEPTED),
    ),
    ("scoped item goes to the first agent of the cascade", scoped(), Delegate(1, "cheap")),
    ("an attempt in flight at decision time was lost", [*scoped(), started(1)], Recover(1)),
    (
        "abandoned attempt is retried on the same agent",
        [*scoped(), started(1), (ev.ATTEMPT_ABANDONED, {"attempt": 1})],
        Delegate(2, "cheap"),
    ),
    ("review comes first by default", [*scoped(), started(1), finished(1)], Review(1, "critic")),
    (
        "verify first when the policy says so",
        [*scoped(order=["verify", "review"]), started(1), finished(1)],
        Verify(1, ("tests", "lint")),
    ),
    (
        "after approval, the verifiers run",
        [*scoped(), started(1), finished(1), review(1, "approve")],
        Verify(1, ("tests", "lint")),
    ),
    (
        "only the checks not yet recorded run (resume mid-verify)",
        [*scoped(), started(1), finished(1), review(1, "approve"), check(1, "tests", True)],
        Verify(1, ("lint",)),
    ),
    ("every gate passed: accept", [*scoped(), *PASSED_1], Accept(1)),
    (
        "an optional check failing does not block",
        [*scoped(), *PASSED_1[:-1], check(1, "lint", False)],
        Accept(1),
    ),
    (
        "a required check failing refines",
        [
            *scoped(),
            started(1),
            finished(1),
            review(1, "approve"),
            check(1, "tests", False),
            check(1, "lint", True),
        ],
        Refine(1),
    ),
    (
        "changes requested refine before verifying",
        [*scoped(), started(1), finished(1), review(1, "request_changes")],
        Refine(1),
    ),
    (
        "reject fails the item by default",
        [*scoped(), started(1), finished(1), review(1, "reject")],
        Finish(Outcome.FAILED, "rejected by critic: c"),
    ),
    (
        "reject escalates when the policy says so",
        [*scoped(on_reject="escalate"), started(1), finished(1), review(1, "reject")],
        Finish(Outcome.ESCALATED, "rejected by critic: c"),
    ),
    (
        "reject refines when the policy says so",
        [*scoped(on_reject="refine"), started(1), finished(1), review(1, "reject")],
        Refine(1),
    ),
    (
        "an agent error refines",
        [*scoped(), started(1), (ev.ATTEMPT_FAILED, {"attempt": 1, "error": "exit 2"})],
        Refine(1),
    ),
    (
        "after feedback the cascade moves to the stronger agent",
        [*scoped(), started(1), finished(1), review(1, "request_changes"), feedback(1)],
        Delegate(2, "strong"),
    ),
    (
        "the cascade stays on its last agent",
        [
            *scoped(budget={"attempts": 5, "wall_seconds": None, "tokens": None, "cost": None}),
            *[
                e
                for n in (1, 2, 3)
                for e in (started(n), finished(n), review(n, "request_changes"), feedback(n))
            ],
        ],
        Delegate(4, "strong"),
    ),
    (
        "attempt budget exhausted escalates",
        [
            *scoped(),
            *[
                e
                for n in (1, 2, 3)
                for e in (started(n), finished(n), review(n, "request_changes"), feedback(n))
            ],
        ],
        Finish(Outcome.ESCALATED, "attempt budget used: 3 of 3"),
    ),
    (
        "exhaustion fails when the policy says so",
        [
            *scoped(
                on_exhausted="fail",
                budget={"attempts": 1, "wall_seconds": None, "tokens": None, "cost": None},
            ),
            started(1),
            finished(1),
            review(1, "request_changes"),
            feedback(1),
        ],
        Finish(Outcome.FAILED, "attempt budget used: 1 of 1"),
    ),
    (
        "token budget is a hard limit",
        [
            *scoped(budget={"attempts": 5, "wall_seconds": None, "tokens": 100, "cost": None}),
            started(1),
            finished(1, tokens=150),
            review(1, "request_changes"),
            feedback(1),
        ],
        Finish(Outcome.ESCALATED, "token budget used: 150 of 100"),
    ),
    (
        "cost budget is a hard limit",
        [
            *scoped(budget={"attempts": 5, "wall_seconds": None, "tokens": None, "cost": 0.5}),
            started(1),
            finished(1, cost=0.5),
            review(1, "request_changes"),
            feedback(1),
        ],
        Finish(Outcome.ESCALATED, "cost budget used: 0.5000 of 0.5000"),
    ),
    (
        "a human review parks the item",
        [
            *scoped(),
            started(1),
            finished(1),
            (ev.HUMAN_REQUESTED, {"wait": "review", "attempt": 1, "reviewer": "critic"}),
        ],
        Wait(HumanWait.REVIEW),
    ),
    (
        "a human decision unparks it",
        [
            *scoped(),
            started(1),
            finished(1),
            (ev.HUMAN_REQUESTED, {"wait": "review", "attempt": 1, "reviewer": "critic"}),
            review(1, "approve"),
        ],
        Verify(1, ("tests", "lint")),
    ),
    (
        "human work parks the attempt (it is not lost)",
        [*scoped(), started(1), (ev.HUMAN_REQUESTED, {"wait": "work", "attempt": 1})],
        Wait(HumanWait.WORK),
    ),
    (
        "a reviewer error is retried",
        [
            *scoped(),
            started(1),
            finished(1),
            (ev.REVIEW_FAILED, {"attempt": 1, "reviewer": "critic", "error": "?"}),
        ],
        Review(1, "critic"),
    ),
    (
        "a reviewer that keeps failing escalates",
        [
            *scoped(),
            started(1),
            finished(1),
            *[(ev.REVIEW_FAILED, {"attempt": 1, "reviewer": "critic", "error": "no decision"})] * 2,
        ],
        Finish(Outcome.ESCALATED, "reviewer critic could not decide: no decision"),
    ),
    (
        "accepted is done",
        [*scoped(), *PASSED_1, (ev.ITEM_ACCEPTED, {"attempt": 1})],
        Done(Outcome.ACCEPTED),
    ),
    ("cancelled is done", [*scoped(), (ev.ITEM_CANCELLED, {"by": "me"})], Done(Outcome.CANCELLED)),
    (
        "escalated waits for a person",
        [*scoped(), (ev.ITEM_ESCALATED, {"reason": "r"})],
        Wait(HumanWait.ESCALATION),
    ),
    (
        "a reopened item gets its extra attempt",
        [
            *scoped(budget={"attempts": 1, "wall_seconds": None, "tokens": None, "cost": None}),
            started(1),
            finished(1),
            review(1, "request_changes"),
            feedback(1),
            (ev.ITEM_ESCALATED, {"reason": "attempt budget used"}),
            (ev.ITEM_REOPENED, {"extra_attempts": 1, "comments": "try X"}),
        ],
        Delegate(2, "strong"),
    ),
]


@pytest.mark.parametrize(("entries", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(entries: list[tuple[str, dict[str, Any]]], expected: object) -> None:
    state = fold("item", chain("item", 0, "", T0, entries))
    assert decide(state, T0) == expected


def test_wall_budget_uses_the_given_clock() -> None:
    entries = [*scoped(budget={"attempts": 5, "wall_seconds": 10.0, "tokens": None, "cost": None})]
    state = fold("item", chain("item", 0, "", T0, entries))
    assert decide(state, T0 + 9.9) == Delegate(1, "cheap")
    step = decide(state, T0 + 10.0)
    assert isinstance(step, Finish) and step.reason.startswith("time budget used")


def test_decide_is_pure() -> None:
    entries = [*scoped(), started(1), finished(1)]
    state = fold("item", chain("item", 0, "", T0, entries))
    before = repr(state)
    assert decide(state, T0) == decide(state, T0)
    assert repr(state) == before


@pytest.mark.parametrize(
    ("entries", "status", "is_runnable"),
    [
        ([SUBMIT], Status.QUEUED, True),  # submitted, not yet scoped by an engine
        (scoped(), Status.RUNNING, True),
        ([*scoped(), started(1), finished(1)], Status.REVIEWING, True),
        ([*scoped(), started(1), finished(1), review(1, "approve")], Status.VERIFYING, True),
        ([*scoped(), started(1), finished(1), review(1, "request_changes")], Status.REFINING, True),
        (
            [*scoped(), started(1), (ev.HUMAN_REQUESTED, {"wait": "work", "attempt": 1})],
            Status.WAITING_HUMAN,
            False,
        ),
        ([*scoped(), (ev.ITEM_ESCALATED, {"reason": "r"})], Status.ESCALATED, False),
        ([*scoped(), (ev.ITEM_FAILED, {"reason": "r"})], Status.FAILED, False),
    ],
)
def test_status_and_runnable(
    entries: list[tuple[str, dict[str, Any]]], status: Status, is_runnable: bool
) -> None:
    state = fold("item", chain("item", 0, "", T0, entries))
    step = decide(state, T0)
    assert status_of(state, step) is status
    assert runnable(step) is is_runnable


def test_feedback_carries_evidence_and_comments_bounded() -> None:
    long_evidence = "E" * 10_000
    entries = [
        *scoped(),
        started(1),
        finished(1),
        review(1, "request_changes"),
        (
            ev.CHECK_RECORDED,
            {"attempt": 1, "verifier": "tests", "passed": False, "evidence": long_evidence},
        ),
        check(1, "lint", True),
    ]
    state = fold("item", chain("item", 0, "", T0, entries))
    entries_out = build_feedback(state, 1, limit=100)
    sources = [e["source"] for e in entries_out]
    assert sources == ["verifier:tests", "reviewer:critic"]
    assert len(entries_out[0]["message"]) < 200 and "characters cut" in entries_out[0]["message"]
    assert entries_out[1]["message"] == "c"
