"""Playbooks: how a kind of work is done. Loaded from YAML (every error names the file,
line and field, and nothing runs) or built in Python from agent, reviewer and verifier
objects."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import plugins
from ._source import Located, parse_yaml, validate
from .agents.base import Agent
from .core.plan import Budget, CodePlan, FanoutPlan, Plan, ReviewerPlan, VerifierPlan
from .core.vocabulary import Gate
from .errors import InputError, NotFound, PlaybookError, Problem
from .plugins import AgentConfig, BuildContext, ReviewerConfig, VerifierConfig, When
from .review.base import Reviewer
from .verify.base import Verifier
from .worktree import BaseProblem, resolve_base

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


@dataclass(frozen=True)
class AgentSlot:
    agent: Agent
    concurrency: int = 4
    secrets: tuple[str, ...] = ()
    kind: str = "custom"


@dataclass(frozen=True)
class ReviewerSlot:
    reviewer: Reviewer
    kind: str
    when: When = field(default_factory=When)
    needs_checks: bool = False


@dataclass(frozen=True)
class VerifierSlot:
    verifier: Verifier
    required: bool = True
    describe: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Playbook:
    """A playbook ready to run: built agents, reviewers and verifiers, and the policy."""

    name: str
    agents: dict[str, AgentSlot]
    cascade: tuple[str, ...]
    reviewers: dict[str, ReviewerSlot] = field(default_factory=dict)
    verifiers: dict[str, VerifierSlot] = field(default_factory=dict)
    policy: PolicyModel = field(default_factory=PolicyModel)
    budget: BudgetModel = field(default_factory=BudgetModel)
    workspace: WorkspaceModel | None = None
    fanout: FanoutModel | None = None
    description: str = ""
    path: Path | None = None
    digest: str = ""

    @classmethod
    def build(
        cls,
        name: str,
        *,
        agents: Mapping[str, Agent | AgentSlot],
        reviewers: Mapping[str, Reviewer | ReviewerSlot] | None = None,
        verifiers: Mapping[str, Verifier | VerifierSlot] | None = None,
        cascade: list[str] | None = None,
        policy: PolicyModel | None = None,
        budget: BudgetModel | None = None,
        fanout: FanoutModel | None = None,
    ) -> Playbook:
        """A playbook from Python objects (plain agents etc. are wrapped with defaults)."""
        slots = {n: a if isinstance(a, AgentSlot) else AgentSlot(a) for n, a in agents.items()}
        rslots = {
            n: r if isinstance(r, ReviewerSlot) else ReviewerSlot(r, getattr(r, "kind", "agent"))
            for n, r in (reviewers or {}).items()
        }
        vslots = {
            n: v if isinstance(v, VerifierSlot) else VerifierSlot(v)
            for n, v in (verifiers or {}).items()
        }
        book = cls(
            name=name,
            agents=slots,
            cascade=tuple(cascade or list(slots)[:1]),
            reviewers=rslots,
            verifiers=vslots,
            policy=policy or PolicyModel(),
            budget=budget or BudgetModel(),
            fanout=fanout,
        )
        problems = book.check()
        if problems:
            raise PlaybookError(problems)
        return book

    def check(self, src: Located | None = None, declared: Collection[str] = ()) -> list[Problem]:
        """Cross-reference problems: unknown cascade agents, gates in an order that cannot work.

        `declared` agents exist in the file but could not be built: their own problems say
        why, so naming them in the cascade is not another problem."""
        file = src.file if src else f"playbook {self.name}"

        def problem(path: tuple[str | int, ...], message: str) -> Problem:
            return (
                src.problem(path, message)
                if src
                else Problem(file, None, ".".join(map(str, path)), message)
            )

        problems = []
        for i, name in enumerate(self.cascade):
            if name not in self.agents and name not in declared:
                known = ", ".join(dict.fromkeys([*self.agents, *declared]))
                problems.append(problem(("cascade", i), f"unknown agent {name!r} (known: {known})"))
        if self.fanout is not None:
            for i, name in enumerate(self.fanout.agents or ()):
                if name not in self.agents and name not in declared:
                    known = ", ".join(dict.fromkeys([*self.agents, *declared]))
                    message = f"unknown agent {name!r} (known: {known})"
                    problems.append(problem(("fanout", "agents", i), message))
        order = self.policy.order
        for name, slot in self.reviewers.items():
            if slot.needs_checks and order.index(Gate.VERIFY) > order.index(Gate.REVIEW):
                problems.append(
                    problem(
                        ("reviewers", name),
                        "decides on check results, so policy.order must put verify before review",
                    )
                )
        return problems

    @property
    def secret_names(self) -> set[str]:
        return {s for slot in self.agents.values() for s in slot.secrets}

    def plan_for(
        self,
        *,
        risk: str,
        tags: list[str],
        acceptance: list[str] | None = None,
        cascade: list[str] | None = None,
        budget: Mapping[str, Any] | None = None,
        code: CodePlan | None = None,
    ) -> Plan:
        """Resolve this playbook for one item: which reviewers apply, which checks, what budget."""
        reviewers = tuple(
            ReviewerPlan(name, slot.kind)
            for name, slot in self.reviewers.items()
            if slot.when.matches(risk, tags)
        )
        names = acceptance if acceptance is not None else list(self.verifiers)
        verifiers = tuple(VerifierPlan(n, self.verifiers[n].required) for n in names)
        limits = Budget(**{**self.budget.model_dump(), **(budget or {})})
        return Plan(
            cascade=tuple(cascade or self.cascade),
            order=tuple(self.policy.order),
            reviewers=reviewers,
            verifiers=verifiers,
            budget=limits,
            on_reject=self.policy.on_reject,
            on_exhausted=self.policy.on_exhausted,
            review_retries=self.policy.review_retries,
            code=code,
            fanout=self._fanout_plan(cascade or list(self.cascade)),
        )

    def _fanout_plan(self, cascade: list[str]) -> FanoutPlan | None:
        f = self.fanout
        if f is None:
            return None
        return FanoutPlan(tuple(f.agents or cascade[:1]), f.samples, f.pick)

    def acceptance(self, names: list[str] | None = None) -> tuple[dict[str, Any], ...]:
        """What agents are told each verifier checks."""
        names = names if names is not None else list(self.verifiers)
        return tuple({"name": n, **self.verifiers[n].describe} for n in names)


def load_playbook(path: str | Path, *, state_dir: Path | None = None) -> Playbook:
    """Load, validate and build a YAML playbook; every problem found is reported at once."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such playbook file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(Problem(str(path), None, "", f"cannot read: {exc}")) from None
    try:
        src = parse_yaml(text, str(path))
    except InputError as exc:
        raise PlaybookError(exc.problems) from None
    base_dir = path.resolve().parent
    book = from_document(src, base_dir, state_dir or Path(".baton"))
    book.path = path.resolve()
    book.digest = hashlib.sha256(text.encode()).hexdigest()
    return book


