"""Every figure baton reports, read from the counters every commit keeps (core/tally.py):
a read costs the same at a thousand items as at a million. `compute` folds a list of
events into the same counters first (a run's own items, a test's hand-made log).

Definitions (in `all` and per playbook each item counts once, by its latest outcome):
- finished: items whose outcome is accepted, escalated or failed (cancelled is left out of
  the rates: nobody's work was judged).
- throughput: accepted items per hour between the first item's submission and `now` (or
  the last event).
- cycle time: item.submitted to its latest outcome event, for finished items.
- first-pass yield: accepted items that took exactly one attempt / finished items.
- attempts per accepted item: mean attempts started by accepted items.
- review rejection rate: decisions other than approve / all review decisions.
- verification pass rate: passed checks / all recorded checks.
- escalation rate: escalated items / finished items.
- human wait: from human.requested (work or review) or item.escalated to the event that
  answered it.
- tokens and cost: everything spent (attempts, reviews, checks), and per accepted item.
- per hour (`series`): what happened in each hour: items submitted and finished in it,
  their cycle times, what was spent and decided in it.

Quantiles (p50, p90) come from the counters' logarithmic histograms: linear
interpolation between closest ranks, as over the raw values, each value read as its
bucket's representative, so within 1% of the exact figure. Durations are kept in
milliseconds and money in billionths, so the figures are exact to those units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.events import Event
from ..core.state import ItemState
from ..core.tally import HOUR, Tally, bucket_value, tally
from ..core.vocabulary import RESERVED_LOGS, Outcome

IN_PROGRESS = "in_progress"  # the count of items without an outcome
ALL = "all|"


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def quantile(histogram: Mapping[str, int], q: float) -> float | None:
    """The q-th percentile (0..100) of the values a histogram counts (bucket -> count),
    as `percentile` finds it over the values, each read as its bucket's representative."""
    bins = sorted(((bucket_value(b), n) for b, n in histogram.items() if n > 0))
    total = sum(n for _, n in bins)
    if not total:
        return None
    rank = (total - 1) * q / 100
    low = math.floor(rank)
    return _nth(bins, low) + (_nth(bins, min(low + 1, total - 1)) - _nth(bins, low)) * (rank - low)


def _nth(bins: list[tuple[float, int]], index: int) -> float:
    seen = 0
    for value, n in bins:
        seen += n
        if index < seen:
            return value
    return bins[-1][0]


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _histogram(counters: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in counters.items() if k.startswith(prefix)}


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
    timed: int = 0  # attempts that said how long they took
    seconds_total: float = 0.0
    seconds_p90: float | None = None
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
            "seconds_mean": _ratio(self.seconds_total, self.timed),
            "seconds_p90": self.seconds_p90,
            "tokens": self.tokens,
            "cost": self.cost,
            "cost_per_accepted": _ratio(self.cost, self.accepted),
        }


def agent_scores(counters: Mapping[str, int]) -> list[AgentScore]:
    """Every agent's score, by name, from the `agent=<name>|` counters."""
    found: dict[str, dict[str, int]] = {}
    for key, value in counters.items():
        if key.startswith("agent="):
            scope, name = key.split("|", 1)
            found.setdefault(scope[len("agent=") :], {})[name] = value
    scores = []
    for agent, c in sorted(found.items()):
        scores.append(
            AgentScore(
                agent=agent,
                attempts=c.get("attempts", 0),
                finished=c.get("finished", 0),
                failed=c.get("failed", 0),
                abandoned=c.get("abandoned", 0),
                accepted=c.get("accepted", 0),
                first_pass_accepted=c.get("first_pass_accepted", 0),
                timed=c.get("secs", 0),
                seconds_total=c.get("secs_ms", 0) / 1000,
                seconds_p90=quantile(_histogram(c, "secs#"), 90),
                tokens=c.get("tokens", 0),
                cost=c.get("cost_n", 0) / 1e9,
            )
        )
    return scores


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


