"""baton's figures in the Prometheus text exposition format."""

from __future__ import annotations

from ..services.metrics import Metrics


def exposition(counts: dict[str, int], m: Metrics) -> str:
    """Gauges and counters of the store's items, cycle times, rates, spend, per agent."""
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float | None]]) -> None:
        present = [(labels, v) for labels, v in samples if v is not None]
        if not present:
            return
        out.append(f"# HELP baton_{name} {help_}")
        out.append(f"# TYPE baton_{name} {kind}")
        out.extend(f"baton_{name}{labels} {_number(v)}" for labels, v in present)

    metric(
        "items",
        "gauge",
        "Items in each status.",
        [(f'{{status="{_label(s)}"}}', float(n)) for s, n in sorted(counts.items())],
    )
    metric(
        "cycle_time_seconds",
        "gauge",
        "Submission to outcome, of finished items.",
        [('{quantile="0.5"}', m.cycle_p50), ('{quantile="0.9"}', m.cycle_p90)],
    )
    metric(
        "throughput_per_hour", "gauge", "Accepted items per hour.", [("", m.throughput_per_hour)]
    )
    metric(
        "first_pass_yield",
        "gauge",
        "Accepted on the first attempt / finished.",
        [("", m.first_pass_yield)],
    )
    metric(
        "attempts_per_accepted",
        "gauge",
        "Attempts per accepted item.",
        [("", m.attempts_per_accepted)],
    )
    metric(
        "review_rejection_rate",
        "gauge",
        "Review decisions other than approve.",
        [("", m.review_rejection_rate)],
    )
    metric(
        "verification_pass_rate",
        "gauge",
        "Passed checks / checks.",
        [("", m.verification_pass_rate)],
    )
    metric("escalation_rate", "gauge", "Escalated / finished items.", [("", m.escalation_rate)])
    metric(
        "human_waiting",
        "gauge",
        "Items waiting for a person now.",
        [("", float(m.human_waiting_now))],
    )
    metric(
        "human_wait_seconds_total",
        "counter",
        "Time items waited for people.",
        [("", m.human_wait_total)],
    )
    metric(
        "tokens_total",
        "counter",
        "Tokens spent (attempts, reviews, checks).",
        [("", float(m.tokens))],
    )
    metric("cost_total", "counter", "Money spent.", [("", m.cost)])
    metric("cost_per_accepted", "gauge", "Cost per accepted item.", [("", m.cost_per_accepted)])
    agents = [(f'{{agent="{_label(a.agent)}"}}', a) for a in m.agents]
    metric(
        "agent_attempts_total",
        "counter",
        "Attempts per agent.",
        [(lb, float(a.attempts)) for lb, a in agents],
    )
    metric(
        "agent_accepted_total",
        "counter",
        "Accepted attempts per agent.",
        [(lb, float(a.accepted)) for lb, a in agents],
    )
    return "\n".join(out) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value))
