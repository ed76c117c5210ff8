"""Every figure baton reports, folded from the event log in one pass.

Definitions (each item counts once, by its latest outcome):
- finished: items whose outcome is accepted, escalated or failed (cancelled is left out of
  the rates: nobody's work was judged).
- throughput: accepted items per hour between the first and the last event (or `now`).
- cycle time: item.submitted to its latest outcome event, for finished items; p50/p90
  by linear interpolation between closest ranks.
- first-pass yield: accepted items that took exactly one attempt / finished items.
- attempts per accepted item: mean attempts started by accepted items.
- review rejection rate: decisions other than approve / all review decisions.
- verification pass rate: passed checks / all recorded checks.
- escalation rate: escalated items / finished items.
- human wait: from human.requested (work or review) to the event that answered it, and
  from item.escalated to the person's reopen / reject / cancel.
- tokens and cost: everything spent (attempts, reviews, checks), and per accepted item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core import events as ev
from ..core.events import Event
from ..core.vocabulary import RESERVED_LOGS, Decision, Outcome


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class AgentScore:
    """One agent's record: its attempts and what became of them."""

    agent: str
    attempts: int = 0
    finished: int = 0
    failed: int = 0
    abandoned: int = 0
    accepted: int = 0
    first_pass_accepted: int = 0
    seconds: list[float] = field(default_factory=list)
    tokens: int = 0
    cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "attempts": self.attempts,
            "finished": self.finished,
            "failed": self.failed,
            "abandoned": self.abandoned,
            "accepted": self.accepted,
            "first_pass_accepted": self.first_pass_accepted,
            "acceptance_rate": _ratio(self.accepted, self.finished + self.failed),
            "seconds_mean": _ratio(sum(self.seconds), len(self.seconds)),
            "seconds_p90": percentile(self.seconds, 90),
            "tokens": self.tokens,
            "cost": self.cost,
            "cost_per_accepted": _ratio(self.cost, self.accepted),
        }


@dataclass
class _Item:
    submitted: float
    outcome: Outcome | None = None
    ended: float | None = None
    attempts: int = 0
    agents: dict[int, str] = field(default_factory=dict)
    waits: dict[str, float] = field(default_factory=dict)


@dataclass
class Metrics:
    items: dict[str, int]
    window_seconds: float
    throughput_per_hour: float | None
    cycle_p50: float | None
    cycle_p90: float | None
    first_pass_yield: float | None
    attempts_per_accepted: float | None
    reviews: int
    review_rejection_rate: float | None
    checks: int
    verification_pass_rate: float | None
    escalation_rate: float | None
    human_waits: int
    human_wait_p50: float | None
    human_wait_p90: float | None
    human_wait_total: float
    human_waiting_now: int
    tokens: int
    cost: float
    tokens_per_accepted: float | None
    cost_per_accepted: float | None
    agents: list[AgentScore]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["agents"] = [a.to_dict() for a in self.agents]
        return out


