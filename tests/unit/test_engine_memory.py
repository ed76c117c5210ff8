"""The engine on the memory store through the testing kit: secrets, errors, budgets."""

from __future__ import annotations

from baton import AgentResult, Usage
from baton.config.playbook import AgentSlot, Playbook
from baton.config.sections import BudgetModel, PolicyModel
from baton.core.records import Candidate
from baton.core.vocabulary import Outcome
from baton.errors import AgentError
from baton.testing import (
    FunctionAgent,
    FunctionVerifier,
    ScriptedAgent,
    ScriptedReviewer,
    run_items,
)


async def test_secret_values_never_reach_the_log(monkeypatch: object) -> None:
    import os

    os.environ["BATON_TEST_KEY"] = "sk-very-secret-value"
    try:
        leaky = FunctionAgent("leaky", lambda task: f"my key is {os.environ['BATON_TEST_KEY']}")
        book = Playbook.build("s", agents={"leaky": AgentSlot(leaky, secrets=("BATON_TEST_KEY",))})
        from baton.store import MemoryStore

        store = MemoryStore()
        states = await run_items(book, ["leak it"], store=store)
        feed = await store.read(limit=1000)
        assert all("sk-very-secret-value" not in repr(e.data) for e in feed)
        state = next(iter(states.values()))
        assert state.attempts[0].output == {"text": "my key is [secret BATON_TEST_KEY]"}
    finally:
        del os.environ["BATON_TEST_KEY"]


async def test_a_crashing_verifier_is_a_failed_check_with_its_traceback() -> None:
    def broken(attempt: Candidate) -> bool:
        raise RuntimeError("verifier bug")

    book = Playbook.build(
        "v",
        agents={"w": ScriptedAgent("w", ["x"])},
        verifiers={"broken": FunctionVerifier("broken", broken)},
        budget=BudgetModel(attempts=1),
    )
    state = next(iter((await run_items(book, ["x"])).values()))
    check = state.attempts[0].checks["broken"]
    assert not check["passed"] and "RuntimeError: verifier bug" in check["evidence"]
    assert state.outcome is Outcome.ESCALATED


async def test_tokens_a_failed_attempt_spent_count_against_the_budget() -> None:
    spent = AgentError(
        "the answer was cut off", usage=Usage(prompt_tokens=60, completion_tokens=40)
    )
    agent = ScriptedAgent("w", [spent, "fine"])
    book = Playbook.build("t", agents={"w": agent}, budget=BudgetModel(attempts=3, tokens=150))
    state = next(iter((await run_items(book, ["x"])).values()))
    assert state.attempts[0].usage["prompt_tokens"] == 60 and state.attempts[0].usage["seconds"] > 0
    assert state.tokens == 100
    assert agent.calls[1].budget.tokens == 50, "the second attempt knows what is left"


async def test_agent_errors_become_feedback_for_the_next_attempt() -> None:
    agent = ScriptedAgent("w", [AgentError("exit 2: no such file"), "fixed"])
    book = Playbook.build("e", agents={"w": agent})
    state = next(iter((await run_items(book, ["x"])).values()))
    assert state.outcome is Outcome.ACCEPTED
    assert agent.calls[1].feedback[0]["message"] == "exit 2: no such file"


async def test_token_budget_stops_further_attempts() -> None:
    costly = ScriptedAgent(
        "w", [AgentResult("draft", usage=Usage(prompt_tokens=80, completion_tokens=40))]
    )
    book = Playbook.build(
        "t",
        agents={"w": costly},
        reviewers={"r": ScriptedReviewer("r", [("request_changes", "again")])},
        budget=BudgetModel(attempts=5, tokens=200),
    )
    state = next(iter((await run_items(book, ["x"])).values()))
    assert len(state.attempts) == 2  # 120 tokens, then 240: no third attempt may start
    assert state.outcome is Outcome.ESCALATED and "token budget used" in state.reason


async def test_reject_fails_or_refines_per_policy() -> None:
    for on_reject, outcome, attempts in (
        ("fail", Outcome.FAILED, 1),
        ("refine", Outcome.ACCEPTED, 2),
    ):
        book = Playbook.build(
            "r",
            agents={"w": ScriptedAgent("w", ["a", "b"])},
            reviewers={"r": ScriptedReviewer("r", [("reject", "wrong"), ("approve", "")])},
            policy=PolicyModel(on_reject=on_reject),
        )
        state = next(iter((await run_items(book, ["x"])).values()))
        assert (state.outcome, len(state.attempts)) == (outcome, attempts)


async def test_a_raising_agent_says_what_it_raised_first_and_keeps_the_traceback() -> None:
    def broken(task: object) -> str:
        raise ValueError("the input has no name\nsecond line")

    book = Playbook.build(
        "r", agents={"w": FunctionAgent("w", broken)}, budget=BudgetModel(attempts=1)
    )
    state = next(iter((await run_items(book, ["x"])).values()))
    error = state.attempts[0].error or ""
    first, _, rest = error.partition("\n")
    assert first == "the agent raised ValueError: the input has no name"
    assert rest.startswith("Traceback (most recent call last):") and "def broken" not in first
    assert 'raise ValueError("the input has no name' in rest  # the evidence is kept
