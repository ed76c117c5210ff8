"""A Python function as the agent: `module:function`, sync or async."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, Literal

import orjson
from pydantic import Field

from ..config.callables import import_callable
from ..config.plugin import AgentConfig, BuildContext
from ..core.records import AgentResult, Assignment, AwaitHuman
from ..errors import AgentError


class PythonAgentConfig(AgentConfig):
    kind: Literal["python"] = "python"
    function: str = Field(description="'module:function' taking the Assignment")
    path: list[str] = Field(
        default_factory=lambda: ["."], description="folders put on sys.path (playbook-relative)"
    )
    offload: bool = Field(True, description="run a sync function in a worker thread")

    def build(self, name: str, ctx: BuildContext) -> PythonAgent:
        fn = import_callable(self.function, [ctx.path(p) for p in self.path])
        return PythonAgent(name, fn, offload=self.offload)


class PythonAgent:
    """Calls the function with the Assignment; its return value becomes the attempt's result."""

    def __init__(self, name: str, fn: Callable[[Assignment], Any], *, offload: bool = True) -> None:
        self.name = name
        self.fn = fn
        # a coroutine function only builds a coroutine when called: no thread needed
        self.offload = offload and not inspect.iscoroutinefunction(fn)

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman:
        # wall seconds are measured by the engine around every agent call (hot path: no copy)
        value = (
            await asyncio.to_thread(self.fn, assignment) if self.offload else self.fn(assignment)
        )
        if inspect.isawaitable(value):  # async callables the check above cannot see
            value = await value
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
