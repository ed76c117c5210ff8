"""A person as the reviewer: the item parks durably until someone decides."""

from __future__ import annotations

from typing import Literal

from ..config.plugin import BuildContext, ReviewerConfig
from ..core.records import AwaitHuman, Candidate, ReviewResult


class HumanReviewerConfig(ReviewerConfig):
    kind: Literal["human"] = "human"
    instructions: str = ""

    def build(self, name: str, ctx: BuildContext) -> HumanReviewer:
        return HumanReviewer(name, self.instructions)


class HumanReviewer:
    def __init__(self, name: str, instructions: str = "") -> None:
        self.name = name
        self.instructions = instructions

    async def review(self, candidate: Candidate) -> ReviewResult | AwaitHuman:
        return AwaitHuman(self.instructions or f"review attempt {candidate.attempt}")
