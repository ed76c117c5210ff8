"""A Python function as the agent: `module:function`, sync or async, run on the event loop,
in a worker thread or in a child process (config/calls.py), within its timeout."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field, model_validator

from ..config.calls import CallError, FunctionCall, Isolation, refuse_inline_process
from ..config.plugin import AgentConfig, BuildContext
from ..core.records import AgentResult, Assignment, AwaitHuman
from ..errors import AgentError


class PythonAgentConfig(AgentConfig):
    kind: Literal["python"] = "python"
    function: str = Field(description="'module:function' taking the Assignment")
    path: list[str] = Field(
        default_factory=lambda: ["."], description="folders put on sys.path (playbook-relative)"
    )
    offload: bool = Field(
        True, description="run a sync function in a worker thread (false: on the event loop)"
    )
    isolate: Isolation = Field(
        "thread",
        description="where a sync function runs: a thread (cannot be interrupted) or a "
        "child process of its own (killed on a timeout or a stop)",
    )
    timeout: float = Field(600.0, gt=0, description="seconds the function may take")

    @model_validator(mode="after")
    def _one_place(self) -> PythonAgentConfig:
        refuse_inline_process(self.offload, self.isolate)
        return self

    def build(self, name: str, ctx: BuildContext) -> PythonAgent:
        call = FunctionCall.build(
            self.function,
            [ctx.path(p) for p in self.path],
            isolate=self.isolate,
            offload=self.offload,
            timeout=self.timeout,
        )
        return PythonAgent(name, call)


class PythonAgent:
    """Calls the function with the Assignment; its return value becomes the attempt's result.
    Past its timeout (or when its process dies) the attempt fails with an AgentError; an
    exception the function raises fails it with its traceback."""

    def __init__(self, name: str, call: FunctionCall) -> None:
        self.name = name
        self.call = call

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman:
        # wall seconds are measured by the engine around every agent call (hot path: no copy)
        try:
            value = await self.call(assignment)
        except CallError as exc:
            raise AgentError(str(exc)) from None
        return as_result(value)


def as_result(value: Any) -> AgentResult | AwaitHuman:
    """A function's return value as an agent result: text, JSON data, or as given."""
    if isinstance(value, AgentResult | AwaitHuman):
        return value
    if isinstance(value, str):
        return AgentResult(text=value)
    if isinstance(value, dict | list):
        try:
            text = orjson.dumps(value).decode()
        except orjson.JSONEncodeError as exc:
            raise AgentError(f"the function returned data that is not JSON: {exc}") from None
        return AgentResult(text=text, data=value)
    raise AgentError(
        f"the function returned {type(value).__name__}; expected str, dict, list, "
        "AgentResult or AwaitHuman"
    )
