"""The read model of the figures: integer counters every commit adds to, so that reading
them costs the same at a thousand items as at a million (services/metrics.py turns them
into figures).

`tally(state, event, into)` folds one event into an item's state (as `ItemState.apply`)
and adds to `into` what that event changes in the counters. The writer does this as it
settles a transition and hands the store the sum, which the store adds atomically with
the append (one transaction on SQLite, one script on Redis); `--rebuild` does the same
over every log from the start, so the two agree exactly: every counter is an integer
(times in milliseconds, cost in billionths) and only sums, minima and maxima are kept,
which do not depend on the order the logs are read in.

A counter's key is `scope|name`. Scopes:
- `all`, `pb=<playbook>`: each item counts once, by its latest outcome (a reopened
  escalation leaves the escalated count), plus what was spent and decided;
- `flow`: the same as `all`, but outcomes are counted when they happen and never taken
  back (what Prometheus counters and histograms need);
- `hour=<n>` (hours since 1970, UTC): what happened in that hour, counted as `flow` is;
- `agent=<name>`: one agent's attempts and what became of them;
- `meta`: `meta|version` says the counters cover the whole store (see services/metrics).

Names ending in `.min` / `.max` keep the least / greatest value added; all others sum.
A distribution (cycle time, human wait, attempt seconds) is a histogram: `<name>#<i>`
counts the values in logarithmic bucket i (`bucket_of`: DDSketch's mapping, every value
within 1% of its bucket's representative), `<name>#z` those under a millisecond, so a
quantile read from it is within 1% of the true one, and buckets merge by adding.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections import Counter
from collections.abc import Mapping

import orjson

from . import events as ev
from .events import Event
from .state import ItemState
from .vocabulary import Decision, Outcome

VERSION = 1  # of the counters' definitions; `meta|version` holds the one a store's follow
META = "meta|version.max"

ACCURACY = 0.01  # relative
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
SMALLEST = 0.001  # seconds: less than this counts in the zero bucket
HOUR = 3600

JUDGED = frozenset({Outcome.ACCEPTED, Outcome.ESCALATED, Outcome.FAILED})  # cancelled: not

Tally = Counter[str]


def bucket_of(seconds: float) -> str:
    """The histogram bucket of a duration: `z` under a millisecond, else the i with
    GAMMA**(i-1) < seconds <= GAMMA**i."""
    if seconds < SMALLEST:
        return "z"
    return str(math.ceil(math.log(seconds) / _LOG_GAMMA))


def bucket_value(bucket: str) -> float:
    """The value a bucket stands for: within ACCURACY of every value in it."""
    if bucket == "z":
        return 0.0
    return 2 * GAMMA ** int(bucket) / (GAMMA + 1)


def millis(seconds: float) -> int:
    return round(seconds * 1000)


def billionths(money: float) -> int:
    return round(money * 1_000_000_000)


def merge(into: Tally, more: Mapping[str, int]) -> None:
    """Add `more` to `into` as a store does: sums, and minima / maxima."""
    for key, value in more.items():
        if key.endswith(".min"):
            into[key] = min(into[key], value) if key in into else value
        elif key.endswith(".max"):
            into[key] = max(into[key], value) if key in into else value
        else:
            into[key] += value


def pack(counters: Mapping[str, int]) -> str:
    """Counters as a short text (an archive marker holds one item's: their JSON, deflated,
    in base64; a few hundred characters where the JSON takes one or two thousand)."""
    return base64.b64encode(zlib.compress(orjson.dumps(dict(counters)), 9)).decode()


def unpack(text: object) -> dict[str, int]:
    """What `pack` made; {} for anything else (a marker that is not baton's)."""
    try:
        found = orjson.loads(zlib.decompress(base64.b64decode(str(text), validate=True)))
    except (ValueError, zlib.error):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)}


def tally(state: ItemState, event: Event, into: Tally, *, applied: Event | None = None) -> None:
    """Fold `event` into `state` and add what it changes to `into`. `applied`: the event
    as the state should see it when it differs from the stored one (blobs restored);
    the counters are read from the stored one, as a rebuild from the log reads them."""
    if event.kind == ev.ITEM_ARCHIVED:  # the archived events' counts, unless they are here
        here = state.version > 0  # (an archive cut off before their events were dropped)
        state.apply(event)
        if not here:
            merge(into, unpack(event.data.get("tally")))
        return
    outcome, finished_at, waiting = state.outcome, state.finished_at, state.waiting
    attempts, accepted_agent = len(state.attempts), _accepted_agent(state)
    state.apply(applied if applied is not None else event)
    kind, d, at = event.kind, event.data, event.at
    hour = f"hour={int(at // HOUR)}|"
    scopes = ("all|", "flow|", f"pb={state.queue}|", hour)
    _mark(into, scopes[:3], at, first=kind == ev.ITEM_SUBMITTED)
    if kind == ev.ITEM_SUBMITTED:
        _add(into, scopes, "submitted", 1)
        return
    if kind == ev.ATTEMPT_STARTED:
        _add(into, scopes, "attempts", 1)
        into[f"agent={d['agent']}|attempts"] += 1
    elif kind in _ATTEMPT_ENDS:
        _attempt_ended(state, event, into, scopes)
    elif kind == ev.REVIEW_DECIDED:
        _add(into, scopes, "reviews", 1)
        if d.get("decision") != Decision.APPROVE:
            _add(into, scopes, "rejected", 1)
        _spend(into, scopes, d.get("usage"))
    elif kind == ev.REVIEW_FAILED:
        _spend(into, scopes, d.get("usage"))
    elif kind == ev.CHECK_RECORDED:
        _add(into, scopes, "checks", 1)
        if d.get("passed"):
            _add(into, scopes, "passed", 1)
        _spend(into, scopes, d.get("usage"))
    if outcome is not None and state.outcome is not outcome:  # reopened, or decided anew
        _count_outcome(
            into, scopes[0::2], outcome, finished_at, state, attempts, accepted_agent, -1
        )
    if state.outcome is not None and state.outcome is not outcome:
        new_attempts, agent = len(state.attempts), _accepted_agent(state)
        _count_outcome(
            into, scopes, state.outcome, state.finished_at, state, new_attempts, agent, 1
        )
        if state.outcome is Outcome.ACCEPTED:
            into[f"agent={d.get('agent', agent)}|accepted"] += 1
            into[f"agent={d.get('agent', agent)}|first_pass_accepted"] += new_attempts == 1
    _waits(into, scopes, waiting, state.waiting, at)


