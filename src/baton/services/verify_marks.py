"""Verify checkpoints, the pure part: what one records (every log's head as a verify found
it whole, where the feed was read to, a digest over both), the events that record it, and
the latest one folded back from the verified log (`services/audit_verify.py` reads and
writes them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ..core import events as ev
from ..core.events import Event
from ..core.vocabulary import VERIFIED_LOG
from .audit import HEAD_BYTES, Finding

_SORTED = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class Mark:
    """A verify checkpoint: every log's head as a verify found it whole."""

    number: int  # the seq, in the verified log, of its last event
    heads: dict[str, tuple[int, str]]
    through: dict[str, Any]  # {position, log, seq}: the feed's last event it read
    digest: str
    full: bool
    at: float


def mark_digest(heads: dict[str, tuple[int, str]], through: dict[str, Any]) -> str:
    """sha256 over every log's head (by name) and `through`: what a checkpoint signs."""
    body = orjson.dumps([sorted([n, s, h] for n, (s, h) in heads.items()), through], option=_SORTED)
    return hashlib.sha256(body).hexdigest()


def mark_entries(
    before: dict[str, tuple[int, str]],
    heads: dict[str, tuple[int, str]],
    through: dict[str, Any],
    *,
    full: bool,
    by: str,
    limit: int,
) -> list[tuple[str, dict[str, Any]]]:
    """The events of the next verify checkpoint: the heads changed since `before` (all of
    them when `full`), as many events as the event limit needs; the last one signs."""
    changed = sorted((n, [s, h]) for n, (s, h) in heads.items() if full or before.get(n) != (s, h))
    per_event = max(1, limit // HEAD_BYTES - 1)
    parts = [changed[i : i + per_event] for i in range(0, len(changed), per_event)] or [[]]
    entries: list[tuple[str, dict[str, Any]]] = [
        (ev.AUDIT_VERIFIED, {"heads": dict(part)}) for part in parts
    ]
    entries[-1][1].update(
        through=through,
        digest=mark_digest(heads, through),
        logs=len(heads),
        events=sum(s for s, _ in heads.values()),
        full=full,
        by=by,
    )
    return entries


def fold_marks(events: Iterable[Event]) -> tuple[Mark | None, list[Finding]]:
    """The latest verify checkpoint whose digest holds over the heads folded up to it."""
    heads: dict[str, tuple[int, str]] = {}
    latest: Mark | None = None
    for event in events:
        data = event.data
        recorded = data.get("heads") if event.kind == ev.AUDIT_VERIFIED else None
        if not isinstance(recorded, dict) or not all(_is_head(h) for h in recorded.values()):
            where = f"verified log event #{event.seq}"
            return None, [Finding(VERIFIED_LOG, event.seq, f"{where} is not a verify checkpoint")]
        heads.update({n: (h[0], h[1]) for n, h in recorded.items()})
        through = data.get("through")
        if "digest" not in data:
            continue  # one part of several: the last one signs
        if not isinstance(through, dict) or data["digest"] != mark_digest(heads, through):
            problem = f"verify checkpoint {event.seq}'s digest does not match the heads it records"
            return None, [Finding(VERIFIED_LOG, event.seq, problem)]
        latest = Mark(event.seq, dict(heads), through, data["digest"], bool(data["full"]), event.at)
    return latest, []


def _is_head(head: Any) -> bool:
    return (
        isinstance(head, list)
        and len(head) == 2
        and isinstance(head[0], int)
        and isinstance(head[1], str)
    )
