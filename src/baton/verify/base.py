"""The Verifier protocol: one async check of an attempt, returning a verdict with evidence."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..core.records import Candidate, CheckResult


@runtime_checkable
class Verifier(Protocol):
    """Checks one attempt. An exception it raises becomes a failed check with its traceback."""

    name: str

    async def verify(self, attempt: Candidate) -> CheckResult: ...
