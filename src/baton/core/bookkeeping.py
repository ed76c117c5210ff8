"""Bookkeeping: the events of the steps that need no effect (refine, accept, finish), and
the feedback a refine hands the next attempt. Pure, like the loop that decides them, so
they are recorded in the same append as the step that led to them."""

from __future__ import annotations

from typing import Any

from . import events as ev
from .loop import Accept, Finish, Refine, Step, round_of
from .state import ItemState
from .text import clip
from .vocabulary import Decision, Outcome

Entry = tuple[str, dict[str, Any]]
"""An event not yet chained: its kind and its data."""


def bookkeeping(state: ItemState, step: Step) -> list[Entry] | None:
    """The events of a step that needs no effect; None for a step that does."""
    match step:
        case Refine(attempt=n):
            if state.plan is not None and state.plan.fanout is not None:
                members = [a.n for a in round_of(state, n)]
                feedback = build_round_feedback(state, members)
                return [
                    (ev.FEEDBACK_CREATED, {"attempt": n, "attempts": members, "feedback": feedback})
                ]
            return [(ev.FEEDBACK_CREATED, {"attempt": n, "feedback": build_feedback(state, n)})]
        case Accept(attempt=n):
            return [(ev.ITEM_ACCEPTED, {"attempt": n, "agent": state.attempt(n).agent})]
        case Finish(outcome=outcome, reason=reason):
            kind = ev.ITEM_ESCALATED if outcome is Outcome.ESCALATED else ev.ITEM_FAILED
            return [(kind, {"reason": reason})]
    return None


def build_feedback(state: ItemState, attempt: int, limit: int = 2000) -> list[dict[str, Any]]:
    """What the next attempt is told: failed checks' evidence, reviewers' comments, errors.

    Bounded: each entry's text is cut to `limit` characters (head and tail kept), so
    working memory stays small however much a verifier printed.
    """
    a = state.attempt(attempt)
    entries: list[dict[str, Any]] = []
    if a.error is not None:
        entries.append({"source": f"agent:{a.agent}", "kind": "error", "message": a.error})
    for name, check in a.checks.items():
        if not check["passed"]:
            entries.append(
                {
                    "source": f"verifier:{name}",
                    "kind": "check",
                    "message": check.get("evidence", ""),
                }
            )
    for name, review in a.reviews.items():
        if review["decision"] != Decision.APPROVE:
            entries.append(
                {
                    "source": f"reviewer:{name}",
                    "kind": "review",
                    "decision": review["decision"],
                    "message": review.get("comments") or "",
                }
            )
    for entry in entries:
        entry["message"] = clip(str(entry["message"]), limit)
    return entries


def build_round_feedback(state: ItemState, attempts: list[int]) -> list[dict[str, Any]]:
    """A best-of-N round's feedback: each attempt's, saying whose it was."""
    entries = []
    for n in attempts:
        a = state.attempt(n)
        if a.abandoned:
            continue
        for entry in build_feedback(state, n):
            entries.append(dict(entry, source=f"attempt {n} ({a.agent}) {entry['source']}"))
    return entries
