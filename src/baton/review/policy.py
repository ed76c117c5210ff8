"""An automatic reviewer: approve when the item's risk is low enough and every check passed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config.plugin import BuildContext, ReviewerConfig
from ..core.records import AwaitHuman, Candidate, ReviewResult
from ..core.vocabulary import RISK_ORDER, Decision, Risk

_RISKS = frozenset(Risk)


class PolicyReviewerConfig(ReviewerConfig):
    kind: Literal["policy"] = "policy"
    checks_passed: bool = Field(True, description="require every check to have passed")
    max_risk: Literal["low", "medium", "high"] = Field(
        "low", description="approve only items at or below this risk"
    )
    otherwise: Literal["request_changes", "reject", "human"] = Field(
        "human", description="the decision when a condition fails (human: a person decides)"
    )

    def needs_checks(self) -> bool:
        return self.checks_passed

    def build(self, name: str, ctx: BuildContext) -> PolicyReviewer:
        return PolicyReviewer(name, self)


class PolicyReviewer:
    """Approves on its own only when every condition holds; says why when it does not."""

    kind = "policy"

    def __init__(self, name: str, config: PolicyReviewerConfig) -> None:
        self.name = name
        self.config = config

    def reasons(self, candidate: Candidate) -> list[str]:
        """Why this attempt cannot be approved automatically (empty: it can)."""
        c = self.config
        reasons = []
        rank = RISK_ORDER.get(Risk(candidate.risk)) if candidate.risk in _RISKS else None
        if rank is None:
            # an unknown risk is never low enough: fail safe
            known = ", ".join(r.value for r in Risk)
            reasons.append(f"risk {candidate.risk!r} is not one of {known}")
        elif rank > RISK_ORDER[Risk(c.max_risk)]:
            reasons.append(f"risk {candidate.risk} is above {c.max_risk}")
        if c.checks_passed:
            # an advisory check (required: false) informs the reviewers but blocks nothing
            failed = [
                str(ch.get("verifier", "?"))
                for ch in candidate.checks
                if not ch.get("passed") and ch.get("required", True)
            ]
            if failed:
                reasons.append(f"check(s) failed: {', '.join(failed)}")
        return reasons

    async def review(self, candidate: Candidate) -> ReviewResult | AwaitHuman:
        c = self.config
        why = "; ".join(self.reasons(candidate))
        if not why:
            passed = ""
            if c.checks_passed:
                n, ok = len(candidate.checks), sum(1 for ch in candidate.checks if ch.get("passed"))
                passed = f"; all {n} check(s) passed" if ok == n else f"; {ok} of {n} passed"
                passed += "" if ok == n else " (the failed ones are advisory)"
            return ReviewResult(
                Decision.APPROVE, f"risk {candidate.risk} is within {c.max_risk}{passed}"
            )
        if c.otherwise == "human":
            return AwaitHuman(f"policy {self.name} cannot approve on its own: {why}")
        return ReviewResult(Decision(c.otherwise), why)
