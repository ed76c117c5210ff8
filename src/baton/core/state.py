"""An item's state: its events folded, one `apply` per event kind."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from .events import Event
from .plan import Plan
from .vocabulary import HumanWait, Outcome


@dataclass(slots=True)
class AttemptState:
    n: int
    agent: str
    started_at: float
    task: dict[str, Any] = field(default_factory=dict)
    finished_at: float | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    abandoned: bool = False
    usage: dict[str, Any] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    review_failures: dict[str, list[str]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    feedback: list[dict[str, Any]] | None = None
    by: str | None = None
    round: int = 0  # attempts started together (best-of-N) share a round; else its own
    engine: str | None = None  # the engine (lease owner) that started it; None before 0.2

    @property
    def in_flight(self) -> bool:
        return self.finished_at is None and self.error is None and not self.abandoned

    @property
    def closed(self) -> bool:
        """No gate will look at this attempt again."""
        return self.feedback is not None or self.abandoned


@dataclass(slots=True)
class ItemState:
    item_id: str
    version: int = 0
    last_hash: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    queue: str = ""
    playbook: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = None
    outcome: Outcome | None = None
    reason: str = ""
    attempts: list[AttemptState] = field(default_factory=list)
    waiting: dict[str, Any] | None = None
    extra_attempts: int = 0
    extra_tokens: int = 0
    extra_cost: float = 0.0
    tokens: int = 0
    cost: float = 0.0
    submitted_at: float = 0.0
    window_start: float = 0.0
    finished_at: float | None = None
    accepted_attempt: int | None = None
    reopen_comments: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)  # what became of the change
    archived: dict[str, Any] | None = None  # the marker's data, once its events moved out

    @property
    def current(self) -> AttemptState | None:
        return self.attempts[-1] if self.attempts else None

    def attempt(self, n: int) -> AttemptState:
        return self.attempts[n - 1]

    def apply(self, event: Event) -> None:
        """Fold one event in; the log's order is the only order."""
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)
        self.version = event.seq
        self.last_hash = event.hash


def fold(item_id: str, events: Iterable[Event]) -> ItemState:
    state = ItemState(item_id)
    for event in events:
        state.apply(event)
    return state


def _add_usage(state: ItemState, usage: dict[str, Any] | None) -> None:
    if usage:
        state.tokens += int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        state.cost += float(usage.get("cost", 0.0))


def _submitted(s: ItemState, e: Event) -> None:
    s.spec = e.data["spec"]
    s.queue = e.data.get("queue", "")
    s.playbook = e.data.get("playbook", {})
    s.submitted_at = e.at
    s.window_start = e.at


def _scoped(s: ItemState, e: Event) -> None:
    s.plan = Plan.from_dict(e.data["plan"])
    s.window_start = e.at


def _attempt_started(s: ItemState, e: Event) -> None:
    d = e.data
    attempt = AttemptState(d["attempt"], d["agent"], e.at, task=d.get("task", {}))
    attempt.round = d.get("round", d["attempt"])
    attempt.engine = d.get("engine")
    s.attempts.append(attempt)


def _attempt_finished(s: ItemState, e: Event) -> None:
    a = s.attempt(e.data["attempt"])
    a.finished_at = e.at
    a.output = e.data.get("output") or {}
    a.usage = e.data.get("usage") or {}
    a.by = e.data.get("by")
    _add_usage(s, a.usage)
    if s.waiting and s.waiting.get("wait") == HumanWait.WORK:
        s.waiting = None


def _attempt_failed(s: ItemState, e: Event) -> None:
    a = s.attempt(e.data["attempt"])
    a.finished_at = e.at
    a.error = e.data.get("error") or "the agent failed"
    a.usage = e.data.get("usage") or {}
    _add_usage(s, a.usage)
    if s.waiting and s.waiting.get("wait") == HumanWait.WORK:
        s.waiting = None


def _attempt_abandoned(s: ItemState, e: Event) -> None:
    s.attempt(e.data["attempt"]).abandoned = True


