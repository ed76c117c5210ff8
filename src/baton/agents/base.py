"""The Agent protocol: one async call from a task to a result (or a request for a person)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..core.records import AgentResult, Assignment, AwaitHuman


@runtime_checkable
class Agent(Protocol):
    """Does one attempt. Raise AgentError (or anything) to fail the attempt with a reason."""

    name: str

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman: ...
