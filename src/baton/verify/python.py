"""A Python predicate as the verifier: `module:function` of the attempt."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from ..config.callables import import_callable
from ..config.plugin import BuildContext, VerifierConfig
from ..core.records import Candidate, CheckResult


class PythonVerifierConfig(VerifierConfig):
    kind: Literal["python"] = "python"
    function: str = Field(description="'module:function' taking the Candidate")
    path: list[str] = Field(default_factory=lambda: ["."])
    offload: bool = True
    threshold: float | None = None

    def build(self, name: str, ctx: BuildContext) -> PythonVerifier:
        fn = import_callable(self.function, [ctx.path(p) for p in self.path])
        return PythonVerifier(name, fn, self.offload, self.threshold)


class PythonVerifier:
    def __init__(
        self, name: str, fn: Callable[[Candidate], Any], offload: bool, threshold: float | None
    ) -> None:
        self.name = name
        self.fn = fn
        self.offload = offload and not inspect.iscoroutinefunction(fn)
        self.threshold = threshold

    async def verify(self, candidate: Candidate) -> CheckResult:
        value = await asyncio.to_thread(self.fn, candidate) if self.offload else self.fn(candidate)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, CheckResult):
            return value
        if isinstance(value, bool):
            return CheckResult(value, f"{self.name} returned {value}")
        if isinstance(value, tuple) and len(value) == 2:
            return CheckResult(bool(value[0]), str(value[1]))
        if isinstance(value, int | float):
            if self.threshold is None:
                return CheckResult(
                    False,
                    f"{self.name} returned a score ({value}) but no threshold is set",
                    score=float(value),
                )
            passed = value >= self.threshold
            return CheckResult(
                passed,
                f"score {value} {'>=' if passed else '<'} threshold {self.threshold}",
                score=float(value),
            )
        return CheckResult(
            False,
            f"{self.name} returned {type(value).__name__}; "
            "expected bool, (bool, str), a score or CheckResult",
        )
