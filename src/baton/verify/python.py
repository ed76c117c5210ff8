"""A Python predicate as the verifier: `module:function` of the attempt, run where its
configuration says (config/calls.py), within its timeout."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..config.calls import CallError, FunctionCall, Isolation, refuse_inline_process
from ..config.plugin import BuildContext, VerifierConfig
from ..core.records import Candidate, CheckResult


class PythonVerifierConfig(VerifierConfig):
    kind: Literal["python"] = "python"
    function: str = Field(description="'module:function' taking the Candidate")
    path: list[str] = Field(default_factory=lambda: ["."])
    offload: bool = Field(
        True, description="run a sync function in a worker thread (false: on the event loop)"
    )
    isolate: Isolation = Field(
        "thread",
        description="where a sync function runs: a thread (cannot be interrupted) or a "
        "child process of its own (killed on a timeout or a stop)",
    )
    timeout: float = Field(300.0, gt=0, description="seconds the function may take")
    threshold: float | None = None

    @model_validator(mode="after")
    def _one_place(self) -> PythonVerifierConfig:
        refuse_inline_process(self.offload, self.isolate)
        return self

    def build(self, name: str, ctx: BuildContext) -> PythonVerifier:
        call = FunctionCall.build(
            self.function,
            [ctx.path(p) for p in self.path],
            isolate=self.isolate,
            offload=self.offload,
            timeout=self.timeout,
        )
        return PythonVerifier(name, call, self.threshold)


class PythonVerifier:
    """The function's verdict on the Candidate; past its timeout (or when its process dies)
    a failed check saying so."""

    def __init__(self, name: str, call: FunctionCall, threshold: float | None) -> None:
        self.name = name
        self.call = call
        self.threshold = threshold

    async def verify(self, candidate: Candidate) -> CheckResult:
        try:
            value = await self.call(candidate)
        except CallError as exc:
            return CheckResult(False, str(exc))
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
