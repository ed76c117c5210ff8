"""The agent reviewer, with a python agent doing the reviewing."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from baton.agents.python import PythonAgentConfig
from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AwaitHuman, Candidate, ReviewResult, Usage
from baton.core.vocabulary import Decision
from baton.errors import ReviewError
from baton.review.agent import DEFAULT_RUBRIC, AgentReviewer, AgentReviewerConfig

_names = itertools.count()

MODULE = '''
import json

from baton.errors import AgentError
from baton.core.records import AgentResult, AwaitHuman, Usage

SEEN = []


def strict(task):
    """Approves only outputs that say hello; remembers every prompt it got."""
    SEEN.append(task)
    ok = "hello" in task.objective.split("The attempt's output:")[1]
    decision = "approve" if ok else "request_changes"
    answer = json.dumps({"decision": decision, "comments": "says hello" if ok else "say hello"})
    return AgentResult(text="Here you go:\\n" + answer, usage=Usage(prompt_tokens=120, cost=0.01))


def structured(task):
    return {"verdict": "reject", "reason": "wrong language"}


def echo(task):
    return task.objective


def rambling(task):
    return "Hmm, hard to say."


def human(task):
    return AwaitHuman("a person should look at this")


def broken(task):
    raise AgentError("the model timed out after 30 s")


def crashing(task):
    raise KeyError("choices")
'''


@pytest.fixture
def ctx(tmp_path: Path) -> BuildContext:
    """A playbook context whose agents are the functions of MODULE."""
    module = f"baton_test_reviewers_{next(_names)}"
    (tmp_path / f"{module}.py").write_text(MODULE)
    context = BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton")
    for fn in ("strict", "structured", "echo", "rambling", "human", "broken", "crashing"):
        config = PythonAgentConfig(function=f"{module}:{fn}", offload=False)
        context.agents[fn] = config.build(fn, context)
    return context


def view(text: str = "hello world", **kw: object) -> Candidate:
    base: dict[str, object] = {
        "item_id": "it-7",
        "attempt": 3,
        "agent": "writer",
        "objective": "greet the user",
        "inputs": {"user": "ada"},
        "text": text,
    }
    return Candidate(**{**base, **kw})  # type: ignore[arg-type]


def reviewer(ctx: BuildContext, agent: str, **kw: object) -> AgentReviewer:
    return AgentReviewerConfig(agent=agent, **kw).build("critic", ctx)  # type: ignore[arg-type]


def test_registered_as_the_agent_kind() -> None:
    assert kinds("baton.reviewers").found["agent"] is AgentReviewerConfig


def test_unknown_agent_is_a_build_error(ctx: BuildContext) -> None:
    with pytest.raises(ValueError, match=r"unknown agent 'nobody' \(known: broken, crashing, "):
        reviewer(ctx, "nobody")
    empty = BuildContext(base_dir=ctx.base_dir, state_dir=ctx.state_dir)
    with pytest.raises(ValueError, match=r"unknown agent 'nobody' \(known: none\)"):
        AgentReviewerConfig(agent="nobody").build("critic", empty)


def test_missing_prompt_template_is_a_build_error(ctx: BuildContext) -> None:
    with pytest.raises(ValueError, match=r"cannot read prompt_template .*nope\.txt"):
        reviewer(ctx, "strict", prompt_template="nope.txt")


async def test_the_agent_decides_and_its_usage_is_kept(ctx: BuildContext) -> None:
    good = await reviewer(ctx, "strict").review(view("hello world"))
    assert good == ReviewResult(Decision.APPROVE, "says hello", Usage(prompt_tokens=120, cost=0.01))
    bad = await reviewer(ctx, "strict").review(view("goodbye"))
    assert isinstance(bad, ReviewResult)
    assert (bad.decision, bad.comments) == (Decision.REQUEST_CHANGES, "say hello")


async def test_structured_data_from_the_agent_is_read(ctx: BuildContext) -> None:
    result = await reviewer(ctx, "structured").review(view())
    assert isinstance(result, ReviewResult)
    assert (result.decision, result.comments) == (Decision.REJECT, "wrong language")


async def test_the_prompt_carries_the_attempt_checks_and_rubric(ctx: BuildContext) -> None:
    checks = (
        {"verifier": "schema", "passed": True},
        {"verifier": "tests", "passed": False, "evidence": "FAILED test_greeting\nassert 1 == 2"},
    )
    critic = reviewer(ctx, "strict", rubric="Be kind but firm.")
    await critic.review(view("hello there", checks=checks, risk="medium", tags=("docs",)))
    task = ctx.agents["strict"].call.fn.__globals__["SEEN"][-1]  # type: ignore[attr-defined]
    assert (task.item_id, task.attempt, task.risk, task.tags) == ("it-7", 3, "medium", ("docs",))
    prompt = task.objective
    for part in (
        "greet the user",
        '"user": "ada"',
        "hello there",
        "- schema: passed",
        "- tests: FAILED: FAILED test_greeting\n  assert 1 == 2",
        "Be kind but firm.",
        '{"decision": "approve" | "request_changes" | "reject", "comments": "..."}',
    ):
        assert part in prompt
    assert "$" not in prompt, "every placeholder is filled"


async def test_structured_output_is_shown_as_json(ctx: BuildContext) -> None:
    critic = reviewer(ctx, "strict")
    assert '"greeting": "hello"' in critic.prompt(view("ignored", data={"greeting": "hello"}))
    assert DEFAULT_RUBRIC in critic.prompt(view())
    assert "none yet" in critic.prompt(view())


async def test_a_custom_template_file(ctx: BuildContext) -> None:
    (ctx.base_dir / "review.tmpl").write_text("Judge $output for: $objective ($rubric) $unknown")
    critic = reviewer(ctx, "strict", prompt_template="review.tmpl", rubric="R")
    assert critic.prompt(view("hi")) == "Judge hi for: greet the user (R) $unknown"


async def test_a_request_for_a_person_passes_through(ctx: BuildContext) -> None:
    result = await reviewer(ctx, "human").review(view())
    assert result == AwaitHuman("a person should look at this")


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ("broken", "reviewing agent broken failed: the model timed out after 30 s"),
        ("crashing", "reviewing agent crashing failed: 'choices'"),
        ("rambling", "could not find a decision in the reviewer's answer .*Hmm, hard to say"),
        # an agent that repeats its prompt names every decision: not an approval
        ("echo", "conflicting decisions"),
    ],
)
async def test_failures_are_review_errors(ctx: BuildContext, agent: str, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        await reviewer(ctx, agent).review(view())