def from_document(src: Located, base_dir: Path, state_dir: Path) -> Playbook:
    """Build a playbook from a parsed document, collecting every problem before raising."""
    if not isinstance(src.value, dict):
        raise PlaybookError(src.problem((), "a playbook is a mapping with name, agents, ..."))
    model, problems = validate(PlaybookModel, src, src.value)
    if model is None:
        # still report every plugin section's problems, so one run shows them all
        sections = {"agents": AgentConfig, "reviewers": ReviewerConfig, "verifiers": VerifierConfig}
        for section, base in sections.items():
            raw_section = src.value.get(section)
            if isinstance(raw_section, dict):
                for name, raw in raw_section.items():
                    _config(src, section, name, raw, base, problems)
        problems.sort(key=lambda p: p.line or 0)
        raise PlaybookError(problems)
    ctx = BuildContext(base_dir=base_dir, state_dir=state_dir)
    agents: dict[str, AgentSlot] = {}
    for name, raw in model.agents.items():
        config = _config(src, "agents", name, raw, AgentConfig, problems)
        agent = _build(src, ("agents", name), config, name, ctx, problems)
        if agent is not None:
            ctx.agents[name] = agent
            agents[name] = AgentSlot(
                agent, config.concurrency, tuple(config.secret_names()), config.kind
            )
    reviewers: dict[str, ReviewerSlot] = {}
    for name, raw in model.reviewers.items():
        config = _config(src, "reviewers", name, raw, ReviewerConfig, problems)
        reviewer = _build(src, ("reviewers", name), config, name, ctx, problems)
        if reviewer is not None:
            reviewers[name] = ReviewerSlot(
                reviewer, config.kind, config.when, config.needs_checks()
            )
    verifiers: dict[str, VerifierSlot] = {}
    for name, raw in model.verifiers.items():
        config = _config(src, "verifiers", name, raw, VerifierConfig, problems)
        verifier = _build(src, ("verifiers", name), config, name, ctx, problems)
        if verifier is not None:
            verifiers[name] = VerifierSlot(verifier, config.required, config.describe(ctx))
    cascade = model.cascade
    if cascade is None and model.fanout is not None and model.fanout.agents:
        cascade = list(model.fanout.agents)  # a best-of-N round names its agents
    if cascade is None:
        if len(model.agents) > 1:
            problems.append(src.problem(("agents",), "several agents: name their order in cascade"))
        cascade = list(model.agents)[:1]
    workspace = model.workspace
    if workspace and workspace.copy_from:
        folder = ctx.path(workspace.copy_from)
        if not folder.is_dir():
            problems.append(src.problem(("workspace", "copy"), f"no such folder: {folder}"))
    if workspace and workspace.repo:
        repo = ctx.path(workspace.repo).resolve()
        try:
            resolve_base(repo, workspace.base)
        except BaseProblem as exc:
            problems.append(src.problem(("workspace", exc.field), str(exc)))
        workspace = workspace.model_copy(update={"repo": str(repo)})
    book = Playbook(
        name=model.name,
        agents=agents,
        cascade=tuple(cascade),
        reviewers=reviewers,
        verifiers=verifiers,
        policy=model.policy,
        budget=model.budget,
        workspace=workspace,
        fanout=model.fanout,
        description=model.description,
    )
    found = book.check(src, declared=model.agents)
    if model.cascade is not None:
        problems.extend(found)
    else:
        problems.extend(p for p in found if not p.field.startswith("cascade"))
    if problems:
        raise PlaybookError(problems)
    return book


def _config(
    src: Located,
    section: str,
    name: str,
    raw: dict[str, Any],
    base: type[plugins.PluginConfig],
    problems: list[Problem],
) -> Any:
    path = (section, name)
    if not isinstance(raw, dict):
        problems.append(src.problem(path, "expected a mapping with a kind"))
        return None
    known = plugins.kinds(base.group)
    kind = raw.get("kind")
    if kind not in known:
        what = section.rstrip("s")
        expected = ", ".join(sorted(known))
        message = f"unknown {what} kind {kind!r} (expected one of: {expected})"
        if kind is None:
            message = f"required field is missing (one of: {expected})"
        problems.append(src.problem((*path, "kind"), message))
        return None
    config, found = validate(known[kind], src, raw, path)
    problems.extend(found)
    return config


def _build(
    src: Located,
    path: tuple[str, str],
    config: Any,
    name: str,
    ctx: BuildContext,
    problems: list[Problem],
) -> Any:
    if config is None:
        return None
    try:
        return config.build(name, ctx)
    except ValueError as exc:
        problems.append(src.problem(path, str(exc)))
        return None
