"""Plugin kinds: each agent, reviewer and verifier kind is a config model that builds itself.

Built-in kinds are registered here; third parties add theirs through the entry point
groups `baton.agents`, `baton.reviewers` and `baton.verifiers` (name = kind, value = a
config class deriving from the matching base).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .agents.base import Agent
    from .review.base import Reviewer
    from .verify.base import Verifier


@dataclass
class BuildContext:
    """What a plugin needs to build itself: where the playbook lives, the agents built so far."""

    base_dir: Path
    state_dir: Path
    agents: dict[str, Agent] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def path(self, value: str) -> Path:
        """A path from the playbook, relative to the playbook's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def template(self, value: str | None, default: str | None = None) -> str | None:
        """A prompt template: the playbook's file if it names one, else baton's `default`."""
        if not value:
            from .prompts import load_template

            return load_template(default) if default else None
        path = self.path(value)
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read prompt_template {path}: {exc}") from None

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
        if getattr(getattr(agent, "config", None), "edits", None) is not None:
            raise ValueError(
                f"agent {name!r} edits files (edits:), so it cannot answer as a {role}: "
                "name an agent without edits"
            )
        return agent


class PluginConfig(BaseModel):
    """Base of every plugin's configuration: strict, immutable, built by name."""

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


def _builtin() -> dict[str, dict[str, type[PluginConfig]]]:
    from .agents.command import CommandAgentConfig
    from .agents.human import HumanAgentConfig
    from .agents.llama import LlamaAgentConfig
    from .agents.openai import OpenAIAgentConfig
    from .agents.python import PythonAgentConfig
    from .review.agent import AgentReviewerConfig
    from .review.human import HumanReviewerConfig
    from .review.policy import PolicyReviewerConfig
    from .verify.command import CommandVerifierConfig
    from .verify.json_schema import JsonSchemaVerifierConfig
    from .verify.judge import JudgeVerifierConfig
    from .verify.python import PythonVerifierConfig
    from .verify.text import ContainsVerifierConfig, RegexVerifierConfig

    return {
        "baton.agents": {
            "python": PythonAgentConfig,
            "command": CommandAgentConfig,
            "human": HumanAgentConfig,
            "llama": LlamaAgentConfig,
            "openai": OpenAIAgentConfig,
        },
        "baton.reviewers": {
            "agent": AgentReviewerConfig,
            "human": HumanReviewerConfig,
            "policy": PolicyReviewerConfig,
        },
        "baton.verifiers": {
            "command": CommandVerifierConfig,
            "json_schema": JsonSchemaVerifierConfig,
            "regex": RegexVerifierConfig,
            "contains": ContainsVerifierConfig,
            "python": PythonVerifierConfig,
            "judge": JudgeVerifierConfig,
        },
    }


@cache
def _registry() -> dict[str, dict[str, type[PluginConfig]]]:
    registry = _builtin()
    for group, known in registry.items():
        for ep in entry_points(group=group):
            known.setdefault(ep.name, ep.load())
    return registry


def kinds(group: str) -> dict[str, type[PluginConfig]]:
    """Every kind in a group: built-ins, then installed entry points."""
    return _registry()[group]
