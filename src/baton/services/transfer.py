"""Moving a whole history between stores (SQLite to Redis and back) with its hashes intact,
and starting a store afresh with a copy of its history kept.

An export is JSON lines: every event of every log in the store's global order, exactly as
recorded (`Event.to_dict`). An import checks the whole file first (each line's fields,
each log's hash chain, and that the target holds nothing that disagrees with it), then
appends the events in the same order, recomputing each item's index row by folding its
log. A target log that already holds the start of an imported log (an import that was cut
off) is continued, so running an import again is safe; anything else changes nothing.
The audit log's checkpoints come along and stay valid (they record each log's seq and
hash, not positions); a target with checkpoints of its own keeps them instead and signs
the imported logs off with a new one, once they were checked against the export's.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..core import events as ev
from ..core.bounds import BLOB_KEY, DIGEST, digest_of, refs
from ..core.events import Event, verify_chain
from ..core.index import summarize
from ..core.state import ItemState
from ..core.tally import Tally, tally
from ..core.vocabulary import AUDIT_LOG
from ..errors import InputError, Problem, StoreError
from ..store.base import Store
from ..store.feed import feed
from .audit import compare, fold_heads, write_checkpoint

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "log": str,
    "seq": int,
    "kind": str,
    "at": (int, float),
    "data": dict,
    "prev": str,
    "hash": str,
}


async def export_lines(store: Store) -> AsyncIterator[bytes]:
    """Every event of the store as one JSON line each, in global order; each blob an event
    refers to as a line `{"blob": DIGEST, "base64": ...}` just before its first event."""
    sent: set[str] = set()
    async for event in feed(store):
        async for line in event_lines(store, [event], sent):
            yield line


async def event_lines(
    store: Store, events: Iterable[Event], sent: set[str]
) -> AsyncIterator[bytes]:
    """The export's lines of `events`: each blob an event refers to (and that is not in
    `sent`, which this fills) as a line just before that event."""
    for event in events:
        for ref in refs(event.data):
            digest = ref[BLOB_KEY]
            if digest in sent:
                continue
            content = await store.get_blob(digest)
            if content is None:
                raise StoreError(
                    f"{event.log} #{event.seq} refers to blob {digest}, which is missing"
                )
            sent.add(digest)
            yield orjson.dumps({"blob": digest, "base64": base64.b64encode(content).decode()})
            yield b"\n"
        yield orjson.dumps(event.to_dict()) + b"\n"


@dataclass(frozen=True)
class Imported:
    events: int  # appended now
    skipped: int  # already in the target (a resumed import)
    logs: int
    items: int
    # the target kept its own audit log: the export's checkpoints, checked against its
    # logs, were not carried over; a new checkpoint in the target covers what came in
    merged_audit: bool = False


def parse_lines(lines: Iterable[bytes | str], source: str) -> tuple[list[Event], dict[str, bytes]]:
    """The events of an export and its blobs; every malformed line is a Problem naming its
    line and field (a blob whose content does not match its digest too)."""
    found: list[Event] = []
    blobs: dict[str, bytes] = {}
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(Problem(source, number, "", f"not JSON: {exc}"))
            continue
        if not isinstance(raw, dict):
            problems.append(Problem(source, number, "", "expected a JSON object (one event)"))
            continue
        if "blob" in raw:
            problem = blob_line(raw, blobs)
            if problem:
                problems.append(Problem(source, number, *problem))
            continue
        bad = [
            Problem(source, number, name, f"expected {_type_name(kind)}, got {raw.get(name)!r:.60}")
            for name, kind in _FIELDS.items()
            if not isinstance(raw.get(name), kind) or isinstance(raw.get(name), bool)
        ]
        if bad:
            problems.extend(bad)
            continue
        found.append(Event.from_dict(raw)._replace(position=0))
    missing = {r[BLOB_KEY] for e in found for r in refs(e.data)} - blobs.keys()
    if missing:
        problems.append(
            Problem(
                source,
                None,
                "blob",
                f"{len(missing)} blob(s) the events refer to are not in "
                f"the file, e.g. {sorted(missing)[0]}",
            )
        )
    if problems:
        raise InputError(problems[:50])
    return found, blobs


def blob_line(raw: dict[str, Any], blobs: dict[str, bytes]) -> tuple[str, str] | None:
    """Keep a blob line's content; (field, problem) if it is not one."""
    digest, encoded = raw.get("blob"), raw.get("base64")
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        return "blob", f"expected a digest sha256:<64 hex>, got {digest!r:.80}"
    if not isinstance(encoded, str):
        return "base64", f"expected the blob's bytes in base64, got {encoded!r:.60}"
    try:
        content = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        return "base64", f"not base64: {exc}"
    if digest_of(content) != digest:
        return "base64", f"the content's digest is {digest_of(content)}, not {digest}"
    blobs[digest] = content
    return None


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", dict: "an object", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return names[kinds[-1]]