def _accepted_agent(state: ItemState) -> str:
    n = state.accepted_attempt
    return state.attempts[n - 1].agent if n and 0 < n <= len(state.attempts) else "?"


def _add(into: Tally, scopes: tuple[str, ...], name: str, value: int) -> None:
    for scope in scopes:
        into[scope + name] += value


def _mark(into: Tally, scopes: tuple[str, ...], at: float, *, first: bool) -> None:
    ms = millis(at)
    for scope in scopes:
        key = scope + "last_at.max"
        into[key] = max(into[key], ms) if key in into else ms
        if first:
            key = scope + "first_at.min"
            into[key] = min(into[key], ms) if key in into else ms


def _spend(into: Tally, scopes: tuple[str, ...], usage: object, agent: str | None = None) -> None:
    if not isinstance(usage, dict) or not usage:
        return
    tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    cost = billionths(float(usage.get("cost", 0.0)))
    _add(into, scopes, "tokens", tokens)
    _add(into, scopes, "cost_n", cost)
    if agent is not None:
        into[f"agent={agent}|tokens"] += tokens
        into[f"agent={agent}|cost_n"] += cost


def _attempt_ended(state: ItemState, event: Event, into: Tally, scopes: tuple[str, ...]) -> None:
    d = event.data
    n = d.get("attempt")
    agent = (
        state.attempts[n - 1].agent if isinstance(n, int) and 0 < n <= len(state.attempts) else "?"
    )
    name = _ATTEMPT_ENDS[event.kind]
    into[f"agent={agent}|{name}"] += 1
    usage = d.get("usage") or {}
    if event.kind != ev.ATTEMPT_ABANDONED and isinstance(usage, dict):
        seconds = usage.get("seconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            into[f"agent={agent}|secs"] += 1
            into[f"agent={agent}|secs_ms"] += millis(float(seconds))
            into[f"agent={agent}|secs#{bucket_of(float(seconds))}"] += 1
    _spend(into, scopes, usage, agent)


def _count_outcome(
    into: Tally,
    scopes: tuple[str, ...],
    outcome: Outcome,
    finished_at: float | None,
    state: ItemState,
    attempts: int,
    agent: str,
    sign: int,
) -> None:
    """An item's outcome in (sign 1) or out of (sign -1) the counts of `scopes`."""
    _add(into, scopes, f"out.{outcome.value}", sign)
    if outcome not in JUDGED:
        return
    _add(into, scopes, "judged", sign)
    if finished_at is not None:
        cycle = max(0.0, finished_at - state.submitted_at)
        _add(into, scopes, f"cycle#{bucket_of(cycle)}", sign)
        _add(into, scopes, "cycle_ms", sign * millis(cycle))
    if outcome is Outcome.ACCEPTED:
        _add(into, scopes, "first_pass", sign * (attempts == 1))
        _add(into, scopes, "attempts_accepted", sign * attempts)


def _waits(
    into: Tally,
    scopes: tuple[str, ...],
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    at: float,
) -> None:
    """A wait for a person starts when the item parks (human.requested, an escalation)
    and ends with the event that answers it (or a new wait in its place)."""
    if before is after:
        return
    since = before.get("since") if before else None
    if isinstance(since, int | float):
        waited = max(0.0, at - float(since))
        _add(into, scopes, "waits", 1)
        _add(into, scopes, "wait_ms", millis(waited))
        _add(into, scopes, f"wait#{bucket_of(waited)}", 1)
        _add(into, scopes[0::2], "waiting_now", -1)
    if after is not None:
        _add(into, scopes[0::2], "waiting_now", 1)


_ATTEMPT_ENDS = {
    ev.ATTEMPT_FINISHED: "finished",
    ev.ATTEMPT_FAILED: "failed",
    ev.ATTEMPT_ABANDONED: "abandoned",
}
