"""A person as the agent: the attempt parks until `baton submit-result` delivers the work."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config.plugin import AgentConfig, BuildContext
from ..core.records import AgentResult, Assignment, AwaitHuman


class HumanAgentConfig(AgentConfig):
    kind: Literal["human"] = "human"
    concurrency: int = Field(1_000_000, ge=1)
    instructions: str = ""

    def build(self, name: str, ctx: BuildContext) -> HumanAgent:
        return HumanAgent(name, self.instructions)


class HumanAgent:
    def __init__(self, name: str, instructions: str = "") -> None:
        self.name = name
        self.instructions = instructions

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman:
        return AwaitHuman(self.instructions or assignment.objective)
