"""The policy reviewer: approves on its own only when the risk is low enough and checks passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AwaitHuman, Candidate, ReviewResult
from baton.core.vocabulary import Decision
from baton.review.policy import PolicyReviewerConfig

PASSED = {"verifier": "schema", "passed": True}
FAILED = {"verifier": "schema", "passed": False, "evidence": "age: -1 is less than 0"}
TESTS_FAILED = {"verifier": "tests", "passed": False}


def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton")


def view(risk: str = "low", checks: tuple[dict[str, object], ...] = ()) -> Candidate:
    return Candidate(
        item_id="it",
        attempt=1,
        agent="a",
        objective="o",
        inputs={},
        text="x",
        risk=risk,
        checks=checks,
    )


def test_registered_and_needs_checks_only_when_it_reads_them() -> None:
    assert kinds("baton.reviewers").found["policy"] is PolicyReviewerConfig
    assert PolicyReviewerConfig().needs_checks() is True
    assert PolicyReviewerConfig(checks_passed=False).needs_checks() is False


@pytest.mark.parametrize(
    ("max_risk", "risk", "approved"),
    [
        ("low", "low", True),
        ("low", "medium", False),
        ("low", "high", False),
        ("medium", "low", True),
        ("medium", "medium", True),
        ("medium", "high", False),
        ("high", "high", True),
    ],
)
async def test_risk_at_or_below_the_limit_is_approved(
    tmp_path: Path, max_risk: str, risk: str, approved: bool
) -> None:
    config = PolicyReviewerConfig(max_risk=max_risk, otherwise="reject")  # type: ignore[arg-type]
    result = await config.build("p", ctx(tmp_path)).review(view(risk, (PASSED,)))
    assert isinstance(result, ReviewResult)
    if approved:
        assert result.decision is Decision.APPROVE
        assert result.comments == f"risk {risk} is within {max_risk}; all 1 check(s) passed"
    else:
        assert result.decision is Decision.REJECT
        assert result.comments == f"risk {risk} is above {max_risk}"


async def test_a_failed_check_blocks_approval_and_is_named(tmp_path: Path) -> None:
    reviewer = PolicyReviewerConfig(otherwise="request_changes").build("p", ctx(tmp_path))
    result = await reviewer.review(view("low", (PASSED, TESTS_FAILED, FAILED)))
    assert isinstance(result, ReviewResult)
    assert result.decision is Decision.REQUEST_CHANGES
    assert result.comments == "check(s) failed: tests, schema"


async def test_a_failed_advisory_check_does_not_block(tmp_path: Path) -> None:
    advisory = {"verifier": "style", "passed": False, "required": False}
    reviewer = PolicyReviewerConfig(otherwise="reject").build("p", ctx(tmp_path))
    result = await reviewer.review(view("low", (PASSED, advisory)))
    assert isinstance(result, ReviewResult)
    assert (result.decision, result.comments) == (
        Decision.APPROVE,
        "risk low is within low; 1 of 2 passed (the failed ones are advisory)",
    )
    blocked = await reviewer.review(view("low", (advisory, {**advisory, "required": True})))
    assert isinstance(blocked, ReviewResult)
    assert (blocked.decision, blocked.comments) == (Decision.REJECT, "check(s) failed: style")


async def test_checks_are_ignored_when_not_required(tmp_path: Path) -> None:
    reviewer = PolicyReviewerConfig(checks_passed=False).build("p", ctx(tmp_path))
    result = await reviewer.review(view("low", (FAILED,)))
    assert isinstance(result, ReviewResult)
    assert (result.decision, result.comments) == (Decision.APPROVE, "risk low is within low")


async def test_no_checks_at_all_is_every_check_passed(tmp_path: Path) -> None:
    result = await PolicyReviewerConfig().build("p", ctx(tmp_path)).review(view("low"))
    assert isinstance(result, ReviewResult) and result.decision is Decision.APPROVE


async def test_human_otherwise_parks_the_item_with_every_reason(tmp_path: Path) -> None:
    reviewer = PolicyReviewerConfig().build("gate", ctx(tmp_path))
    result = await reviewer.review(view("high", (FAILED,)))
    assert result == AwaitHuman(
        "policy gate cannot approve on its own: risk high is above low; check(s) failed: schema"
    )


async def test_an_unknown_risk_is_never_approved(tmp_path: Path) -> None:
    reviewer = PolicyReviewerConfig(max_risk="high", otherwise="reject").build("p", ctx(tmp_path))
    result = await reviewer.review(view("critical"))
    assert isinstance(result, ReviewResult) and result.decision is Decision.REJECT
    assert result.comments == "risk 'critical' is not one of low, medium, high"


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_risk"):
        PolicyReviewerConfig(max_risk="extreme")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="otherwise"):
        PolicyReviewerConfig(otherwise="escalate")  # type: ignore[arg-type]
