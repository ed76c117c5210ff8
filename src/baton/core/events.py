"""Events: the immutable record of every transition, and the one list of their names.

Each log (one per work item, plus the fleet, auth and audit logs) is a chain: every event
carries the hash of the previous event of the same log, so any edit to history breaks a
link that `baton audit verify` finds; the audit log's checkpoints record every log's head,
so a log cut short, or removed, is found too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

# --- item lifecycle -------------------------------------------------------------------
ITEM_SUBMITTED = "item.submitted"  # spec, playbook, queue
ITEM_SCOPED = "item.scoped"  # plan: the playbook resolved for this item
ITEM_ACCEPTED = "item.accepted"  # attempt, agent
ITEM_ESCALATED = "item.escalated"  # reason: a person owns it now
ITEM_REOPENED = "item.reopened"  # by, comments, extra_attempts: a person gave more budget
ITEM_FAILED = "item.failed"  # reason
ITEM_CANCELLED = "item.cancelled"  # by, reason
# events 1..through moved to an archive file (services/archive.py) and dropped from the
# store: through, head (the hash of event `through`: this event's prev), archive (the
# file's name), sha256 (of the file), tally (what the item's events add to the read
# model's counters: tally.pack), by. What remains of the log begins with it.
ITEM_ARCHIVED = "item.archived"
# --- attempts -------------------------------------------------------------------------
ATTEMPT_STARTED = "attempt.started"  # attempt, agent, task, engine (the lease owner)
ATTEMPT_FINISHED = "attempt.finished"  # attempt, output, usage, by
ATTEMPT_FAILED = "attempt.failed"  # attempt, error, usage
ATTEMPT_ABANDONED = "attempt.abandoned"  # attempt, reason (its engine stopped, or lost it)
# --- leases ---------------------------------------------------------------------------
LEASE_TAKEN_OVER = "lease.taken_over"  # from, by, why, attempts: another engine's work
# --- gates ----------------------------------------------------------------------------
REVIEW_DECIDED = "review.decided"  # attempt, reviewer, decision, comments, by
REVIEW_FAILED = "review.failed"  # attempt, reviewer, error
CHECK_RECORDED = "check.recorded"  # attempt, verifier, passed, score, evidence, seconds
FEEDBACK_CREATED = "feedback.created"  # attempt, feedback: what the next attempt gets
HUMAN_REQUESTED = "human.requested"  # wait (work | review | escalation), attempt, reviewer
# --- code work ------------------------------------------------------------------------
CHANGE_APPLIED = "change.applied"  # attempt, how (branch | checkout | patch), target, by
CHANGE_APPLY_FAILED = "change.apply_failed"  # attempt, how, error, by
# --- access (the auth log) -------------------------------------------------------------
TOKEN_CREATED = "token.created"  # id, name, role, digest (sha256 of the secret), by
TOKEN_REVOKED = "token.revoked"  # id, by
SESSION_STARTED = "session.started"  # id, token (its id), digest (sha256 of secret), expires, by
SESSION_ENDED = "session.ended"  # id, by, why (logout | token revoked)
# --- the audit log ---------------------------------------------------------------------
# heads ({log: [seq, hash]} of every log changed since the previous checkpoint; all of
# them when `full`), logs and events (the totals covered), through ({position, log, seq}:
# the last event of the global feed it covers), full, by
AUDIT_CHECKPOINT = "audit.checkpoint"
# the verified log (a verify found every log whole): heads ({log: [seq, hash]} of every log
# changed since the previous one; all of them when `full`); the last event of one append
# also has through ({position, log, seq}: where the feed was read to), digest (sha256 over
# every log's head and `through`), logs, events, full, by
AUDIT_VERIFIED = "audit.verified"
# --- fleet ----------------------------------------------------------------------------
AGENT_PAUSED = "agent.paused"  # agent, by, reason
AGENT_RESUMED = "agent.resumed"  # agent, by

KINDS: frozenset[str] = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)


class Event(NamedTuple):
    """One immutable record in a log. `position` is the store's global order (0 if unsaved).

    A NamedTuple rather than a frozen dataclass: every step builds several, and a tuple is
    several times cheaper to make.
    """

    log: str
    seq: int
    kind: str
    at: float
    data: dict[str, Any]
    prev: str
    hash: str
    position: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "data": self.data,
            "prev": self.prev,
            "hash": self.hash,
            "position": self.position,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(
            log=raw["log"],
            seq=raw["seq"],
            kind=raw["kind"],
            at=raw["at"],
            data=raw["data"],
            prev=raw["prev"],
            hash=raw["hash"],
            position=raw.get("position", 0),
        )


def event_hash(log: str, seq: int, kind: str, at: float, data: dict[str, Any], prev: str) -> str:
    """The chain hash of an event: sha256 over its canonical JSON and the previous hash."""
    body = orjson.dumps((log, seq, kind, at, data, prev), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def make_event(log: str, seq: int, kind: str, at: float, data: dict[str, Any], prev: str) -> Event:
    """Build the next event of a log, hashed onto its predecessor."""
    return Event(log, seq, kind, at, data, prev, event_hash(log, seq, kind, at, data, prev))


def chain(
    log: str, version: int, prev: str, at: float, entries: list[tuple[str, dict[str, Any]]]
) -> list[Event]:
    """Events for (kind, data) entries appended after `version`, each hashed onto the last."""
    events = []
    for kind, data in entries:
        version += 1
        event = make_event(log, version, kind, at, data, prev)
        prev = event.hash
        events.append(event)
    return events


@dataclass(frozen=True)
class BrokenLink:
    """The first place a log's chain does not hold."""

    log: str
    seq: int
    reason: str


def archived_through(event: Event) -> int | None:
    """The last seq an archive marker says was moved to its file (None: not a marker, or
    one that does not sit right after the head it records)."""
    if event.kind != ITEM_ARCHIVED:
        return None
    through, head = event.data.get("through"), event.data.get("head")
    if not isinstance(through, int) or isinstance(through, bool) or through != event.seq - 1:
        return None
    return through if head == event.prev else None


def verify_chain(events: list[Event]) -> BrokenLink | None:
    """Recompute a log's chain; return its first broken link, or None if it holds. A log
    whose earlier events were archived begins with its marker, chained from the head the
    marker records."""
    prev, start = "", 1
    if events and (through := archived_through(events[0])) is not None:
        prev, start = events[0].prev, through + 1
    for expected_seq, event in enumerate(events, start=start):
        if event.seq != expected_seq:
            return BrokenLink(event.log, event.seq, f"expected seq {expected_seq}")
        if event.prev != prev:
            return BrokenLink(event.log, event.seq, "prev does not match the previous hash")
        recomputed = event_hash(event.log, event.seq, event.kind, event.at, event.data, event.prev)
        if recomputed != event.hash:
            return BrokenLink(event.log, event.seq, "content does not match its hash")
        prev = event.hash
    return None


def dumps(value: Any) -> bytes:
    """JSON bytes of an event's data, as stores keep it."""
    return orjson.dumps(value)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)