def _review_decided(s: ItemState, e: Event) -> None:
    s.attempt(e.data["attempt"]).reviews[e.data["reviewer"]] = dict(e.data, at=e.at)
    _add_usage(s, e.data.get("usage"))
    if s.waiting and s.waiting.get("wait") == HumanWait.REVIEW:
        s.waiting = None


def _review_failed(s: ItemState, e: Event) -> None:
    failures = s.attempt(e.data["attempt"]).review_failures
    failures.setdefault(e.data["reviewer"], []).append(e.data.get("error", ""))
    _add_usage(s, e.data.get("usage"))


def _check_recorded(s: ItemState, e: Event) -> None:
    s.attempt(e.data["attempt"]).checks[e.data["verifier"]] = dict(e.data, at=e.at)
    _add_usage(s, e.data.get("usage"))


def _feedback_created(s: ItemState, e: Event) -> None:
    # a best-of-N round's feedback closes every attempt of the round
    for n in e.data.get("attempts") or (e.data["attempt"],):
        s.attempt(n).feedback = e.data["feedback"]


def _human_requested(s: ItemState, e: Event) -> None:
    s.waiting = dict(e.data, since=e.at)


def _accepted(s: ItemState, e: Event) -> None:
    s.outcome = Outcome.ACCEPTED
    s.accepted_attempt = e.data["attempt"]
    s.finished_at = e.at


def _escalated(s: ItemState, e: Event) -> None:
    s.outcome = Outcome.ESCALATED
    s.reason = e.data.get("reason", "")
    s.finished_at = e.at
    s.waiting = {"wait": HumanWait.ESCALATION.value, "reason": s.reason, "since": e.at}


def _reopened(s: ItemState, e: Event) -> None:
    s.outcome = None
    s.reason = ""
    s.finished_at = None
    s.waiting = None
    s.extra_attempts += int(e.data.get("extra_attempts", 1))
    s.extra_tokens += int(e.data.get("extra_tokens", 0))
    s.extra_cost += float(e.data.get("extra_cost", 0.0))
    s.window_start = e.at
    if e.data.get("comments"):
        s.reopen_comments.append(e.data["comments"])


def _failed(s: ItemState, e: Event) -> None:
    s.outcome = Outcome.FAILED
    s.reason = e.data.get("reason", "")
    s.finished_at = e.at
    s.waiting = None


def _cancelled(s: ItemState, e: Event) -> None:
    s.outcome = Outcome.CANCELLED
    s.reason = e.data.get("reason", "")
    s.finished_at = e.at
    s.waiting = None


def _change_applied(s: ItemState, e: Event) -> None:
    s.applied.append(dict(e.data, ok=e.kind == ev.CHANGE_APPLIED, at=e.at))


def _archived(s: ItemState, e: Event) -> None:
    s.archived = e.data


_HANDLERS: dict[str, Callable[[ItemState, Event], None]] = {
    ev.ITEM_SUBMITTED: _submitted,
    ev.ITEM_SCOPED: _scoped,
    ev.ATTEMPT_STARTED: _attempt_started,
    ev.ATTEMPT_FINISHED: _attempt_finished,
    ev.ATTEMPT_FAILED: _attempt_failed,
    ev.ATTEMPT_ABANDONED: _attempt_abandoned,
    ev.REVIEW_DECIDED: _review_decided,
    ev.REVIEW_FAILED: _review_failed,
    ev.CHECK_RECORDED: _check_recorded,
    ev.FEEDBACK_CREATED: _feedback_created,
    ev.HUMAN_REQUESTED: _human_requested,
    ev.ITEM_ACCEPTED: _accepted,
    ev.ITEM_ESCALATED: _escalated,
    ev.ITEM_REOPENED: _reopened,
    ev.ITEM_FAILED: _failed,
    ev.ITEM_CANCELLED: _cancelled,
    ev.CHANGE_APPLIED: _change_applied,
    ev.CHANGE_APPLY_FAILED: _change_applied,
    ev.ITEM_ARCHIVED: _archived,
}
