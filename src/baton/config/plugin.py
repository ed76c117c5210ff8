"""What a plugin is: the three Protocols (Agent, Reviewer, Verifier), the configuration
bases every kind derives from, and the BuildContext a configuration builds with.

A leaf: it imports none of the kinds. Built-in kinds and third parties' are found the
same way, through entry points (config/registry.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..core.records import (
    AgentResult,
    Assignment,
    AwaitHuman,
    Candidate,
    CheckResult,
    ReviewResult,
)
from .prompts import load_template


@runtime_checkable
class Agent(Protocol):
    """Does one attempt. Raise AgentError (or anything) to fail the attempt with a reason."""

    name: str

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman: ...


@runtime_checkable
class Reviewer(Protocol):
    """Decides approve / request changes / reject. Raise ReviewError when it cannot decide."""

    name: str

    async def review(self, candidate: Candidate) -> ReviewResult | AwaitHuman: ...


@runtime_checkable
class Verifier(Protocol):
    """Checks one attempt. An exception it raises becomes a failed check with its traceback."""

    name: str

    async def verify(self, candidate: Candidate) -> CheckResult: ...


MIN_SECRET_LENGTH = 8
"""A secret shorter than this is refused: keeping it out of the record would redact
ordinary words and numbers too."""


def secret_too_short(name: str, length: int) -> str:
    return (
        f"the value of {name} is {length} character(s): too short to keep out of the record "
        f"safely (at least {MIN_SECRET_LENGTH}); use a longer secret, or do not list it"
    )


FILE_LIMIT = 10_000_000
"""Bytes a file a playbook names (a schema, a prompt template) may hold."""


@dataclass
class BuildContext:
    """What a plugin needs to build itself: where the playbook lives, the agents built so
    far (and which of them edit files), the environment."""

    base_dir: Path
    state_dir: Path
    agents: dict[str, Agent] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    editing: set[str] = field(default_factory=set)  # agents whose answer is a change to files

    def add_agent(self, name: str, agent: Agent, config: AgentConfig) -> None:
        """Make a built agent known to the reviewers and verifiers built after it."""
        self.agents[name] = agent
        if config.edits_files():
            self.editing.add(name)

    def path(self, value: str) -> Path:
        """A path from the playbook, relative to the playbook's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def template(self, value: str | None, default: str | None = None) -> str | None:
        """A prompt template: the playbook's file if it names one, else baton's `default`."""
        if not value:
            return load_template(default) if default else None
        return self.read_file(value, "prompt_template")

    def read_file(self, value: str, field: str) -> str:
        """The text of a file the playbook names (a schema, a template): inside the
        playbook's folder (unless BATON_PLAYBOOK_FILES=anywhere), a regular file of at most
        FILE_LIMIT bytes, UTF-8; ValueError saying why not."""
        path = self.path(value)
        resolved = path.resolve()
        if self.environ.get("BATON_PLAYBOOK_FILES") != "anywhere" and not resolved.is_relative_to(
            self.base_dir.resolve()
        ):
            raise ValueError(
                f"cannot read {field} {path}: it is outside the playbook's folder "
                f"{self.base_dir} (a playbook reads only files beside it; "
                "BATON_PLAYBOOK_FILES=anywhere allows others)"
            )
        if not resolved.exists():
            raise ValueError(f"cannot read {field} {path}: no such file")
        if not resolved.is_file():
            raise ValueError(f"cannot read {field} {path}: not a regular file")
        if resolved.stat().st_size > FILE_LIMIT:
            size = resolved.stat().st_size
            raise ValueError(
                f"cannot read {field} {path}: {size:,} bytes, more than {FILE_LIMIT:,}"
            )
        try:
            with resolved.open("rb") as file:
                data = file.read(FILE_LIMIT + 1)  # a file that grew meanwhile is cut short
            if len(data) > FILE_LIMIT:
                raise ValueError(f"cannot read {field} {path}: more than {FILE_LIMIT:,} bytes")
            return data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {field} {path}: {exc}") from None

    def agent(self, name: str) -> Agent:
        """An agent of the playbook (built before reviewers and verifiers)."""
        if name not in self.agents:
            known = ", ".join(sorted(self.agents)) or "none"
            raise ValueError(f"unknown agent {name!r} (known: {known})")
        return self.agents[name]

    def answering_agent(self, name: str, role: str) -> Agent:
        """An agent that answers in text, for a reviewer or a judge (not one that edits files:
        their questions have no worktree)."""
        agent = self.agent(name)
        if name in self.editing:
            raise ValueError(
                f"agent {name!r} edits files (edits:), so it cannot answer as a {role}: "
                "name an agent without edits"
            )
        return agent


class PluginConfig(BaseModel):
    """Base of every plugin's configuration: strict, immutable, built by name.

    A kind's class declares `kind: Literal["its-name"]`, the name its entry point has."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    group: ClassVar[str] = ""
    kind: str


class AgentConfig(PluginConfig):
    group: ClassVar[str] = "baton.agents"
    description: str = ""
    concurrency: int = Field(4, ge=1, description="attempts this agent runs at once")
    secrets: list[str] = Field(
        default_factory=list,
        description="environment variables holding secrets; their values never reach events",
    )

    def build(self, name: str, ctx: BuildContext) -> Agent:
        raise NotImplementedError(f"agent kind {self.kind!r} does not implement build()")

    def secret_names(self) -> list[str]:
        """Environment variables whose values must never reach events."""
        return list(self.secrets)

    def edits_files(self) -> bool:
        """Whether this agent's answer is a change to files in the attempt's working folder
        rather than text (so it cannot answer a reviewer's or a judge's question)."""
        return False


class When(BaseModel):
    """Which items a reviewer applies to (all of them when empty)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    risk: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    def matches(self, risk: str, tags: list[str]) -> bool:
        if self.risk and risk not in self.risk:
            return False
        return not (self.tags and not set(self.tags) & set(tags))


class ReviewerConfig(PluginConfig):
    group: ClassVar[str] = "baton.reviewers"
    when: When = Field(default_factory=When)

    def needs_checks(self) -> bool:
        """Whether this reviewer decides on check results (so verify must come first)."""
        return False

    def build(self, name: str, ctx: BuildContext) -> Reviewer:
        raise NotImplementedError(f"reviewer kind {self.kind!r} does not implement build()")


class VerifierConfig(PluginConfig):
    group: ClassVar[str] = "baton.verifiers"
    required: bool = Field(True, description="a failed check blocks acceptance")
    description: str = ""

    def build(self, name: str, ctx: BuildContext) -> Verifier:
        raise NotImplementedError(f"verifier kind {self.kind!r} does not implement build()")

    def describe(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        """What agents are told this verifier checks (ctx resolves files it names)."""
        return {"kind": self.kind, "description": self.description}
