"""The Reviewer protocol: one async decision on an attempt (or a request for a person)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..core.records import AwaitHuman, Candidate, ReviewResult


@runtime_checkable
class Reviewer(Protocol):
    """Decides approve / request changes / reject. Raise ReviewError when it cannot decide."""

    name: str

    async def review(self, attempt: Candidate) -> ReviewResult | AwaitHuman: ...
