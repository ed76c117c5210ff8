"""baton's vocabulary, named once: what each word means, and the ids, statuses, gates,
decisions and outcomes the rest of the code speaks in.

Glossary (docs/architecture.md repeats it):

- playbook: how a kind of work is done: agents, reviewers, verifiers, policy, budget.
- item: one unit of work submitted to a playbook; its *log* (one per item) holds every
  event of its life. The fleet, auth, audit and verified logs are not items (RESERVED_LOGS).
- queue: the playbook an item was submitted to; engines claim items of their queues.
- plan: the playbook resolved for one item, recorded in its log when it is scoped.
- attempt: one delegation of an item to one agent; attempts started together form a
  round (best-of-N).
- assignment: what an agent is given for one attempt (`Assignment`; the log records it
  as the attempt's `task`).
- candidate: what reviewers and verifiers judge: one attempt's output with its context
  (`Candidate`).
- gate: review or verify; a check is one verifier's verdict, a review one reviewer's
  decision.
- feedback: what the next attempt is told after a failed gate.
- step: what the loop decides comes next for an item (core.loop).
- status: where an item is, as the board shows it; outcome: how it ended.
- lease: an engine's claim on an item for a while, renewed while it works.
"""

from __future__ import annotations

from enum import StrEnum

ItemId = str
LogId = str
AgentName = str

FLEET_LOG: LogId = "fleet"
"""The log that records fleet-wide operator actions (agent pause / resume)."""

AUTH_LOG: LogId = "auth"
"""The log of API tokens (created, revoked): only their hashes."""

AUDIT_LOG: LogId = "audit"
"""The log of audit checkpoints: every other log's head, signed off, in one chain."""

VERIFIED_LOG: LogId = "audit.verified"
"""The log of verify checkpoints: what a `baton audit verify` found whole, up to where,
so the next one re-checks only what came after (services/audit_verify.py)."""

RESERVED_LOGS = frozenset({FLEET_LOG, AUTH_LOG, AUDIT_LOG, VERIFIED_LOG})
"""Logs that are not items: no item may take these ids."""


class Status(StrEnum):
    """Where an item is in the loop; what the board shows."""

    QUEUED = "queued"  # submitted; no engine has scoped it yet
    # an engine is resolving the item's plan; stores written by baton 0.1 also show it
    # for items that were never claimed (what QUEUED says now), so it is still read
    SCOPING = "scoping"
    RUNNING = "running"
    REVIEWING = "reviewing"
    VERIFYING = "verifying"
    REFINING = "refining"
    WAITING_HUMAN = "waiting_human"
    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """How an item ended (escalated items may be revived by a person)."""

    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({Status.ACCEPTED, Status.ESCALATED, Status.FAILED, Status.CANCELLED})
OPEN_STATUSES = tuple(s for s in Status if s not in FINAL_STATUSES)
"""Statuses of items without an outcome, in the loop's order."""
ACTIVE_STATUSES = tuple(s for s in OPEN_STATUSES if s is not Status.WAITING_HUMAN)
"""Open statuses in which an engine has (or will have) the item in hand."""


class Gate(StrEnum):
    """A gate an attempt must pass before the item is accepted."""

    REVIEW = "review"
    VERIFY = "verify"


class Decision(StrEnum):
    """A review's verdict on an attempt."""

    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"


class HumanWait(StrEnum):
    """What a parked item waits for a person to do."""

    WORK = "work"  # a human agent does the attempt
    REVIEW = "review"  # a human reviewer decides
    ESCALATION = "escalation"  # budget or cascade exhausted: a human owns it


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


RISK_ORDER = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2}
