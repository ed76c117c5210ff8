"""The audit: every log's hash chain recomputed, and every log held to the heads the audit
log's checkpoints signed off, so an edit, a log cut short or a log removed is found.

A checkpoint (`audit.checkpoint` in the `audit` log) records the head (last seq and hash)
of every log that changed since the previous checkpoint, up to a position of the global
feed (`through`); the audit log's own chain links the checkpoints into one, so the hash
of the latest is a head an operator can note down and hold the store to (`--expect`).
Folding every checkpoint gives the latest head recorded for each log: a log must still
reach it, with the same hash there. What came after the last checkpoint is covered only
by the index rows (an item's row names its version), and someone able to rewrite the
whole audit log is found only against a head noted down outside the store.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..core import events as ev
from ..core.bounds import BLOB_KEY, digest_of, refs
from ..core.events import BrokenLink, Event, chain, verify_chain
from ..core.vocabulary import AUDIT_LOG, VERIFIED_LOG
from ..errors import InputError, StoreError
from ..runtime.recording import event_limit, retrying
from ..store.base import Store
from ..store.feed import feed

log = logging.getLogger("baton.audit")

CHECKPOINT_EVERY = 60.0  # seconds: how often a worker writes one, when something changed
FINAL_WITHIN = 10.0  # seconds a command waits for its last checkpoint before giving up
_HASH = re.compile(r"^[0-9a-f]{64}$")


HEAD_BYTES = 256
"""The most one log's head takes in a checkpoint (an id of up to 128 characters, its seq
and hash): one checkpoint event records BATON_EVENT_BYTES / 256 of them."""


class Head(NamedTuple):
    """A log's last event as a checkpoint recorded it."""

    seq: int
    hash: str
    checkpoint: int  # the checkpoint that recorded it (its seq in the audit log)


@dataclass(frozen=True)
class Finding:
    """A log that does not reach, or does not match, what was recorded of it."""

    log: str
    seq: int
    problem: str


@dataclass(frozen=True)
class Checkpoint:
    number: int  # its seq in the audit log
    hash: str  # the signed-off head: the audit log's chain up to it
    logs: int
    events: int
    at: float
    written: bool = True  # False: nothing had changed since it, so none was written


@dataclass(frozen=True)
class Audit:
    logs: int
    events: int
    broken: list[BrokenLink] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    checkpoint: Checkpoint | None = None  # the latest
    uncovered: int = 0  # events no checkpoint covers yet

    @property
    def ok(self) -> bool:
        return not self.broken and not self.findings


# --- the pure part: folding checkpoints, comparing a log with its head ------------------


def _recorded(event: Event) -> dict[str, tuple[int, str]] | None:
    """The heads a checkpoint event records; None if it is not a readable checkpoint."""
    heads = event.data.get("heads") if event.kind == ev.AUDIT_CHECKPOINT else None
    if not isinstance(heads, dict):
        return None
    found: dict[str, tuple[int, str]] = {}
    for name, head in heads.items():
        if not (
            isinstance(head, list)
            and len(head) == 2
            and isinstance(head[0], int)
            and isinstance(head[1], str)
        ):
            return None
        found[name] = (head[0], head[1])
    return found


def fold_heads(
    checkpoints: Iterable[Event], heads: dict[str, Head] | None = None
) -> tuple[dict[str, Head], list[Finding]]:
    """The latest head recorded for each log by these checkpoints (folded onto `heads`).

    A head never moves back: a later checkpoint that records less of a log (one taken
    after the log was cut short) does not excuse the cut. Two checkpoints that disagree
    on the same seq, and an audit event that is not a checkpoint, are findings."""
    folded = dict(heads or {})
    findings = []
    for event in checkpoints:
        recorded = _recorded(event)
        if recorded is None:
            findings.append(
                Finding(AUDIT_LOG, event.seq, f"audit log event #{event.seq} is not a checkpoint")
            )
            continue
        for name, (seq, digest) in recorded.items():
            known = folded.get(name)
            if known is None or seq > known.seq:
                folded[name] = Head(seq, digest, event.seq)
            elif seq == known.seq and digest != known.hash:
                findings.append(
                    Finding(
                        name,
                        seq,
                        f"checkpoints {known.checkpoint} and {event.seq} recorded different "
                        f"hashes for seq {seq} of log {name} ({_short(known.hash)}, "
                        f"{_short(digest)})",
                    )
                )
    return folded, findings


