"""Metrics folded from hand-made event logs; every figure checked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from baton.core import events as ev
from baton.core.events import Event, chain
from baton.services.metrics import compute, percentile


class Log:
    """Builds interleaved logs with explicit times, in global order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.heads: dict[str, tuple[int, str]] = {}

    def add(self, log: str, at: float, kind: str, **data: Any) -> None:
        version, prev = self.heads.get(log, (0, ""))
        (event,) = chain(log, version, prev, at, [(kind, data)])
        self.heads[log] = (event.seq, event.hash)
        self.events.append(event)


def usage(seconds: float, tokens: int = 0, cost: float = 0.0) -> dict[str, Any]:
    return {"prompt_tokens": tokens, "completion_tokens": 0, "cost": cost, "seconds": seconds}


@pytest.fixture
def log() -> Log:
    log = Log()
    # a: accepted on the first attempt, 10 s
    log.add("a", 0, ev.ITEM_SUBMITTED, spec={})
    log.add("a", 1, ev.ATTEMPT_STARTED, attempt=1, agent="cheap")
    log.add("a", 3, ev.ATTEMPT_FINISHED, attempt=1, output={}, usage=usage(2, 100, 0.1))
    log.add("a", 4, ev.CHECK_RECORDED, attempt=1, verifier="schema", passed=True)
    log.add("a", 10, ev.ITEM_ACCEPTED, attempt=1, agent="cheap")
    # b: refined once (changes requested), then a human review waited 20 s; accepted at 40
    log.add("b", 0, ev.ITEM_SUBMITTED, spec={})
    log.add("b", 1, ev.ATTEMPT_STARTED, attempt=1, agent="cheap")
    log.add("b", 2, ev.ATTEMPT_FINISHED, attempt=1, output={}, usage=usage(1, 50, 0.05))
    log.add("b", 3, ev.CHECK_RECORDED, attempt=1, verifier="schema", passed=False)
    log.add("b", 4, ev.ATTEMPT_STARTED, attempt=2, agent="strong")
    log.add("b", 8, ev.ATTEMPT_FINISHED, attempt=2, output={}, usage=usage(4, 300, 0.3))
    log.add("b", 9, ev.CHECK_RECORDED, attempt=2, verifier="schema", passed=True)
    log.add("b", 10, ev.HUMAN_REQUESTED, wait="review", attempt=2, reviewer="lead")
    log.add("b", 30, ev.REVIEW_DECIDED, attempt=2, reviewer="lead", decision="approve")
    log.add("b", 40, ev.ITEM_ACCEPTED, attempt=2, agent="strong")
    # c: failed by rejection at 20; d: escalated at 5, still waiting; e: cancelled
    log.add("c", 0, ev.ITEM_SUBMITTED, spec={})
    log.add("c", 1, ev.ATTEMPT_STARTED, attempt=1, agent="cheap")
    log.add("c", 2, ev.ATTEMPT_FAILED, attempt=1, error="boom", usage=usage(1))
    log.add("c", 5, ev.REVIEW_DECIDED, attempt=1, reviewer="bot", decision="reject")
    log.add("c", 20, ev.ITEM_FAILED, reason="rejected")
    log.add("d", 0, ev.ITEM_SUBMITTED, spec={})
    log.add("d", 1, ev.ATTEMPT_STARTED, attempt=1, agent="cheap")
    log.add("d", 2, ev.ATTEMPT_ABANDONED, attempt=1)
    log.add("d", 5, ev.ITEM_ESCALATED, reason="budget")
    log.add("e", 0, ev.ITEM_SUBMITTED, spec={})
    log.add("e", 2, ev.ITEM_CANCELLED, by="me")
    log.add("fleet", 3, ev.AGENT_PAUSED, agent="cheap", by="me")
    return log