def figures(
    counters: Mapping[str, int],
    scope: str = ALL,
    now: float | None = None,
    window: float | None = None,
) -> Metrics:
    """Every figure of one scope of the counters (core/tally.py): `all|` by default, a
    playbook's `pb=<name>|`, an hour's `hour=<n>|`. The window runs from the first
    submission to `now` (else the last event), unless given."""
    c = {k[len(scope) :]: v for k, v in counters.items() if k.startswith(scope)}
    outcomes = {o.value: c.get(f"out.{o.value}", 0) for o in Outcome}
    submitted = c.get("submitted", 0)
    counts = {"submitted": submitted, **outcomes}
    counts[IN_PROGRESS] = max(0, submitted - sum(outcomes.values()))
    if window is None:
        first, last = c.get("first_at.min"), c.get("last_at.max")
        end = now if now is not None else (last / 1000 if last is not None else None)
        window = max(0.0, end - first / 1000) if first is not None and end is not None else 0.0
    accepted, judged = outcomes[Outcome.ACCEPTED.value], c.get("judged", 0)
    cycles, waits = _histogram(c, "cycle#"), _histogram(c, "wait#")
    tokens, cost = c.get("tokens", 0), c.get("cost_n", 0) / 1e9
    return Metrics(
        items=counts,
        window_seconds=window,
        throughput_per_hour=_ratio(accepted * HOUR, window),
        cycle_p50=quantile(cycles, 50),
        cycle_p90=quantile(cycles, 90),
        first_pass_yield=_ratio(c.get("first_pass", 0), judged),
        attempts_per_accepted=_ratio(c.get("attempts_accepted", 0), accepted),
        reviews=c.get("reviews", 0),
        review_rejection_rate=_ratio(c.get("rejected", 0), c.get("reviews", 0)),
        checks=c.get("checks", 0),
        verification_pass_rate=_ratio(c.get("passed", 0), c.get("checks", 0)),
        escalation_rate=_ratio(outcomes[Outcome.ESCALATED.value], judged),
        human_waits=c.get("waits", 0),
        human_wait_p50=quantile(waits, 50),
        human_wait_p90=quantile(waits, 90),
        human_wait_total=c.get("wait_ms", 0) / 1000,
        human_waiting_now=max(0, c.get("waiting_now", 0)),
        tokens=tokens,
        cost=cost,
        tokens_per_accepted=_ratio(tokens, accepted),
        cost_per_accepted=_ratio(cost, accepted),
        agents=agent_scores(counters) if scope == ALL else [],
    )


def series(counters: Mapping[str, int], bucket: float) -> list[tuple[float, Metrics]]:
    """The figures over time, in buckets of `bucket` seconds rounded up to whole hours
    (the counters keep hours): what happened in each (items submitted and finished in it,
    their cycle times, what was spent and decided). Buckets without events are left out."""
    hours = max(1, math.ceil(bucket / HOUR))
    buckets: dict[int, Tally] = {}
    for key, value in counters.items():
        if key.startswith("hour="):
            scope, name = key.split("|", 1)
            start = int(scope[len("hour=") :]) // hours * hours
            buckets.setdefault(start, Tally())["b|" + name] += value
    seconds = hours * HOUR
    return [
        (start * HOUR, figures(found, "b|", window=seconds))
        for start, found in sorted(buckets.items())
    ]


def fold(events: Iterable[Event]) -> Tally:
    """The counters of a list of events (any logs, each in order), as the store keeps
    them for the same events."""
    counters = Tally()
    states: dict[str, ItemState] = {}
    for e in events:
        if e.log in RESERVED_LOGS:
            continue
        state = states.get(e.log)
        if state is None:
            state = states[e.log] = ItemState(e.log)
        tally(state, e, counters)
    return counters


def compute(events: Iterable[Event], now: float | None = None) -> Metrics:
    """Every figure of a list of events (a run's own items, a hand-made log)."""
    return figures(fold(events), now=now)
