"""baton's figures for a Prometheus scraper, through prometheus-client: counters (never
precomputed rates: the scraper's `rate()` makes those), histograms, gauges of what is
now, and the serving process's own metrics.

Every figure comes from the read model's counters (core/tally.py), read once per scrape:
the `flow` scope, whose outcomes are counted when they happen and never taken back, so
every counter only grows. Histogram buckets are the sketch's logarithmic ones gathered
under the fixed bounds below: a value within 1% of a bound may fall on either side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest

from ..core.tally import bucket_value
from ..core.vocabulary import Outcome

FLOW = "flow|"
SCRAPED = (FLOW, "agent=", "all|waiting_now")  # the counters a scrape reads, by prefix
BOUNDS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
"""Seconds: the `le` bounds of every histogram (a tenth of a second to a day)."""

_COUNTERS = (  # (metric, counter in the flow scope, help)
    ("items_submitted", "submitted", "Items submitted."),
    ("attempts", "attempts", "Attempts started."),
    ("first_pass_accepted", "first_pass", "Items accepted on their first attempt."),
    ("reviews", "reviews", "Review decisions."),
    ("review_rejections", "rejected", "Review decisions other than approve."),
    ("checks", "checks", "Checks recorded."),
    ("checks_passed", "passed", "Checks that passed."),
    ("tokens", "tokens", "Tokens spent (attempts, reviews, checks)."),
)


def exposition(counts: Mapping[str, int], counters: Mapping[str, int]) -> bytes:
    """The text exposition of one scrape: the store's items by status (`counts`), the
    read model's counters, and this process's CPU, memory and file descriptors."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(_Snapshot(counts, counters))
    return generate_latest(registry)


class _Snapshot:
    """A collector of figures read once, before the scrape."""

    def __init__(self, counts: Mapping[str, int], counters: Mapping[str, int]) -> None:
        self.counts, self.counters = counts, counters

    def collect(self) -> Iterable[Metric]:
        c = self.counters
        items = GaugeMetricFamily("baton_items", "Items in each status.", labels=["status"])
        for status, n in sorted(self.counts.items()):
            items.add_metric([status], n)
        yield items
        for name, key, help_ in _COUNTERS:
            yield CounterMetricFamily(f"baton_{name}", help_, value=c.get(FLOW + key, 0))
        yield CounterMetricFamily(
            "baton_cost", "Money spent.", value=c.get(FLOW + "cost_n", 0) / 1e9
        )
        finished = CounterMetricFamily(
            "baton_items_finished", "Items reaching an outcome.", labels=["outcome"]
        )
        for outcome in Outcome:
            finished.add_metric([outcome.value], c.get(f"{FLOW}out.{outcome.value}", 0))
        yield finished
        yield GaugeMetricFamily(
            "baton_human_waiting",
            "Items waiting for a person now.",
            value=max(0, c.get("all|waiting_now", 0)),
        )
        yield _histogram(
            "baton_cycle_time_seconds",
            "Submission to outcome (accepted, escalated, failed).",
            [((), _bins(c, FLOW + "cycle#"), c.get(FLOW + "cycle_ms", 0) / 1000)],
        )
        yield _histogram(
            "baton_human_wait_seconds",
            "Waits for a person (work, review, escalation), when answered.",
            [((), _bins(c, FLOW + "wait#"), c.get(FLOW + "wait_ms", 0) / 1000)],
        )
        agents = sorted({k.split("|", 1)[0][6:] for k in c if k.startswith("agent=")})
        for name, key, help_ in (
            ("agent_attempts", "attempts", "Attempts started, per agent."),
            ("agent_accepted", "accepted", "Items accepted, per agent."),
            ("agent_failed", "failed", "Attempts failed, per agent."),
            ("agent_tokens", "tokens", "Tokens spent by attempts, per agent."),
        ):
            family = CounterMetricFamily(f"baton_{name}", help_, labels=["agent"])
            for agent in agents:
                family.add_metric([agent], c.get(f"agent={agent}|{key}", 0))
            yield family
        yield _histogram(
            "baton_agent_attempt_seconds",
            "How long attempts took, per agent.",
            [
                (
                    (agent,),
                    _bins(c, f"agent={agent}|secs#"),
                    c.get(f"agent={agent}|secs_ms", 0) / 1000,
                )
                for agent in agents
            ],
            labels=["agent"],
        )


def _bins(counters: Mapping[str, int], prefix: str) -> list[int]:
    """The counts of a sketch's buckets under each of BOUNDS (and +Inf), not cumulative."""
    out = [0] * (len(BOUNDS) + 1)
    for key, n in counters.items():
        if key.startswith(prefix):
            value = bucket_value(key[len(prefix) :])
            out[next((i for i, b in enumerate(BOUNDS) if value <= b), len(BOUNDS))] += n
    return out


def _histogram(
    name: str,
    help_: str,
    rows: list[tuple[tuple[str, ...], list[int], float]],
    labels: list[str] | None = None,
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, help_, labels=labels or [])
    for values, bins, total in rows:
        running, buckets = 0, []
        for bound, n in zip((*map(str, BOUNDS), "+Inf"), bins, strict=True):
            running += n
            buckets.append((bound, running))
        family.add_metric(list(values), buckets, sum_value=total)
    return family
