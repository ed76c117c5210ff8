"""A person as the reviewer: the item parks durably until someone decides."""

from __future__ import annotations

from typing import Literal

from ..core.records import AwaitHuman, Candidate, ReviewResult
from ..plugins import BuildContext, ReviewerConfig


class HumanReviewerConfig(ReviewerConfig):
    kind: Literal["human"] = "human"
    instructions: str = ""

    def build(self, name: str, ctx: BuildContext) -> HumanReviewer:
        return HumanReviewer(name, self.instructions)


class HumanReviewer:
    def __init__(self, name: str, instructions: str = "") -> None:
        self.name = name
        self.instructions = instructions

    async def review(self, attempt: Candidate) -> ReviewResult | AwaitHuman:
        return AwaitHuman(self.instructions or f"review attempt {attempt.attempt}")
