"""A testing kit for playbooks: scripted agents, reviewers and verifiers, and a one-call run
on the in-memory store. Users test their own playbooks with it; baton's tests use it too."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from .agents.completions import Completion, Message, Sampling
from .config.items import ItemSpec, with_ids
from .config.playbook import Playbook
from .core.records import (
    AgentResult,
    Assignment,
    AwaitHuman,
    Candidate,
    CheckResult,
    ReviewResult,
    Usage,
)
from .core.state import ItemState
from .core.vocabulary import Decision
from .runtime.engine import Engine
from .runtime.recording import load_state
from .store.base import Store
from .store.memory import MemoryStore


class FunctionAgent:
    """An agent that calls a function of the task (sync or async) inline."""

    def __init__(self, name: str, fn: Callable[[Assignment], Any]) -> None:
        self.name = name
        self.fn = fn
        self.calls: list[Assignment] = []

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman:
        self.calls.append(assignment)
        value = self.fn(assignment)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, AgentResult | AwaitHuman):
            return value
        if isinstance(value, str):
            return AgentResult(text=value)
        return AgentResult(text=str(value), data=value)


class ScriptedAgent(FunctionAgent):
    """Answers attempt n with the n-th scripted output (the last one repeats)."""

    def __init__(
        self, name: str, outputs: Sequence[str | AgentResult | Exception], tokens: int = 0
    ) -> None:
        self.outputs = list(outputs)

        def answer(assignment: Assignment) -> AgentResult:
            index = min(len(self.calls) - 1, len(self.outputs) - 1)
            out = self.outputs[index]
            if isinstance(out, Exception):
                raise out
            if isinstance(out, AgentResult):
                return out
            return AgentResult(
                text=out, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens)
            )

        super().__init__(name, answer)


class FunctionVerifier:
    """A verifier from a predicate on the attempt: bool, (bool, evidence) or CheckResult."""

    def __init__(self, name: str, fn: Callable[[Candidate], Any]) -> None:
        self.name = name
        self.fn = fn

    async def verify(self, attempt: Candidate) -> CheckResult:
        value = self.fn(attempt)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, CheckResult):
            return value
        if isinstance(value, tuple):
            return CheckResult(bool(value[0]), str(value[1]))
        return CheckResult(bool(value), "passed" if value else "failed")


class ScriptedReviewer:
    """Gives the scripted decisions in turn (the last repeats); None parks for a person."""

    kind = "agent"

    def __init__(self, name: str, decisions: Sequence[tuple[Decision | str, str] | None]) -> None:
        self.name = name
        self.decisions = list(decisions)
        self.calls = 0

    async def review(self, attempt: Candidate) -> ReviewResult | AwaitHuman:
        decision = self.decisions[min(self.calls, len(self.decisions) - 1)]
        self.calls += 1
        if decision is None:
            return AwaitHuman("scripted: a person decides")
        return ReviewResult(Decision(decision[0]), decision[1])


class ScriptedBackend:
    """A chat backend that gives its completions in turn and keeps every call: a model
    agent (`ChatAgent`) over it runs without a model."""

    model = "scripted"

    def __init__(self, *answers: Completion) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[Message], Sampling]] = []

    async def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        self.calls.append((messages, sampling))
        return self.answers.pop(0)

    @property
    def prompt(self) -> str:
        """The user message of the last call."""
        return self.calls[-1][0][-1]["content"]


def item(objective: str, **fields: Any) -> ItemSpec:
    return ItemSpec(objective=objective, **fields)


async def run_items(
    playbook: Playbook,
    specs: Iterable[ItemSpec | str],
    *,
    store: Store | None = None,
    concurrency: int = 8,
    until: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, ItemState]:
    """Submit items and run them to their outcomes on a store (memory by default)."""
    store = store or MemoryStore()
    specs = with_ids(
        [s if isinstance(s, ItemSpec) else ItemSpec(objective=s) for s in specs], playbook.name
    )
    engine = Engine(store, playbook, concurrency=concurrency, poll_interval=0.01)
    ids = [item_id for item_id, _ in await engine.submit(playbook, specs)]
    await engine.run(ids)
    return {item_id: await load_state(store, item_id) for item_id in ids}