def test_figures(log: Log) -> None:
    m = compute(log.events, now=100.0)
    assert m.items == {
        "submitted": 5,
        "accepted": 2,
        "escalated": 1,
        "failed": 1,
        "cancelled": 1,
        "in_progress": 0,
    }
    assert m.window_seconds == 100.0
    assert m.throughput_per_hour == pytest.approx(2 * 36)
    assert m.cycle_p50 == pytest.approx(
        15.0, rel=0.01
    )  # (sketch: 1%) cycles 5, 10, 20, 40: halfway between 10 and 20
    assert m.cycle_p90 == pytest.approx(20 + 0.7 * 20, rel=0.01)
    assert m.first_pass_yield == pytest.approx(1 / 4)
    assert m.attempts_per_accepted == pytest.approx(1.5)
    assert (m.reviews, m.review_rejection_rate) == (2, 0.5)
    assert (m.checks, m.verification_pass_rate) == (3, pytest.approx(2 / 3))
    assert m.escalation_rate == pytest.approx(1 / 4)
    assert (m.human_waits, m.human_wait_total, m.human_waiting_now) == (1, 20.0, 1)
    assert (m.tokens, m.cost) == (450, pytest.approx(0.45))
    assert m.tokens_per_accepted == 225 and m.cost_per_accepted == pytest.approx(0.225)
    agents = {a.agent: a.to_dict() for a in m.agents}
    assert agents["cheap"]["attempts"] == 4 and agents["cheap"]["accepted"] == 1
    assert (agents["cheap"]["failed"], agents["cheap"]["abandoned"]) == (1, 1)
    assert agents["cheap"]["acceptance_rate"] == pytest.approx(1 / 3)
    assert agents["strong"]["accepted"] == 1 and agents["strong"]["first_pass_accepted"] == 0


def test_reopened_escalation_counts_the_wait_and_is_in_progress() -> None:
    log = Log()
    log.add("x", 0, ev.ITEM_SUBMITTED, spec={})
    log.add("x", 5, ev.ITEM_ESCALATED, reason="budget")
    log.add("x", 65, ev.ITEM_REOPENED, by="me", extra_attempts=1)
    m = compute(log.events)
    assert m.items["in_progress"] == 1 and m.items["escalated"] == 0
    assert (m.human_waits, m.human_wait_total) == (1, 60.0)


def test_nothing_gives_zeros_not_errors() -> None:
    m = compute([])
    assert m.items["submitted"] == 0
    assert m.first_pass_yield is None and m.cost_per_accepted is None and m.cycle_p50 is None
    assert m.to_dict()["agents"] == []


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([3.0], 90, 3.0),
        ([1.0, 2.0], 50, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0], 0, 1.0),
    ],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_every_duration_is_within_one_percent_of_its_buckets_value() -> None:
    import random

    from baton.core.tally import bucket_of, bucket_value

    rng = random.Random(3)
    for _ in range(5000):
        seconds = 10 ** rng.uniform(-3, 7)
        assert abs(bucket_value(bucket_of(seconds)) - seconds) <= 0.01 * seconds
    assert bucket_of(0.0002) == "z" and bucket_value("z") == 0.0


def test_quantiles_from_the_sketch_are_within_one_percent_of_exact() -> None:
    import random
    from collections import Counter

    from baton.core.tally import bucket_of
    from baton.services.metrics import quantile

    rng = random.Random(5)
    for n in (1, 2, 7, 100, 2000):
        values = [rng.lognormvariate(3, 2) for _ in range(n)]
        histogram = Counter(bucket_of(v) for v in values)
        for q in (0, 50, 90, 99, 100):
            exact = percentile(values, q)
            assert exact is not None
            assert quantile(histogram, q) == pytest.approx(exact, rel=0.01)
    assert quantile({}, 50) is None


def test_counters_merge_as_a_store_adds_them() -> None:
    from collections import Counter

    from baton.core.tally import merge

    into: Counter[str] = Counter({"all|n": 2, "all|first_at.min": 50, "all|last_at.max": 50})
    merge(into, {"all|n": 3, "all|first_at.min": 70, "all|last_at.max": 70, "all|new": 1})
    assert into == {"all|n": 5, "all|first_at.min": 50, "all|last_at.max": 70, "all|new": 1}


def test_the_series_is_per_hour_and_buckets_round_up_to_hours(log: Log) -> None:
    from baton.services.metrics import fold, series

    counters = fold(log.events)
    (only,) = series(counters, 60)  # every event is in the first hour of 1970
    start, figures = only
    assert start == 0 and figures.window_seconds == 3600
    assert figures.items["accepted"] == 2 and figures.items["submitted"] == 5
    assert [s for s, _ in series(counters, 7200)] == [0]
