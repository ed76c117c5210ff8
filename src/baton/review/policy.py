"""An automatic reviewer: approve when the item's risk is low enough and every check passed."""

from __future__ import annotations

from typing import Literal

from ..plugins import BuildContext, ReviewerConfig
from ..records import AttemptView, AwaitHuman, ReviewResult
from ..types import RISK_ORDER, Decision, Risk


class PolicyReviewerConfig(ReviewerConfig):
    kind: Literal["policy"] = "policy"
    checks_passed: bool = True
    max_risk: Literal["low", "medium", "high"] = "low"
    otherwise: Literal["request_changes", "reject", "human"] = "human"

    def needs_checks(self) -> bool:
        return self.checks_passed

    def build(self, name: str, ctx: BuildContext) -> PolicyReviewer:
        return PolicyReviewer(name, self)


class PolicyReviewer:
    kind = "policy"

    def __init__(self, name: str, config: PolicyReviewerConfig) -> None:
        self.name = name
        self.config = config

    async def review(self, attempt: AttemptView) -> ReviewResult | AwaitHuman:
        reasons = []
        if RISK_ORDER[Risk(attempt.risk)] > RISK_ORDER[Risk(self.config.max_risk)]:
            reasons.append(f"risk {attempt.risk} is above {self.config.max_risk}")
        if self.config.checks_passed:
            failed = [c["verifier"] for c in attempt.checks if not c.get("passed")]
            if failed:
                reasons.append(f"check(s) failed: {', '.join(failed)}")
        if not reasons:
            passed = f", {len(attempt.checks)} check(s) passed" if self.config.checks_passed else ""
            return ReviewResult(
                Decision.APPROVE, f"risk {attempt.risk} within {self.config.max_risk}{passed}"
            )
        why = "; ".join(reasons)
        if self.config.otherwise == "human":
            return AwaitHuman(f"policy {self.name} cannot approve on its own: {why}")
        return ReviewResult(Decision(self.config.otherwise), why)