def check_chains(events: list[Event], source: str) -> dict[str, list[Event]]:
    """The events by log, each log's hash chain checked whole (from its first event), and
    each log held to the heads the export's own audit checkpoints recorded (an export
    whose logs were cut short is refused like one that was edited)."""
    logs: dict[str, list[Event]] = {}
    for event in events:
        logs.setdefault(event.log, []).append(event)
    problems = []
    for log, chain in logs.items():
        broken = verify_chain(chain)
        if broken is not None:
            problems.append(
                Problem(source, None, f"log {log}", f"seq {broken.seq}: {broken.reason}")
            )
    heads, findings = fold_heads(logs.get(AUDIT_LOG, []))
    for log in dict.fromkeys([*logs, *heads]):
        if log != AUDIT_LOG:
            findings.extend(compare(log, logs.get(log, []), heads.get(log), None))
    problems.extend(Problem(source, None, f"log {f.log}", f.problem) for f in findings)
    if problems:
        raise InputError(problems)
    return logs


async def import_events(
    store: Store, events: list[Event], source: str, blobs: Mapping[str, bytes] | None = None
) -> Imported:
    """Append an export's events to `store` (its blobs first), checked first; returns what
    was written."""
    logs = check_chains(events, source)
    problems = []
    present: dict[str, int] = {}
    earlier: dict[str, list[Event]] = {}  # the target's events before an archive marker
    merged = False
    for log, chain in logs.items():
        existing = await store.load(log)
        first = chain[0].seq  # 1, or the seq of the marker of an archive of the rest
        if not existing and first == 1:
            continue
        ends = existing[-1].seq if existing else 0
        theirs = {e.seq: e.hash for e in chain}
        if first > 1 and not any(e.seq == first - 1 and e.hash == chain[0].prev for e in existing):
            d = chain[0].data
            problem = (
                f"its events 1..{first - 1} were archived to {d.get('archive')} (sha256 "
                f"{d.get('sha256')}): import that file first, then this one"
            )
            problems.append(Problem(source, None, f"log {log}", problem))
            continue
        if ends > chain[-1].seq or any(theirs.get(e.seq, e.hash) != e.hash for e in existing):
            if log == AUDIT_LOG:  # the target's own checkpoints: the export's were checked
                merged = True  # above, and a checkpoint in the target signs them off after
                continue
            problems.append(
                Problem(
                    source,
                    None,
                    f"log {log}",
                    f"the target store already has a different history for it "
                    f"({len(existing)} events): import into an empty store (or another prefix)",
                )
            )
        present[log] = ends
        if first > 1:
            earlier[log] = [e for e in existing if e.seq < first]
    if problems:
        raise InputError(problems)

    await store.put_blobs(blobs or {})
    if merged:
        events = [e for e in events if e.log != AUDIT_LOG]
    states: dict[str, ItemState] = {}
    written = skipped = 0
    for log, run in _runs(events):
        state = states.get(log)
        if state is None:
            state = states[log] = ItemState(log)
            for event in earlier.get(log, ()):  # folded, not counted: counted when they came
                state.apply(event)
        have = present.get(log, 0)
        is_item = _is_item(logs[log][0])
        counters = Tally()  # what the new events add to the read model
        for event in run:
            if is_item and event.seq > have:
                tally(state, event, counters)
            else:
                state.apply(event)
        new = [e for e in run if e.seq > have]
        skipped += len(run) - len(new)
        if not new:
            continue
        row = summarize(state, run[-1].at) if is_item else None
        await store.append(log, new[0].seq - 1, new, row, tally=counters)
        written += len(new)
    items = sum(1 for chain in logs.values() if _is_item(chain[0]))
    if merged:
        await write_checkpoint(store, f"import:{source}")
    return Imported(written, skipped, len(logs), items, merged)


def _is_item(first: Event) -> bool:
    """Whether a log is an item's: it begins with its submission, or with the marker of
    an archive that holds the events before it."""
    return first.kind == ev.ITEM_SUBMITTED or ev.archived_through(first) is not None


def _runs(events: list[Event]) -> Iterable[tuple[str, list[Event]]]:
    """Consecutive events of one log, in order: one append each, global order kept."""
    run: list[Event] = []
    for event in events:
        if run and event.log != run[0].log:
            yield run[0].log, run
            run = []
        run.append(event)
    if run:
        yield run[0].log, run


@dataclass(frozen=True)
class Census:
    """What a store holds."""

    events: int
    logs: int
    items: int


class _Tally:
    def __init__(self) -> None:
        self.events = 0
        self.logs: set[str] = set()
        self.items = 0

    def add(self, event: Event) -> None:
        self.events += 1
        self.logs.add(event.log)
        self.items += event.kind == ev.ITEM_SUBMITTED

    def census(self) -> Census:
        return Census(self.events, len(self.logs), self.items)


async def census(store: Store) -> Census:
    """How many events, logs and items the store holds (read from the feed)."""
    tally = _Tally()
    async for event in feed(store):
        tally.add(event)
    return tally.census()


async def reset(store: Store, backup: Path) -> Census:
    """Empty the store, having first written its whole history to `backup` (an export
    `baton import` takes back); what was in it. An existing `backup` is never overwritten."""
    backup.parent.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    with backup.open("xb") as out:
        async for line in export_lines(store):  # with the blobs the events refer to
            out.write(line)
        out.flush()
        os.fsync(out.fileno())  # the copy is on disk before anything is deleted
    async for event in feed(store):
        tally.add(event)
    await store.drop()
    return tally.census()