def checkpoint_data(
    heads: dict[str, Head],
    changed: dict[str, tuple[int, str]],
    through: Event,
    *,
    full: bool,
    by: str,
) -> dict[str, Any]:
    """The next checkpoint's data: the changed logs' heads and the totals then covered."""
    after = dict(heads)
    for name, (seq, digest) in changed.items():
        if name not in after or seq > after[name].seq:
            after[name] = Head(seq, digest, 0)
    return {
        "heads": {name: [seq, digest] for name, (seq, digest) in sorted(changed.items())},
        "logs": len(after),
        "events": sum(h.seq for h in after.values()),
        "through": {"position": through.position, "log": through.log, "seq": through.seq},
        "full": full,
        "by": by,
    }


def compare(
    name: str, events: Sequence[Event], head: Head | None, row_version: int | None
) -> list[Finding]:
    """What is wrong with a log (its events as the store holds them) against the head a
    checkpoint recorded and the version its index row names (None: none of either)."""
    found = []
    ends = events[-1].seq if events else 0
    archived = ev.archived_through(events[0]) if events else None
    if head is not None and archived is not None and head.seq <= archived:
        where = f"checkpoint {head.checkpoint} recorded hash {_short(head.hash)}"
        problem = archived_head(name, head, archived, events[0].prev, where)
        found.extend([problem] if problem else [])
        head = None
    if head is not None:
        where = f"checkpoint {head.checkpoint} recorded seq {head.seq} (hash {_short(head.hash)})"
        if not events:
            found.append(Finding(name, head.seq, f"log {name} is gone but {where}"))
        elif ends < head.seq:
            found.append(Finding(name, head.seq, f"log {name} ends at seq {ends} but {where}"))
        else:
            there = next((e for e in events if e.seq == head.seq), None)
            if there is None or there.hash != head.hash:
                other = _short(there.hash) if there else "none"
                found.append(
                    Finding(
                        name,
                        head.seq,
                        f"log {name} has another event at seq {head.seq} "
                        f"(hash {other}) than {where}",
                    )
                )
    if row_version is not None and row_version > ends:
        now = "is gone" if not events else f"ends at seq {ends}"
        found.append(
            Finding(
                name, row_version, f"log {name} {now} but its index row says version {row_version}"
            )
        )
    return found


def archived_head(name: str, head: Head, through: int, last: str, where: str) -> Finding | None:
    """What is wrong with a head (at or before `through`) of a log whose events up to
    `through` are in an archive file: only the last one's hash (`last`, its marker's prev)
    is still in the store to hold it to."""
    if head.seq == through and head.hash != last:
        problem = f"log {name} was archived through seq {head.seq} at another head than {where}"
        return Finding(name, head.seq, problem)
    return None


def uncovered(events: Sequence[Event], head: Head | None) -> int:
    """How many of a log's events came after the head a checkpoint recorded."""
    return sum(1 for e in events if head is None or e.seq > head.seq)


def _short(digest: str) -> str:
    return f"{digest[:16]}..."


def _checkpoint(event: Event, written: bool = True) -> Checkpoint:
    d = event.data
    logs, events = d.get("logs"), d.get("events")
    return Checkpoint(
        event.seq,
        event.hash,
        logs if isinstance(logs, int) else 0,
        events if isinstance(events, int) else 0,
        event.at,
        written,
    )


def expected_hash(value: str) -> str:
    """A head given to hold the store to (`--expect`), checked."""
    digest = value.strip().lower()
    if not _HASH.match(digest):
        raise InputError(
            f"--expect: {value!r} is not a checkpoint hash (64 hex digits, as "
            "`baton audit checkpoint` prints it)"
        )
    return digest


# --- reading and writing the store --------------------------------------------------------


async def verify_store(store: Store, expect: str | None = None) -> Audit:
    """Recompute every chain the store holds (each log in full, from its first event),
    hold every log to the heads the checkpoints recorded and every item to its index row;
    with `expect`, the audit log must still hold the checkpoint of that hash. The first
    algorithm, kept as bench/audit.py's baseline: audit_verify.verify is what runs."""
    wanted = expected_hash(expect) if expect is not None else None
    logs: dict[str, None] = {}
    total = 0
    async for event in feed(store):
        logs.setdefault(event.log, None)
        total += 1
    audit_log = await store.load(AUDIT_LOG)
    heads, findings = fold_heads(audit_log)
    rows = {row.item_id: row.version for row in await store.query(limit=None)}
    broken = []
    behind = 0
    checked: set[str] = set()  # blobs found whole already
    for name in dict.fromkeys([*logs, AUDIT_LOG, *heads, *rows]):
        events = audit_log if name == AUDIT_LOG else await store.load(name)
        link = verify_chain(events)
        if link is not None:
            broken.append(link)
        if name != AUDIT_LOG:
            findings.extend(compare(name, events, heads.get(name), rows.get(name)))
            behind += uncovered(events, heads.get(name))
            findings.extend(await _blobs_held(store, events, checked))
    if wanted is not None and not any(e.hash == wanted for e in audit_log):
        last = f", the last {audit_log[-1].hash}" if audit_log else ""
        findings.append(
            Finding(
                AUDIT_LOG,
                len(audit_log),
                f"the audit log holds no checkpoint {wanted} ({len(audit_log)} checkpoint(s)"
                f"{last}): it was cut short, or rewritten",
            )
        )
    latest = _checkpoint(audit_log[-1]) if audit_log else None
    return Audit(len(logs), total, broken, findings, latest, behind)


