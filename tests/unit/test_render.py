"""What the terminal says of events and figures: honest lines a person can act on."""

from __future__ import annotations

from baton.cli.render import describe, headline
from baton.core import events as ev
from baton.core.events import make_event
from baton.services.metrics import compute


def event(kind: str, **data: object) -> ev.Event:
    return make_event("item", 1, kind, 1000.0, dict(data), "")


def test_feedback_says_which_attempt_it_is_on_not_one_that_may_never_come() -> None:
    # the feedback of an item's last attempt is recorded before it escalates: there is no
    # attempt after it to be "for"
    line = describe(event(ev.FEEDBACK_CREATED, attempt=3, feedback=[{"message": "x"}]))
    assert line == "feedback on attempt 3: 1 point(s)"
    round_line = describe(event(ev.FEEDBACK_CREATED, attempt=4, attempts=[3, 4], feedback=[{}, {}]))
    assert round_line == "feedback on the round of attempts 3, 4: 2 point(s)"


def test_a_short_run_says_what_it_did_rather_than_a_rate_per_hour() -> None:
    events = [
        make_event("a", 1, ev.ITEM_SUBMITTED, 1000.0, {"spec": {}}, ""),
        make_event("a", 2, ev.ITEM_ACCEPTED, 1000.3, {"attempt": 1, "agent": "w"}, ""),
    ]
    short = dict(headline(compute(events)))["throughput"]
    assert short == "1 accepted in 0.3s (too short a run for a rate)"
    long = dict(headline(compute(events, now=1000.0 + 3600)))["throughput"]
    assert long == "1.0 accepted/hour"
