"""The plan: a playbook resolved for one item, recorded when the item is scoped.

Recording it in the item's own log makes the loop's decisions a function of the log
alone: a later edit to the playbook file never changes how an in-flight item is governed,
and any process (a CLI approval, a resumed engine) decides the same next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .vocabulary import Gate

OnReject = Literal["fail", "refine", "escalate"]
OnExhausted = Literal["escalate", "fail"]


@dataclass(frozen=True, slots=True)
class Budget:
    """Hard limits on an item. None means no limit on that dimension."""

    attempts: int = 3
    wall_seconds: float | None = None
    tokens: int | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class ReviewerPlan:
    name: str
    kind: str  # agent | human | policy (or a plugin's kind)


@dataclass(frozen=True, slots=True)
class VerifierPlan:
    name: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class CodePlan:
    """An item's code work as recorded when it is scoped: the base is a commit, not a name."""

    repo: str
    base: str  # the ref the user named
    commit: str  # what it pointed to when the item was scoped
    paths: tuple[str, ...] = ()
    max_diff_lines: int = 5000
    max_diff_bytes: int = 1_000_000
    allow_empty: bool = False
    keep: bool = False
    on_accept: str = "none"  # none | branch | apply

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "base": self.base,
            "commit": self.commit,
            "paths": list(self.paths),
            "max_diff_lines": self.max_diff_lines,
            "max_diff_bytes": self.max_diff_bytes,
            "allow_empty": self.allow_empty,
            "keep": self.keep,
            "on_accept": self.on_accept,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CodePlan:
        return cls(**{**raw, "paths": tuple(raw.get("paths", ()))})


@dataclass(frozen=True, slots=True)
class FanoutPlan:
    """Best-of-N: each round starts attempts on these agents at once (samples each)."""

    agents: tuple[str, ...]
    samples: int = 1
    pick: str = "first"  # first: the first to pass every gate wins | ranked: see loop.py

    @property
    def round(self) -> tuple[str, ...]:
        """The agents of one round, one entry per attempt."""
        return tuple(agent for agent in self.agents for _ in range(self.samples))


@dataclass(frozen=True, slots=True)
class Plan:
    """What governs one item: gates and their order, reviewers, verifiers, cascade, budget."""

    cascade: tuple[str, ...]
    order: tuple[Gate, ...] = (Gate.REVIEW, Gate.VERIFY)
    reviewers: tuple[ReviewerPlan, ...] = ()
    verifiers: tuple[VerifierPlan, ...] = ()
    budget: Budget = field(default_factory=Budget)
    on_reject: OnReject = "fail"
    on_exhausted: OnExhausted = "escalate"
    review_retries: int = 1
    code: CodePlan | None = None  # code work: a repository, its base commit, the limits
    fanout: FanoutPlan | None = None  # best-of-N rounds instead of one attempt at a time

    def to_dict(self) -> dict[str, Any]:
        b = self.budget
        code = {} if self.code is None else {"code": self.code.to_dict()}
        if self.fanout is not None:
            f = self.fanout
            code["fanout"] = {"agents": list(f.agents), "samples": f.samples, "pick": f.pick}
        return {
            **code,
            "cascade": list(self.cascade),
            "order": [g.value for g in self.order],
            "reviewers": [{"name": r.name, "kind": r.kind} for r in self.reviewers],
            "verifiers": [{"name": v.name, "required": v.required} for v in self.verifiers],
            "budget": {
                "attempts": b.attempts,
                "wall_seconds": b.wall_seconds,
                "tokens": b.tokens,
                "cost": b.cost,
            },
            "on_reject": self.on_reject,
            "on_exhausted": self.on_exhausted,
            "review_retries": self.review_retries,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        """The plan a recorded dict describes; equal dicts share one (immutable) Plan, since
        every item of a playbook usually has the same plan and folding parses it each time."""
        key = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
        plan = _PARSED.get(key)
        if plan is None:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            plan = _PARSED[key] = cls._parse(raw)
        return plan

    @classmethod
    def _parse(cls, raw: dict[str, Any]) -> Plan:
        return cls(
            cascade=tuple(raw["cascade"]),
            order=tuple(Gate(g) for g in raw["order"]),
            reviewers=tuple(ReviewerPlan(**r) for r in raw["reviewers"]),
            verifiers=tuple(VerifierPlan(**v) for v in raw["verifiers"]),
            budget=Budget(**raw["budget"]),
            on_reject=raw["on_reject"],
            on_exhausted=raw["on_exhausted"],
            review_retries=raw["review_retries"],
            code=CodePlan.from_dict(raw["code"]) if raw.get("code") else None,
            fanout=_fanout(raw["fanout"]) if raw.get("fanout") else None,
        )


def _fanout(raw: dict[str, Any]) -> FanoutPlan:
    return FanoutPlan(tuple(raw["agents"]), raw.get("samples", 1), raw.get("pick", "first"))


_PARSED: dict[bytes, Plan] = {}
_PARSED_MAX = 1024
