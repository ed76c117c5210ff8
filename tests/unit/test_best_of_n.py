"""Best-of-N: the loop's round decisions (table-style, no I/O) and the engine running rounds
on the memory store (first to pass wins and the rest are stopped; ranked review; refine)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baton.config.playbook import Playbook
from baton.config.sections import BudgetModel, FanoutModel, PolicyModel
from baton.core import events as ev
from baton.core.events import chain
from baton.core.loop import Accept, Await, Fanout, Finish, Recover, Refine, Review, Verify, decide
from baton.core.plan import Budget, FanoutPlan, Plan, ReviewerPlan, VerifierPlan
from baton.core.records import Assignment, Candidate, CheckResult
from baton.core.state import fold
from baton.core.vocabulary import Gate, Outcome
from baton.testing import FunctionAgent, FunctionVerifier, ScriptedReviewer, run_items

T0 = 1_000.0


def plan(pick: str = "first", reviewers: bool = False, attempts: int = 6) -> dict[str, Any]:
    return Plan(
        cascade=("a",),
        order=(Gate.VERIFY, Gate.REVIEW),
        reviewers=(ReviewerPlan("critic", "agent"),) if reviewers else (),
        verifiers=(VerifierPlan("tests"),),
        budget=Budget(attempts=attempts),
        fanout=FanoutPlan(("a", "b", "c"), 1, pick),
    ).to_dict()


def log(p: dict[str, Any], *entries: tuple[str, dict[str, Any]]) -> Any:
    submitted = (ev.ITEM_SUBMITTED, {"spec": {"objective": "x"}, "queue": "q"})
    events = chain("i", 0, "", T0, [submitted, (ev.ITEM_SCOPED, {"plan": p}), *entries])
    return fold("i", events)


def started(n: int, agent: str, round_: int = 1) -> tuple[str, dict[str, Any]]:
    return (ev.ATTEMPT_STARTED, {"attempt": n, "agent": agent, "task": {}, "round": round_})


def finished(n: int, lines: int = 1) -> tuple[str, dict[str, Any]]:
    output = {"text": f"out {n}", "change": {"added": lines, "removed": 0}}
    return (ev.ATTEMPT_FINISHED, {"attempt": n, "output": output, "usage": {}})


def check(n: int, passed: bool, score: float | None = None) -> tuple[str, dict[str, Any]]:
    data = {"attempt": n, "verifier": "tests", "passed": passed, "score": score}
    return (ev.CHECK_RECORDED, {**data, "evidence": f"attempt {n} evidence"})


def review(n: int, decision: str) -> tuple[str, dict[str, Any]]:
    data = {"attempt": n, "reviewer": "critic", "decision": decision, "comments": f"on {n}"}
    return (ev.REVIEW_DECIDED, data)


ROUND_1 = [started(1, "a"), started(2, "b"), started(3, "c")]

CASES = [
    (
        "a scoped item starts a round on every agent",
        [],
        (),
        Fanout(1, ((1, "a"), (2, "b"), (3, "c"))),
    ),
    ("while they run in this engine, wait", ROUND_1, {1, 2, 3}, Await()),
    ("attempts no engine runs were lost", ROUND_1, (), Recover(1)),
    (
        "first: the first to finish is verified",
        [*ROUND_1, finished(2)],
        {1, 3},
        Verify(2, ("tests",)),
    ),
    (
        "first: passing every gate wins at once",
        [*ROUND_1, finished(2), check(2, True)],
        {1, 3},
        Accept(2),
    ),
    (
        "first: a failed candidate is out; wait for the others",
        [*ROUND_1, finished(2), check(2, False)],
        {1, 3},
        Await(),
    ),
    (
        "first: none of the round passed: refine the round",
        [
            *ROUND_1,
            finished(2),
            check(2, False),
            finished(1),
            check(1, False),
            finished(3),
            check(3, False),
        ],
        (),
        Refine(3),
    ),
    ("ranked: wait for every attempt", [*ROUND_1, finished(2), finished(1)], {3}, Await()),
    (
        "ranked: verify each",
        [*ROUND_1, finished(2), finished(1), finished(3), check(2, True)],
        (),
        Verify(1, ("tests",)),
    ),
    (
        "ranked: review the best-scored first",
        [
            *ROUND_1,
            finished(1),
            finished(2, lines=50),
            finished(3, lines=5),
            check(1, False),
            check(2, True, 0.9),
            check(3, True, 0.9),
        ],
        (),
        Review(3, "critic"),  # same score: the smaller change first
    ),
    (
        "ranked: a candidate the reviewer turns down gives way to the next",
        [
            *ROUND_1,
            finished(1),
            finished(2),
            finished(3),
            check(1, True, 0.5),
            check(2, True, 0.9),
            check(3, False),
            review(2, "request_changes"),
        ],
        (),
        Review(1, "critic"),
    ),
]


@pytest.mark.parametrize(
    ("name", "entries", "running", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_round_decisions(name: str, entries: list[Any], running: Any, expected: Any) -> None:
    pick = "ranked" if name.startswith("ranked") else "first"
    state = log(plan(pick, reviewers=pick == "ranked"), *entries)
    assert decide(state, T0, running) == expected


def test_the_next_round_is_cut_to_the_attempts_left_and_then_the_budget_ends() -> None:
    refined = (ev.FEEDBACK_CREATED, {"attempt": 3, "attempts": [1, 2, 3], "feedback": []})
    rest = [
        finished(1),
        check(1, False),
        finished(2),
        check(2, False),
        finished(3),
        check(3, False),
    ]
    state = log(plan(attempts=4), *ROUND_1, *rest, refined)
    assert decide(state, T0) == Fanout(2, ((4, "a"),))
    state = log(plan(attempts=3), *ROUND_1, *rest, refined)
    assert decide(state, T0) == Finish(Outcome.ESCALATED, "attempt budget used: 3 of 3")


# --- the engine running rounds --------------------------------------------------------------
def agent(name: str, seconds: float, answer: str) -> FunctionAgent:
    async def work(task: Assignment) -> str:
        await asyncio.sleep(seconds)
        return answer

    return FunctionAgent(name, work)


def says_right(view: Candidate) -> CheckResult:
    return CheckResult(view.text == "right", f"{view.agent} said {view.text}")


async def test_the_first_to_pass_wins_and_the_slower_attempts_are_stopped_on_record() -> None:
    book = Playbook.build(
        "race",
        agents={
            "quick-wrong": agent("quick-wrong", 0.01, "wrong"),
            "right": agent("right", 0.05, "right"),
            "slow": agent("slow", 30, "right"),
        },
        verifiers={"check": FunctionVerifier("check", says_right)},
        fanout=FanoutModel(agents=["quick-wrong", "right", "slow"]),
        policy=PolicyModel(order=[Gate.VERIFY, Gate.REVIEW]),
    )
    state = next(iter((await asyncio.wait_for(run_items(book, ["race"]), 10)).values()))
    assert state.outcome is Outcome.ACCEPTED and state.accepted_attempt == 2
    by_agent = {a.agent: a for a in state.attempts}
    assert by_agent["quick-wrong"].checks["check"]["passed"] is False
    assert by_agent["slow"].abandoned  # stopped, not left in flight
    assert {a.round for a in state.attempts} == {1}


async def test_a_round_nobody_wins_is_refined_with_everyones_feedback() -> None:
    seen: list[tuple[str, ...]] = []

    def learner(task: Assignment) -> str:
        seen.append(tuple(f["source"] for f in task.feedback))
        return "right" if task.feedback else "wrong"

    book = Playbook.build(
        "rounds",
        agents={"a": FunctionAgent("a", learner), "b": agent("b", 0.0, "wrong")},
        verifiers={"check": FunctionVerifier("check", says_right)},
        fanout=FanoutModel(agents=["a", "b"]),
        budget=BudgetModel(attempts=4),
    )
    state = next(iter((await run_items(book, ["learn"])).values()))
    assert state.outcome is Outcome.ACCEPTED and state.accepted_attempt == 3
    assert [a.round for a in state.attempts] == [1, 1, 2, 2]
    assert seen[1] == ("attempt 1 (a) verifier:check", "attempt 2 (b) verifier:check")


async def test_ranked_reviews_the_best_scored_candidate_first() -> None:
    def scored(view: Candidate) -> CheckResult:
        return CheckResult(True, "ok", score={"low": 0.2, "high": 0.9, "mid": 0.5}[view.text])

    reviewer = ScriptedReviewer("critic", [("approve", "the best one")])
    book = Playbook.build(
        "ranked",
        agents={
            "a": agent("a", 0.0, "low"),
            "b": agent("b", 0.02, "high"),
            "c": agent("c", 0.01, "mid"),
        },
        verifiers={"check": FunctionVerifier("check", scored)},
        reviewers={"critic": reviewer},
        fanout=FanoutModel(agents=["a", "b", "c"], pick="ranked"),
        policy=PolicyModel(order=[Gate.VERIFY, Gate.REVIEW]),
    )
    state = next(iter((await run_items(book, ["rank"])).values()))
    assert (
        state.outcome is Outcome.ACCEPTED
        and state.attempt(state.accepted_attempt or 0).agent == "b"
    )
    assert [len(a.checks) for a in state.attempts] == [1, 1, 1]  # every one verified
