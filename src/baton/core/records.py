"""Frozen records passed between the engine and its plugins (agents, reviewers, verifiers).

Hooks take one frozen object, so what a plugin is given can grow without breaking it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .text import extract_json
from .vocabulary import Decision


@dataclass(frozen=True, slots=True)
class Usage:
    """What one call cost: tokens as the model counted them, money, wall seconds."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, slots=True)
class BudgetLeft:
    """What remains of an item's budget when an attempt starts (None: unlimited)."""

    attempts: int
    tokens: int | None = None
    cost: float | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Everything an agent is given for one attempt (the log records it as the attempt's
    `task`)."""

    item_id: str
    attempt: int
    objective: str
    inputs: dict[str, Any] = field(default_factory=dict)
    feedback: tuple[dict[str, Any], ...] = ()
    acceptance: tuple[dict[str, Any], ...] = ()
    budget: BudgetLeft = field(default_factory=lambda: BudgetLeft(attempts=1))
    risk: str = "low"
    tags: tuple[str, ...] = ()
    workdir: Path | None = None

    def record(self) -> dict[str, Any]:
        """What attempt.started records: what this attempt got beyond the item's own spec
        (objective, inputs, risk and tags are already in item.submitted)."""
        b = self.budget
        return {
            "feedback": list(self.feedback),
            "acceptance": [a.get("name") for a in self.acceptance],
            "budget": {
                "attempts": b.attempts,
                "tokens": b.tokens,
                "cost": b.cost,
                "seconds": b.seconds,
            },
            "workdir": str(self.workdir) if self.workdir else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole assignment, as a command agent reads it from BATON_TASK_FILE."""
        return {
            "objective": self.objective,
            "inputs": self.inputs,
            "feedback": list(self.feedback),
            "acceptance": list(self.acceptance),
            "budget": {
                "attempts": self.budget.attempts,
                "tokens": self.budget.tokens,
                "cost": self.budget.cost,
                "seconds": self.budget.seconds,
            },
            "risk": self.risk,
            "tags": list(self.tags),
            "workdir": str(self.workdir) if self.workdir else None,
        }


@dataclass(frozen=True, slots=True)
class AgentResult:
    """An attempt's output: text, optional structured data, and what it cost."""

    text: str = ""
    data: Any = None
    usage: Usage = field(default_factory=Usage)
    exit_code: int | None = None
    files: tuple[str, ...] = ()

    def output_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text}
        if self.data is not None:
            out["data"] = self.data
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.files:
            out["files"] = list(self.files)
        return out


@dataclass(frozen=True, slots=True)
class AwaitHuman:
    """A control signal: a person must act; the item parks durably until they do."""

    prompt: str = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """What reviewers and verifiers judge: one attempt's output with its context."""

    item_id: str
    attempt: int
    agent: str
    objective: str
    inputs: dict[str, Any]
    text: str
    data: Any = None
    risk: str = "low"
    tags: tuple[str, ...] = ()
    checks: tuple[dict[str, Any], ...] = ()
    reviews: tuple[dict[str, Any], ...] = ()
    workdir: Path | None = None
    change: dict[str, Any] | None = None  # code work: diff, files, base, commit, branch

    def json_value(self) -> Any:
        """The output as JSON: the structured data if any, else the JSON its text holds
        (text.extract_json); ValueError when it holds none."""
        return self.data if self.data is not None else extract_json(self.text)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One verifier's verdict, with the evidence a person (or the next attempt) needs."""

    passed: bool
    evidence: str = ""
    score: float | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class ReviewResult:
    decision: Decision
    comments: str = ""
    usage: Usage | None = None
