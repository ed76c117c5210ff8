"""baton's core vocabulary: ids, statuses, gates, decisions and outcomes, named once."""

from __future__ import annotations

from enum import StrEnum

ItemId = str
LogId = str
AgentName = str

FLEET_LOG: LogId = "fleet"
"""The log that records fleet-wide operator actions (agent pause / resume)."""

AUTH_LOG: LogId = "auth"
"""The log of API tokens (created, revoked): only their hashes."""

RESERVED_LOGS = frozenset({FLEET_LOG, AUTH_LOG})
"""Logs that are not items: no item may take these ids."""


class Status(StrEnum):
    """Where an item is in the loop; what the board shows."""

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
