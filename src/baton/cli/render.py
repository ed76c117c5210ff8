"""Turning events, items and metrics into text for the terminal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..core import events as ev
from ..core.bounds import visible
from ..core.events import Event
from ..core.index import ItemSummary

if TYPE_CHECKING:
    from ..services.metrics import Metrics

STATUS_STYLE = {
    "queued": "bright_cyan",
    "scoping": "cyan",
    "running": "blue",
    "reviewing": "magenta",
    "verifying": "yellow",
    "refining": "dark_orange",
    "waiting_human": "bold bright_magenta",
    "accepted": "green",
    "escalated": "bold red",
    "failed": "red",
    "cancelled": "dim",
}


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def ago(at: float, now: float | None = None) -> str:
    seconds = max(0.0, (now or time.time()) - at)
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def one_line(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: Event) -> str:
    """One line saying what an event means."""
    d = visible(event.data)
    n = d.get("attempt")
    match event.kind:
        case ev.ITEM_SUBMITTED:
            return f"submitted: {one_line(d['spec'].get('objective', ''), 60)}"
        case ev.ITEM_SCOPED:
            plan = d["plan"]
            cascade = " > ".join(plan["cascade"])
            return f"scoped: cascade {cascade}, {plan['budget']['attempts']} attempts"
        case ev.ATTEMPT_STARTED:
            return f"attempt {n} started on {d['agent']}"
        case ev.ATTEMPT_FINISHED:
            seconds = (d.get("usage") or {}).get("seconds") or 0
            change = d["output"].get("change")
            if change:
                files = len(change.get("files", []))
                text = f"{files} file(s) +{change.get('added', 0)} -{change.get('removed', 0)}"
            else:
                text = one_line(d["output"].get("text", ""), 50)
            return f"attempt {n} finished in {seconds:.2f}s: {text}"
        case ev.ATTEMPT_FAILED:
            return f"attempt {n} failed: {one_line(d['error'], 70)}"
        case ev.ATTEMPT_ABANDONED:
            return f"attempt {n} abandoned: {d.get('reason', '')}"
        case ev.LEASE_TAKEN_OVER:
            return f"taken over from engine {d.get('from')} by {d.get('by')} ({d.get('why')})"
        case ev.REVIEW_DECIDED:
            comments = f": {one_line(d['comments'], 50)}" if d.get("comments") else ""
            return f"review by {d['reviewer']} ({d.get('by', '')}): {d['decision']}{comments}"
        case ev.REVIEW_FAILED:
            return f"reviewer {d['reviewer']} could not decide: {one_line(d['error'], 60)}"
        case ev.CHECK_RECORDED:
            verdict = "passed" if d["passed"] else "FAILED"
            return f"check {d['verifier']} {verdict} ({d.get('seconds', 0):.2f}s)"
        case ev.FEEDBACK_CREATED:
            on = (
                f"the round of attempts {', '.join(map(str, d['attempts']))}"
                if d.get("attempts")
                else f"attempt {n}"
            )
            return f"feedback on {on}: {len(d['feedback'])} point(s)"
        case ev.HUMAN_REQUESTED:
            what = {"work": "the work", "review": f"review ({d.get('reviewer')})"}.get(
                d["wait"], d["wait"]
            )
            return f"waiting for a person: {what}"
        case ev.ITEM_ACCEPTED:
            return f"ACCEPTED (attempt {n} by {d['agent']})"
        case ev.ITEM_ESCALATED:
            return f"ESCALATED: {d['reason']}"
        case ev.ITEM_REOPENED:
            return f"reopened by {d['by']} with {d.get('extra_attempts', 1)} more attempt(s)"
        case ev.ITEM_FAILED:
            return f"FAILED: {one_line(d['reason'], 70)}"
        case ev.ITEM_CANCELLED:
            return f"cancelled by {d.get('by', '?')}"
        case ev.CHANGE_APPLIED:
            return f"change of attempt {n} applied: {d.get('how')} {d.get('target', '')}"
        case ev.CHANGE_APPLY_FAILED:
            return f"change of attempt {n} not applied ({d.get('how')}): {one_line(d['error'], 60)}"
        case ev.AGENT_PAUSED:
            return f"agent {d['agent']} paused by {d['by']}"
        case ev.AGENT_RESUMED:
            return f"agent {d['agent']} resumed by {d['by']}"
    return event.kind


def event_line(event: Event) -> str:
    return f"{clock(event.at)} {event.log} #{event.seq} {describe(event)}"


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def items_table(rows: Iterable[ItemSummary], title: str = "") -> Table:
    table = Table(title=title or None, show_lines=False)
    for column in ("item", "status", "attempts", "waiting", "updated", "objective"):
        table.add_column(column, overflow="fold" if column == "item" else "ellipsis")
    now = time.time()
    for row in rows:
        table.add_row(
            row.item_id,
            status_text(row.status),
            str(row.attempts),
            row.waiting or "",
            ago(row.updated_at, now),
            one_line(row.objective, 60),
        )
    return table


def _block(title: str, body: str, lexer: str | None = None) -> RenderableType:
    if lexer:
        from rich.syntax import Syntax  # pygments: only when an output is shown

        return Panel(Syntax(body, lexer, word_wrap=True), title=title, title_align="left")
    return Panel(Text(body), title=title, title_align="left")


def _as_text(value: Any) -> tuple[str, str | None]:
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False), "json"
    return str(value), None


def timeline(events: list[Event]) -> RenderableType:
    """An item's whole story: each attempt's input and output, checks, reviews, feedback."""
    parts: list[RenderableType] = []
    for event in events:
        d = visible(event.data)  # what went to the blob store: its preview, and how to see it
        head = Text(f"{clock(event.at)} #{event.seq} ", style="dim")
        head.append(describe(event), style=_style(event))
        parts.append(head)
        if event.kind == ev.ITEM_SUBMITTED:
            spec = d["spec"]
            parts.append(_block("objective", spec.get("objective", "")))
            if spec.get("inputs"):
                parts.append(_block("inputs", *_as_text(spec["inputs"])))
        elif event.kind == ev.ATTEMPT_STARTED:
            task = d.get("task", {})
            parts.append(Text(f"  given: {_given(task)}", style="dim"))
            if task.get("feedback"):
                parts.append(
                    _block(f"feedback given to attempt {d['attempt']}", *_as_text(task["feedback"]))
                )
        elif event.kind == ev.ATTEMPT_FINISHED:
            out = d["output"]
            body, lexer = _as_text(out["data"]) if "data" in out else _as_text(out.get("text", ""))
            if body.strip() or not out.get("change"):
                parts.append(_block(f"output of attempt {d['attempt']}", body, lexer))
            if out.get("change"):
                parts.extend(change_parts(out["change"], f"change of attempt {d['attempt']}"))
            usage = d.get("usage") or {}
            parts.append(Text(f"  usage: {_usage(usage)}", style="dim"))
        elif event.kind in (ev.ATTEMPT_FAILED, ev.REVIEW_FAILED):
            parts.append(_block("error", d["error"]))
            if d.get("change"):
                parts.extend(change_parts(d["change"], f"what attempt {d['attempt']} changed"))
        elif event.kind in (ev.CHANGE_APPLIED, ev.CHANGE_APPLY_FAILED):
            parts.append(Text(f"  {d.get('message') or d.get('error', '')}", style="dim"))
        elif event.kind == ev.CHECK_RECORDED and d.get("evidence"):
            parts.append(_block(f"evidence from {d['verifier']}", d["evidence"]))
        elif event.kind == ev.REVIEW_DECIDED and d.get("comments"):
            parts.append(_block(f"comments from {d['reviewer']}", d["comments"]))
        elif event.kind == ev.FEEDBACK_CREATED:
            for entry in d["feedback"]:
                parts.append(Text(f"  - {entry['source']}: {one_line(entry['message'], 120)}"))
        elif event.kind == ev.HUMAN_REQUESTED and d.get("prompt"):
            parts.append(Text(f"  {d['prompt']}", style="bright_magenta"))
    return Group(*parts)


def change_parts(change: dict[str, Any], title: str) -> list[RenderableType]:
    """A code change: its files with line counts, then the diff in colour."""
    files = change.get("files", [])
    stat = Text(
        f"  {len(files)} file(s), +{change.get('added', 0)} -{change.get('removed', 0)} "
        f"on {change.get('branch', '?')} (base {str(change.get('base', ''))[:12]})",
        style="dim",
    )
    parts: list[RenderableType] = [stat]
    for f in files:
        parts.append(Text(f"    {f['path']}  +{f['added']} -{f['removed']}", style="dim"))
    if change.get("diff"):
        parts.append(_block(title, change["diff"].rstrip("\n"), "diff"))
    return parts


def _given(task: dict[str, Any]) -> str:
    """What an attempt was handed besides the objective: checks, feedback, budget left."""
    checks = ", ".join(str(name) for name in task.get("acceptance", [])) or "none"
    budget = task.get("budget") or {}
    left = [f"{budget.get('attempts')} attempt(s)"]
    if budget.get("seconds") is not None:
        left.append(f"{budget['seconds']:.0f}s")
    if budget.get("tokens") is not None:
        left.append(f"{budget['tokens']} tokens")
    if budget.get("cost") is not None:
        left.append(f"{budget['cost']:.4f} cost")
    feedback = len(task.get("feedback", []))
    workdir = f", in {task['workdir']}" if task.get("workdir") else ""
    return f"checks {checks}; {feedback} feedback point(s); budget left {', '.join(left)}{workdir}"


def _usage(usage: dict[str, Any]) -> str:
    bits = [f"{usage.get('seconds', 0):.2f}s"]
    tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    if tokens:
        bits.append(f"{tokens} tokens")
    if usage.get("cost"):
        bits.append(f"${usage['cost']:.4f}")
    return ", ".join(bits)


def _style(event: Event) -> str:
    if event.kind == ev.ITEM_ACCEPTED or (event.kind == ev.CHECK_RECORDED and event.data["passed"]):
        return "green"
    if event.kind in (ev.ITEM_FAILED, ev.ITEM_ESCALATED, ev.ATTEMPT_FAILED, ev.REVIEW_FAILED):
        return "red"
    if event.kind == ev.CHECK_RECORDED:
        return "red"
    if event.kind == ev.HUMAN_REQUESTED:
        return "bright_magenta"
    return ""


# --- the figures -------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


MIN_RATE_WINDOW = 60.0  # seconds: a shorter run says what it did, not a rate per hour


def _throughput(m: Metrics) -> str:
    if m.window_seconds < MIN_RATE_WINDOW:
        accepted = m.items.get("accepted", 0)
        return f"{accepted} accepted in {m.window_seconds:.1f}s (too short a run for a rate)"
    return f"{_num(m.throughput_per_hour, 1)} accepted/hour"


def headline(m: Metrics) -> list[tuple[str, str]]:
    """The figures as (label, value) rows for a terminal."""
    return [
        ("items", ", ".join(f"{k} {v}" for k, v in m.items.items() if v)),
        ("throughput", _throughput(m)),
        ("cycle time p50 / p90", f"{_secs(m.cycle_p50)} / {_secs(m.cycle_p90)}"),
        ("first-pass yield", _pct(m.first_pass_yield)),
        ("attempts per accepted item", _num(m.attempts_per_accepted)),
        ("review rejection rate", f"{_pct(m.review_rejection_rate)} of {m.reviews}"),
        ("verification pass rate", f"{_pct(m.verification_pass_rate)} of {m.checks}"),
        ("escalation rate", _pct(m.escalation_rate)),
        (
            "human wait p50 / p90 / total",
            f"{_secs(m.human_wait_p50)} / {_secs(m.human_wait_p90)} / "
            f"{m.human_wait_total:.1f}s ({m.human_waiting_now} waiting now)",
        ),
        (
            "tokens / cost per accepted item",
            f"{_num(m.tokens_per_accepted, 0)} / {_num(m.cost_per_accepted, 4)}",
        ),
    ]


def agent_table(m: Metrics) -> Table:
    table = Table(title="agents")
    for column in (
        "agent",
        "attempts",
        "accepted",
        "first pass",
        "failed",
        "abandoned",
        "acceptance",
        "mean s",
        "tokens",
        "cost",
    ):
        table.add_column(column)
    for score in m.agents:
        s = score.to_dict()
        table.add_row(
            score.agent,
            str(score.attempts),
            str(score.accepted),
            str(score.first_pass_accepted),
            str(score.failed),
            str(score.abandoned),
            _pct(s["acceptance_rate"]),
            _secs(s["seconds_mean"]),
            str(score.tokens),
            f"{score.cost:.4f}",
        )
    return table


def waiting_hint(item: str, wait: str) -> str:
    """What a person types next for an item that waits for them."""
    if wait == "work":
        return f"waits for a person to do the work: baton submit-result {item} FILE"
    if wait == "escalation":
        return (
            f"escalated to a person: baton request-changes {item} -m '...'"
            f"  or  baton reject {item} -m '...'"
        )
    return (
        f"waits for a review: baton approve {item}"
        f"  |  request-changes {item} -m '...'  |  reject {item} -m '...'"
    )
