"""`baton audit verify`, incremental from verify checkpoints, and in full in one pass.

A verify that finds everything whole appends a verify checkpoint to the verified log: the
head (seq, hash) of every log, where the global feed was read to (`through`), and a digest
over both. The next verify trusts it only after checking it: the verified log's own chain,
the digest recomputed over the heads it folds to, `through` still the event it names.
It then re-hashes each log that changed since (the feed after `through` names them) from
its head (or from an older audit head, when the log grew past its last audit checkpoint)
to its end, so every event appended since is chained from the checkpointed head; every
other log is held to the hashes of its heads, read for all of them at once
(`Store.hashes`): the cost is what was appended, not how many logs there are. What it
cannot see: an event at or before its log's checkpointed head whose content was edited
while the stored hashes were left alone (its own hash no longer matches it), and a blob
referred to only before the checkpoint whose bytes were changed; `full` (which
recomputes every chain from its first event, reading the feed in large pages) finds those.
An edit that rewrites the hashes to hide itself changes the head, and either finds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..core import events as ev
from ..core.bounds import BLOB_KEY, digest_of, refs
from ..core.events import BrokenLink, Event, chain, verify_chain
from ..core.vocabulary import AUDIT_LOG, VERIFIED_LOG
from ..errors import VersionConflict
from ..runtime.recording import event_limit
from ..store.base import Store
from .audit import Audit, Finding, Head, _checkpoint, archived_head, expected_hash, fold_heads
from .verify_marks import Mark, fold_marks, mark_entries

PAGE = 5000  # events per read of the feed in a full verify
LOADS = 128  # logs loaded at once in an incremental verify (a networked store overlaps them)
_SORTED = orjson.OPT_SORT_KEYS
_BLOB = f'"{BLOB_KEY}":'.encode()  # in an event's canonical JSON iff it may hold a reference


@dataclass(frozen=True)
class Verified(Audit):
    full: bool = True  # every chain recomputed from its first event
    checked: int = 0  # events re-hashed
    mark: Mark | None = None  # the verify checkpoint written, or the one started from
    note: str = ""  # why a verify asked to be incremental was full


class Chains:
    """Every log's chain checked event by event, in the order each log's events come;
    a log given a start is checked from that seq (its first event's link taken as is)."""

    def __init__(self, starts: dict[str, int], wanted: dict[str, set[int]]) -> None:
        self.starts = starts  # log -> the first seq to check (1 if absent)
        self.wanted = wanted  # log -> seqs whose hash is compared with a head afterwards
        self.ends: dict[str, list[Any]] = {}  # log -> [last seq, its hash]
        self.found: dict[tuple[str, int], str] = {}  # (log, seq) wanted -> its hash
        self.broken: dict[str, BrokenLink] = {}
        self.blobbed: list[Event] = []  # events whose JSON may hold a blob reference
        self.archived: dict[str, tuple[int, str]] = {}  # log -> (through, head) of its marker
        self.checked = 0

    def take(self, events: Sequence[Event]) -> None:
        ends, broken, wanted, found = self.ends, self.broken, self.wanted, self.found
        dumps, sha256 = orjson.dumps, hashlib.sha256
        for event in events:
            log, seq, kind, _, _, prev, digest, _ = event
            if log == VERIFIED_LOG:
                continue  # checked whole on its own
            last = ends.get(log)
            archived = ev.archived_through(event) if kind == ev.ITEM_ARCHIVED else None
            if archived is not None:  # events up to it are in an archive file
                self.archived[log] = (archived, prev)
                if last is None:  # what remains of the log begins with it
                    last = ends[log] = [archived, prev]
            if last is None:
                start = self.starts.get(log, 1)
                last = ends[log] = [start - 1, "" if start == 1 else None]
            if log not in broken:
                body = dumps(event[:6], option=_SORTED)
                self.checked += 1
                if seq != last[0] + 1:
                    broken[log] = BrokenLink(log, seq, f"expected seq {last[0] + 1}")
                elif last[1] is not None and prev != last[1]:
                    broken[log] = BrokenLink(log, seq, "prev does not match the previous hash")
                elif sha256(body).hexdigest() != digest:
                    broken[log] = BrokenLink(log, seq, "content does not match its hash")
                elif _BLOB in body:
                    self.blobbed.append(event)
            last[0], last[1] = seq, digest
            if log in wanted and seq in wanted[log]:
                found[(log, seq)] = digest

    def held(self, log: str, head: Head | None, by: str) -> Finding | None:
        """What is wrong with a log against a head recorded of it (`by`: who recorded it)."""
        if head is None:
            return None
        ends = self.ends[log][0] if log in self.ends else 0
        where = f"{by} {head.checkpoint} recorded seq {head.seq} (hash {head.hash[:16]}...)"
        archived, last = self.archived.get(log, (0, ""))
        if head.seq <= archived:  # in the archive file its marker names
            return archived_head(log, head, archived, last, where)
        if ends == 0:
            return Finding(log, head.seq, f"log {log} is gone but {where}")
        if ends < head.seq:
            return Finding(log, head.seq, f"log {log} ends at seq {ends} but {where}")
        there = self.found.get((log, head.seq))
        if there != head.hash:
            other = f"{there[:16]}..." if there else "none"
            problem = f"log {log} has another event at seq {head.seq} (hash {other}) than {where}"
            return Finding(log, head.seq, problem)
        return None


# --- reading the store ----------------------------------------------------------------------


async def verify(
    store: Store,
    expect: str | None = None,
    *,
    full: bool = False,
    by: str = "",
    record: bool = True,
) -> Verified:
    """Verify the store from its latest verify checkpoint (everything, with `full` or
    without a checkpoint that holds); with `record`, a verify that finds everything whole
    writes the next checkpoint. `expect`: as `audit.verify_store`."""
    wanted_head = expected_hash(expect) if expect is not None else None
    marks_log = await store.load(VERIFIED_LOG)
    broken: list[BrokenLink] = []
    findings: list[Finding] = []
    mark, note, ours = None, "", not marks_log or marks_log[0].kind == ev.AUDIT_VERIFIED
    if not ours:
        note = f"the log {VERIFIED_LOG!r} is not baton's (an item of that name?): no checkpoint"
    elif (link := verify_chain(marks_log)) is not None:
        broken.append(link)
    else:
        mark, findings = fold_marks(marks_log)
        if mark is not None and not await _still_at(store, mark.through):
            note, mark = "the feed's positions moved since the checkpoint (an import?)", None
    if mark is None and not note:
        note = "no verify checkpoint yet" if not findings else "the verify checkpoint is bad"
    start_from = None if full or mark is None else mark
    audit_log = await store.load(AUDIT_LOG)
    audit_heads, audit_findings = fold_heads(audit_log)
    findings.extend(audit_findings)
    rows = {row.item_id: row.version for row in await store.query(limit=None)}
    verified = mark.heads if mark is not None else {}
    wanted: dict[str, set[int]] = {}
    for heads in (audit_heads, verified):
        for name, recorded in heads.items():
            wanted.setdefault(name, set()).add(recorded[0])
    if start_from is None:
        chains, through = await _full(store, wanted)
    else:
        chains, through = await _since(store, start_from, audit_heads, wanted)
    named = dict.fromkeys([*chains.ends, AUDIT_LOG, *audit_heads, *verified, *rows])
    named.pop(VERIFIED_LOG, None)
    missing = [n for n in named if n not in chains.ends]
    for name in missing:  # a log the feed did not show (the feed itself edited?)
        chains.take(await store.load(name))
    broken.extend(chains.broken.values())
    behind = 0
    for name in named:
        ends = chains.ends[name][0] if name in chains.ends else 0
        mine = [chains.held(name, audit_heads.get(name), "checkpoint")]
        if name != AUDIT_LOG:
            row = rows.get(name)
            if row is not None and row > ends:
                now = "is gone" if ends == 0 else f"ends at seq {ends}"
                problem = f"log {name} {now} but its index row says version {row}"
                mine.append(Finding(name, row, problem))
            head = audit_heads.get(name)
            behind += max(0, ends - (head.seq if head else 0))
        if not any(mine) and name in verified:
            seq, digest = verified[name]
            number = mark.number if mark is not None else 0
            mine.append(chains.held(name, Head(seq, digest, number), "verify checkpoint"))
        findings.extend(f for f in mine if f is not None)
    findings.extend(await _blobs_held(store, chains.blobbed))
    if wanted_head is not None and not any(e.hash == wanted_head for e in audit_log):
        last = f", the last {audit_log[-1].hash}" if audit_log else ""
        problem = (
            f"the audit log holds no checkpoint {wanted_head} ({len(audit_log)} checkpoint(s)"
            f"{last}): it was cut short, or rewritten"
        )
        findings.append(Finding(AUDIT_LOG, len(audit_log), problem))
    logs = len(chains.ends) + (1 if marks_log else 0)
    events = sum(end[0] for end in chains.ends.values()) + len(marks_log)
    latest = _checkpoint(audit_log[-1]) if audit_log else None
    result = Verified(
        logs, events, broken, findings, latest, behind, start_from is None, chains.checked, mark
    )
    result = replace(result, note="" if full else note)
    if result.ok and record and ours and through is not None:
        heads = {n: (end[0], end[1]) for n, end in chains.ends.items()}
        written = await _write_mark(store, marks_log, mark, heads, through, by)
        result = replace(result, mark=written or mark)
    return result


async def _full(store: Store, wanted: dict[str, set[int]]) -> tuple[Chains, dict[str, Any] | None]:
    """Every event from the feed in large pages, hashed on a worker thread while the next
    page is read (the event loop stays free)."""
    chains = Chains({}, wanted)
    after, last, pending = 0, None, None
    while True:
        page = await store.read(after, PAGE)
        if pending is not None:
            await pending
            pending = None
        if not page:
            break
        last, after = page[-1], page[-1].position
        pending = asyncio.ensure_future(asyncio.to_thread(chains.take, page))
        if len(page) < PAGE:
            break
    if pending is not None:
        await pending
    return chains, _through(last)


async def _since(
    store: Store, mark: Mark, audit_heads: dict[str, Head], wanted: dict[str, set[int]]
) -> tuple[Chains, dict[str, Any] | None]:
    """Each log that changed since the checkpoint (the feed after `through` names them)
    from its checkpointed head (or its audit head, if older) to its end, new ones in full;
    every other log held to its heads through one read of their hashes (`Store.hashes`),
    so the cost is what was appended, not how many logs there are."""
    position = mark.through["position"]
    new: dict[str, None] = {}
    last = None
    while page := await store.read(position, PAGE):
        for event in page:
            new.setdefault(event.log, None)
        last, position = page[-1], page[-1].position
    starts = {}
    for name, (seq, _) in mark.heads.items():
        audit = audit_heads.get(name)
        starts[name] = min(seq, audit.seq) if audit is not None and audit.seq > 0 else seq
    chains = Chains(starts, wanted)
    still = {  # each log that did not change, and the seqs whose hashes it is held to
        n: {mark.heads[n][0], starts[n]} | wanted.get(n, set())
        for n in mark.heads
        if n not in new and n != VERIFIED_LOG
    }
    held = await store.hashes([(n, seq) for n, seqs in still.items() for seq in seqs])
    moved = []  # an event it was held to is gone (cut short, archived): loaded instead
    for name, seqs in still.items():
        if any((name, seq) not in held for seq in seqs):
            moved.append(name)
            continue
        chains.ends[name] = [mark.heads[name][0], held[(name, mark.heads[name][0])]]
        chains.found.update({(name, seq): held[(name, seq)] for seq in seqs})
    names = [n for n in dict.fromkeys([*moved, *new]) if n != VERIFIED_LOG]
    for i in range(0, len(names), LOADS):
        part = names[i : i + LOADS]
        loaded = await asyncio.gather(*(store.load(n, starts.get(n, 1) - 1) for n in part))
        for name, events in zip(part, loaded, strict=True):
            if not events and name in starts:  # cut below its head: where does it end?
                del starts[name]
                events = await store.load(name)
            chains.take(events)
        await asyncio.sleep(0)  # let the event loop breathe between batches
    return chains, _through(last) if last is not None else mark.through


def _through(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"position": event.position, "log": event.log, "seq": event.seq}


async def _still_at(store: Store, through: dict[str, Any]) -> bool:
    """Whether the feed's position `through` still holds the event it names."""
    position = through.get("position")
    if not isinstance(position, int) or position < 1:
        return False
    found = await store.read(position - 1, 1)
    return bool(found) and (found[0].position, found[0].log, found[0].seq) == (
        position,
        through.get("log"),
        through.get("seq"),
    )


async def _blobs_held(store: Store, events: list[Event]) -> list[Finding]:
    """Every blob these events refer to present, its bytes its digest."""
    found, checked = [], set()
    for event in events:
        for ref in refs(event.data):
            digest = ref[BLOB_KEY]
            if digest in checked:
                continue
            content = await store.get_blob(digest)
            at = f"log {event.log} #{event.seq} refers to blob {digest}"
            if content is None:
                found.append(Finding(event.log, event.seq, f"{at}, which the store no longer has"))
            elif digest_of(content) != digest:
                found.append(Finding(event.log, event.seq, f"{at}, whose bytes were changed"))
            else:
                checked.add(digest)
    return found


async def _write_mark(
    store: Store,
    marks_log: list[Event],
    mark: Mark | None,
    heads: dict[str, tuple[int, str]],
    through: dict[str, Any],
    by: str,
) -> Mark | None:
    """Append the next verify checkpoint, unless nothing changed since `mark`; a verify
    that raced another leaves the checkpoint to it."""
    if mark is not None and mark.heads == heads:
        return None
    before = mark.heads if mark is not None else {}
    entries = mark_entries(before, heads, through, full=mark is None, by=by, limit=event_limit())
    prev = marks_log[-1].hash if marks_log else ""
    events = chain(VERIFIED_LOG, len(marks_log), prev, time.time(), entries)
    try:
        stored = await store.append(VERIFIED_LOG, len(marks_log), events)
    except VersionConflict:
        return None
    last = stored[-1]
    return Mark(last.seq, heads, through, last.data["digest"], mark is None, last.at)
