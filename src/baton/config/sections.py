"""The sections of a playbook document: its top level, policy, budget, workspace and fanout
(each agent, reviewer and verifier section is validated by its kind's own class)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.plan import Budget, CodePlan
from ..core.vocabulary import Gate

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class BudgetModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    attempts: int = Field(3, ge=1, description="attempts an item may take, in all")
    wall_seconds: float | None = Field(None, gt=0)
    tokens: int | None = Field(None, ge=1)
    cost: float | None = Field(None, gt=0)

    def to_budget(self) -> Budget:
        return Budget(self.attempts, self.wall_seconds, self.tokens, self.cost)


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    order: list[Gate] = Field(default_factory=lambda: [Gate.REVIEW, Gate.VERIFY])
    on_reject: Literal["fail", "refine", "escalate"] = "fail"
    on_exhausted: Literal["escalate", "fail"] = "escalate"
    review_retries: int = Field(1, ge=0)

    @field_validator("order")
    @classmethod
    def _gates_once(cls, order: list[Gate]) -> list[Gate]:
        if len(set(order)) != len(order) or set(order) != {Gate.REVIEW, Gate.VERIFY}:
            raise ValueError("must name each of review and verify exactly once")
        return order


class WorkspaceModel(BaseModel):
    """Where an attempt works: a copy of a folder, or a git worktree of a repository."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    copy_from: str | None = Field(None, alias="copy", description="folder copied into each")
    repo: str | None = Field(None, description="a git repository: each attempt in a worktree")
    base: str = Field("HEAD", min_length=1, description="the ref the work starts from")
    paths: list[str] = Field(default_factory=list, description="globs a change may touch")
    max_diff_lines: int = Field(5000, ge=1, description="lines added + removed, at most")
    max_diff_bytes: int = Field(1_000_000, ge=1)
    allow_empty: bool = Field(False, description="an attempt that changes nothing may pass")
    keep: bool = Field(False, description="keep finished attempts' worktrees (debugging)")
    on_accept: Literal["none", "branch", "apply"] = Field(
        "none", description="branch: baton/accepted/ITEM; apply: onto the repo's checkout"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> WorkspaceModel:
        if self.copy_from and self.repo:
            raise ValueError("name either copy (a folder) or repo (a git repository), not both")
        code_fields = {"paths", "max_diff_lines", "max_diff_bytes", "allow_empty", "keep"}
        code_fields |= {"on_accept", "base"}
        if not self.repo and self.model_fields_set & code_fields:
            fields = ", ".join(sorted(self.model_fields_set & code_fields))
            raise ValueError(f"{fields} need repo (a git repository)")
        return self

    def code_plan(self, repo: str, base: str, commit: str) -> CodePlan:
        """The recorded code work for one item (its repo and base may be the item's own)."""
        return CodePlan(
            repo=repo,
            base=base,
            commit=commit,
            paths=tuple(self.paths),
            max_diff_lines=self.max_diff_lines,
            max_diff_bytes=self.max_diff_bytes,
            allow_empty=self.allow_empty,
            keep=self.keep,
            on_accept=self.on_accept,
        )


class FanoutModel(BaseModel):
    """Best-of-N: several attempts at once per round, on several agents or samples of one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agents: list[str] | None = Field(None, min_length=1, description="default: the cascade's")
    samples: int = Field(1, ge=1, le=32, description="attempts per agent in each round")
    pick: Literal["first", "ranked"] = Field(
        "first",
        description="first: the first attempt to pass every gate wins; ranked: every attempt "
        "is verified, the passing ones go to review best-scored first",
    )

    @field_validator("agents", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class PlaybookModel(BaseModel):
    """The YAML document's top level (plugin sections are validated per kind afterwards)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    agents: dict[str, dict[str, Any]] = Field(min_length=1)
    reviewers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    verifiers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    cascade: list[str] | None = None
    policy: PolicyModel = Field(default_factory=PolicyModel)
    budget: BudgetModel = Field(default_factory=BudgetModel)
    workspace: WorkspaceModel | None = None
    fanout: FanoutModel | None = None

    @field_validator("cascade", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
