"""Playbooks: how a kind of work is done, ready to run: built agents, reviewers and
verifiers, the policy and budget, and how the playbook resolves into one item's plan.
Loaded from YAML by config/loading.py, or built in Python from plugin objects."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.plan import Budget, CodePlan, FanoutPlan, Plan, ReviewerPlan, VerifierPlan
from ..core.vocabulary import Gate
from ..errors import PlaybookError, Problem
from .plugin import Agent, Reviewer, Verifier, When
from .sections import BudgetModel, FanoutModel, PolicyModel, WorkspaceModel
from .source import Located


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