async def _blobs_held(store: Store, events: list[Event], checked: set[str]) -> list[Finding]:
    """Every blob the events refer to (core/bounds.py) present, its bytes its digest."""
    found = []
    for event in events:
        for ref in refs(event.data):
            digest = ref[BLOB_KEY]
            if digest in checked:
                continue
            content = await store.get_blob(digest)
            at = f"log {event.log} #{event.seq} refers to blob {digest}"
            if content is None:
                problem = f"{at}, which the store no longer has"
            elif digest_of(content) != digest:
                problem = f"{at}, whose bytes were changed"
            else:
                checked.add(digest)
                continue
            found.append(Finding(event.log, event.seq, problem))
    return found


async def write_checkpoint(store: Store, by: str) -> Checkpoint | None:
    """Record the heads of every log changed since the latest checkpoint (of every log,
    the first time, or when the feed's positions no longer match it: after an import).

    Returns the checkpoint written, or the latest one (`written` False) when nothing
    changed since it; None when the store holds nothing to cover. A writer that raced
    another reads again and records what is still new."""

    async def act() -> Checkpoint | None:
        audit_log = await store.load(AUDIT_LOG)
        if audit_log and audit_log[0].kind != ev.AUDIT_CHECKPOINT:
            raise StoreError(
                f"this store has a log named {AUDIT_LOG!r} that is not baton's audit log (an "
                f"item of that name from before 0.2?): nothing is written to it; export the "
                "store and import it into a fresh one without it to have checkpoints"
            )
        heads, _ = fold_heads(audit_log)
        after, full = 0, True
        if audit_log:
            through = audit_log[-1].data.get("through")
            if isinstance(through, dict) and await _still_at(store, through):
                after, full = through["position"], False
        changed: dict[str, tuple[int, str]] = {}
        last: Event | None = None
        async for event in feed(store, after):
            last = event
            if event.log not in (AUDIT_LOG, VERIFIED_LOG):  # the verified log: a verify's own
                changed[event.log] = (event.seq, event.hash)
        if last is None or not changed:  # nothing new (a full one renews `through`)
            return _checkpoint(audit_log[-1], written=False) if audit_log else None
        # bounded like every event: a checkpoint of many logs is several events, one append
        entries, covered, ordered = [], dict(heads), sorted(changed.items())
        per_event = max(1, event_limit() // HEAD_BYTES - 1)
        for start in range(0, len(ordered), per_event):
            part = dict(ordered[start : start + per_event])
            data = checkpoint_data(covered, part, last, full=full, by=by)
            entries.append((ev.AUDIT_CHECKPOINT, data))
            covered.update({n: Head(s, h, 0) for n, (s, h) in part.items()})
        prev = audit_log[-1].hash if audit_log else ""
        events = chain(AUDIT_LOG, len(audit_log), prev, time.time(), entries)
        stored = await store.append(AUDIT_LOG, len(audit_log), events)
        return _checkpoint(stored[-1])

    return await retrying(act)


async def _still_at(store: Store, through: dict[str, Any]) -> bool:
    """Whether the feed's position `through` still holds the event it held (an import
    renumbers positions: then the next checkpoint is taken in full)."""
    position = through.get("position")
    if not isinstance(position, int) or position < 1:
        return False
    found = await store.read(position - 1, 1)
    return bool(found) and (found[0].position, found[0].log, found[0].seq) == (
        position,
        through.get("log"),
        through.get("seq"),
    )


async def final_checkpoint(store: Store, by: str) -> Checkpoint | None:
    """A checkpoint where work ends (a run, a worker stopping): a store out of reach is
    reported, not waited for, since the next checkpoint covers what this one would."""
    try:
        async with asyncio.timeout(FINAL_WITHIN):
            return await write_checkpoint(store, by)
    except (StoreError, TimeoutError) as exc:
        log.warning("no audit checkpoint written (the next one covers this work): %s", exc)
        return None


async def keep_checkpoints(store: Store, by: str, every: float = CHECKPOINT_EVERY) -> None:
    """Write a checkpoint every `every` seconds when something changed, until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            await write_checkpoint(store, by)
        except StoreError as exc:
            log.warning("no audit checkpoint written this time: %s", exc)