def compute(events: Iterable[Event], now: float | None = None) -> Metrics:
    """Fold events (any logs, in position order) into every figure."""
    items: dict[str, _Item] = {}
    scores: dict[str, AgentScore] = {}
    first = last = None
    reviews = rejected = checks = passed = 0
    tokens = 0
    cost = 0.0
    waits: list[float] = []

    def spend(usage: dict[str, Any] | None, score: AgentScore | None = None) -> None:
        nonlocal tokens, cost
        if not usage:
            return
        t = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        c = float(usage.get("cost", 0.0))
        tokens += t
        cost += c
        if score is not None:
            score.tokens += t
            score.cost += c

    for e in events:
        if e.log in RESERVED_LOGS:
            continue
        first = e.at if first is None else first
        last = e.at
        d = e.data
        if e.kind == ev.ITEM_SUBMITTED:
            items[e.log] = _Item(e.at)
            continue
        item = items.get(e.log)
        if item is None:
            continue
        match e.kind:
            case ev.ATTEMPT_STARTED:
                item.attempts += 1
                item.agents[d["attempt"]] = d["agent"]
                scores.setdefault(d["agent"], AgentScore(d["agent"])).attempts += 1
            case ev.ATTEMPT_FINISHED | ev.ATTEMPT_FAILED | ev.ATTEMPT_ABANDONED:
                score = scores.setdefault(item.agents.get(d["attempt"], "?"), AgentScore("?"))
                if e.kind == ev.ATTEMPT_FINISHED:
                    score.finished += 1
                elif e.kind == ev.ATTEMPT_FAILED:
                    score.failed += 1
                else:
                    score.abandoned += 1
                usage = d.get("usage") or {}
                if e.kind != ev.ATTEMPT_ABANDONED and usage.get("seconds") is not None:
                    score.seconds.append(float(usage["seconds"]))
                spend(usage, score)
                if "work" in item.waits and e.kind != ev.ATTEMPT_ABANDONED:
                    waits.append(e.at - item.waits.pop("work"))
            case ev.REVIEW_DECIDED:
                reviews += 1
                rejected += d["decision"] != Decision.APPROVE
                spend(d.get("usage"))
                if "review" in item.waits:
                    waits.append(e.at - item.waits.pop("review"))
            case ev.REVIEW_FAILED:
                spend(d.get("usage"))
            case ev.CHECK_RECORDED:
                checks += 1
                passed += bool(d["passed"])
                spend(d.get("usage"))
            case ev.HUMAN_REQUESTED:
                item.waits[d["wait"]] = e.at
            case ev.ITEM_ACCEPTED | ev.ITEM_ESCALATED | ev.ITEM_FAILED | ev.ITEM_CANCELLED:
                item.outcome = _OUTCOME_OF[e.kind]
                item.ended = e.at
                if e.kind == ev.ITEM_ESCALATED:
                    item.waits["escalation"] = e.at
                else:
                    for since in item.waits.values():
                        waits.append(e.at - since)
                    item.waits.clear()
                if e.kind == ev.ITEM_ACCEPTED:
                    score = scores.setdefault(d["agent"], AgentScore(d["agent"]))
                    score.accepted += 1
                    score.first_pass_accepted += item.attempts == 1
            case ev.ITEM_REOPENED:
                if "escalation" in item.waits:
                    waits.append(e.at - item.waits.pop("escalation"))
                item.outcome = None
                item.ended = None

    counts = {"submitted": len(items), **{o.value: 0 for o in Outcome}, IN_PROGRESS: 0}
    for item in items.values():
        counts[item.outcome.value if item.outcome else IN_PROGRESS] += 1
    finished = [i for i in items.values() if i.outcome in _JUDGED]
    accepted = [i for i in items.values() if i.outcome is Outcome.ACCEPTED]
    end = now if now is not None else last
    window = (end - first) if first is not None and end is not None else 0.0
    open_waits = sum(len(i.waits) for i in items.values())
    return Metrics(
        items=counts,
        window_seconds=window,
        throughput_per_hour=_ratio(len(accepted) * 3600, window),
        cycle_p50=percentile([i.ended - i.submitted for i in finished if i.ended], 50),
        cycle_p90=percentile([i.ended - i.submitted for i in finished if i.ended], 90),
        first_pass_yield=_ratio(sum(1 for i in accepted if i.attempts == 1), len(finished)),
        attempts_per_accepted=_ratio(sum(i.attempts for i in accepted), len(accepted)),
        reviews=reviews,
        review_rejection_rate=_ratio(rejected, reviews),
        checks=checks,
        verification_pass_rate=_ratio(passed, checks),
        escalation_rate=_ratio(counts[Outcome.ESCALATED], len(finished)),
        human_waits=len(waits),
        human_wait_p50=percentile(waits, 50),
        human_wait_p90=percentile(waits, 90),
        human_wait_total=sum(waits),
        human_waiting_now=open_waits,
        tokens=tokens,
        cost=cost,
        tokens_per_accepted=_ratio(tokens, len(accepted)),
        cost_per_accepted=_ratio(cost, len(accepted)),
        agents=sorted(scores.values(), key=lambda s: s.agent),
    )


def series(events: Iterable[Event], bucket: float) -> list[tuple[float, Metrics]]:
    """The figures over time: items grouped by when they reached their latest outcome, in
    buckets of `bucket` seconds, each bucket's items measured as `compute` measures them
    (so every definition above holds per bucket). Buckets without outcomes are left out."""
    logs: dict[str, list[Event]] = {}
    for e in events:
        if e.log not in RESERVED_LOGS:
            logs.setdefault(e.log, []).append(e)
    buckets: dict[float, list[Event]] = {}
    for log in logs.values():
        ended = [e.at for e in log if e.kind in _OUTCOMES]
        if not ended:
            continue
        start = ended[-1] - ended[-1] % bucket
        buckets.setdefault(start, []).extend(log)
    return [
        (start, compute(sorted(found, key=lambda e: e.position), now=start + bucket))
        for start, found in sorted(buckets.items())
    ]


_OUTCOME_OF = {
    ev.ITEM_ACCEPTED: Outcome.ACCEPTED,
    ev.ITEM_ESCALATED: Outcome.ESCALATED,
    ev.ITEM_FAILED: Outcome.FAILED,
    ev.ITEM_CANCELLED: Outcome.CANCELLED,
}
_OUTCOMES = frozenset(_OUTCOME_OF)
_JUDGED = frozenset({Outcome.ACCEPTED, Outcome.ESCALATED, Outcome.FAILED})  # cancelled: not judged
IN_PROGRESS = "in_progress"  # the count of items without an outcome
