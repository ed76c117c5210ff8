"""Retention: finished items' logs moved out of the store into compressed export files.

`archive` takes every item that ended (accepted, failed or cancelled; an escalation is a
person's, so it stays) and has not changed since a cut-off, and:

1. writes their logs, with the blobs they refer to, to one gzip file of JSON lines (the
   `baton export` format, each log's events together: `baton import` takes it), under a
   temporary name, flushed to disk;
2. reads the file back and checks it whole (every line, every log's hash chain, as many
   events as were written) before anything in the store changes, then gives it its name;
3. for each item, appends a marker to its log (`item.archived`: what was archived
   through which seq, that event's hash, the file's name and sha256, and what the item's
   events add to the read model's counters, packed), then drops the events before it
   (`Store.forget`).

So the store keeps every archived item's index row and a head its audit can hold it to
(a log that loses events without such a record is still found), and the counters (and a
`--rebuild` from what is left) keep the archived items' figures. An item that moved while
its file was written keeps its events (the file holds a copy of what it had). A run cut
off after a marker is finished by the next one.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..core import events as ev
from ..core.events import Event, chain, verify_chain
from ..core.index import ItemSummary
from ..core.state import ItemState
from ..core.tally import Tally, pack, tally
from ..core.vocabulary import Status
from ..errors import InputError, StoreError, VersionConflict
from ..store.base import Store
from ..store.blobfiles import sync_folder
from ..store.paging import position
from .transfer import blob_line, event_lines

ENDED = frozenset({Status.ACCEPTED.value, Status.FAILED.value, Status.CANCELLED.value})
PAGE = 1000  # index rows read at once
AT_ONCE = 64  # logs loaded at once (what a networked store's latency needs)


@dataclass(frozen=True)
class Archived:
    """What a run did (or, on a dry run, would do)."""

    path: Path | None  # the file written (None: nothing to archive, or a dry run)
    items: int  # archived now
    events: int  # moved to the file
    size: int  # the file's bytes
    sha256: str
    changed: int  # chosen, but changed while the file was written: left in the store
    finished: int  # archived by an earlier run that was cut off, finished now
    dry_run: bool = False


async def archive(
    store: Store,
    before: float,
    folder: Path,
    *,
    by: str,
    dry_run: bool = False,
    limit: int | None = None,
) -> Archived:
    """Move the logs of items that ended before `before` (a time) into a new file in
    `folder` (at most `limit` items); see the module's docstring."""
    chosen, finished = await _choose(store, before, limit, repair=not dry_run)
    if dry_run or not chosen:
        events = sum(r.version for r in chosen)
        return Archived(None, len(chosen), events, 0, "", 0, finished, dry_run)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = folder / f"baton-archive-{stamp}-{os.getpid()}.jsonl.gz"
    partial = path.with_name(path.name + ".partial")
    try:
        written = await _write(store, chosen, partial)
        digest, size = _check(partial, written)
        os.replace(partial, path)
        sync_folder(folder)  # the new name on disk too
    finally:
        partial.unlink(missing_ok=True)
    done, changed, moved = 0, 0, 0
    for part in _parts(chosen, AT_ONCE):
        results = await asyncio.gather(
            *(_mark(store, row, written[row.item_id], path.name, digest, by) for row in part)
        )
        for row, ok in zip(part, results, strict=True):
            if ok:
                done += 1
                moved += written[row.item_id]
            else:
                changed += 1
    return Archived(path, done, moved, size, digest, changed, finished)


async def _choose(
    store: Store, before: float, limit: int | None, *, repair: bool
) -> tuple[list[ItemSummary], int]:
    """The items to archive, oldest first, and how many markers of a run that was cut
    off were finished (their events dropped) on the way."""
    chosen: list[ItemSummary] = []
    finished = 0
    async for row, last in _ended(store, lambda r: r.updated_at < before):
        through = ev.archived_through(last) if last else None
        if through is None:
            chosen.append(row)
            if limit is not None and len(chosen) >= limit:
                break
        elif repair:  # archived already: drop what a cut-off run left behind
            finished += await store.forget(row.item_id, through) > 0
    return chosen, finished


async def _ended(
    store: Store, keep: Callable[[ItemSummary], bool]
) -> AsyncIterator[tuple[ItemSummary, Event | None]]:
    """Each ended item's row that `keep` takes, with its last event, in creation order:
    every row read once (a page searches the index from its cursor), the last events
    loaded AT_ONCE at a time."""
    cursor = None
    while True:
        rows = await store.query(cursor=cursor, limit=PAGE)
        ended = [r for r in rows if r.status in ENDED and not r.runnable and r.version and keep(r)]
        for part in _parts(ended, AT_ONCE):
            lasts = await asyncio.gather(*(store.load(r.item_id, r.version - 1) for r in part))
            for row, last in zip(part, lasts, strict=True):
                yield row, last[0] if last else None
        if len(rows) < PAGE:
            return
        cursor = position(rows[-1])


async def _write(store: Store, rows: list[ItemSummary], partial: Path) -> dict[str, int]:
    """Each item's log (checked first) into the file; the events written per item."""
    written: dict[str, int] = {}
    sent: set[str] = set()  # blobs in the file already
    with partial.open("xb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        for part in _parts(rows, AT_ONCE):
            logs = await asyncio.gather(*(store.load(r.item_id) for r in part))
            for row, events in zip(part, logs, strict=True):
                _whole(row, events)
                async for line in event_lines(store, events, sent):
                    out.write(line)
                written[row.item_id] = len(events)
        out.close()
        raw.flush()
        os.fsync(raw.fileno())  # on disk before any event leaves the store
    return written


def _whole(row: ItemSummary, events: list[Event]) -> None:
    """Refuse to archive a log that is not whole: its chain must hold, from seq 1 to
    the version its index row names."""
    broken = verify_chain(events)
    problem = None
    if broken is not None:
        problem = f"its hash chain is broken at seq {broken.seq} ({broken.reason})"
    elif not events or events[0].seq != 1 or events[-1].seq != row.version:
        ends = events[-1].seq if events else 0
        problem = f"it holds seq 1..{ends} but its index row says version {row.version}"
    if problem:
        raise StoreError(
            f"item {row.item_id!r} was not archived: {problem}. Nothing was archived; "
            "`baton audit verify` says more"
        )


def _check(path: Path, written: dict[str, int]) -> tuple[str, int]:
    """The file read back whole, a line at a time: every blob's bytes against its digest,
    every log's hash chain, every event; its sha256 and size."""
    counted: dict[str, int] = {}
    run: list[Event] = []

    def close_run() -> None:
        if run:
            broken = verify_chain(run)
            if broken is not None or run[0].log in counted:
                raise StoreError(f"{path}: log {run[0].log} does not read back whole")
            counted[run[0].log] = len(run)
            run.clear()

    try:
        with gzip.open(path, "rb") as lines:
            for line in lines:
                raw = orjson.loads(line)
                if "blob" in raw:
                    if blob_line(raw, {}) is not None:
                        raise StoreError(f"{path}: blob {raw['blob']} does not read back")
                    continue
                event = Event.from_dict(raw)
                if run and run[0].log != event.log:
                    close_run()
                run.append(event)
        close_run()
    except (OSError, EOFError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: the archive just written does not read back: {exc}") from exc
    if counted != written:
        raise StoreError(f"{path}: the archive just written does not hold every event it should")
    return _sha256(path), path.stat().st_size


def _sha256(path: Path) -> str:
    """The file's sha256, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def _mark(
    store: Store, row: ItemSummary, through: int, name: str, digest: str, by: str
) -> bool:
    """The item's marker appended, then its archived events dropped; False if the item
    moved since it was written to the file (it keeps its events)."""
    events = await store.load(row.item_id)
    if not events or events[-1].seq != through or events[0].seq != 1:
        return False
    counters = Tally()
    state = ItemState(row.item_id)
    for event in events:
        tally(state, event, counters)
    data: dict[str, Any] = {
        "through": through,
        "head": events[-1].hash,
        "archive": name,
        "sha256": digest,
        "tally": pack(counters),
        "by": by,
    }
    marker = chain(row.item_id, through, events[-1].hash, time.time(), [(ev.ITEM_ARCHIVED, data)])
    kept = row._replace(version=through + 1, lease_owner=None, lease_until=None)
    try:
        await store.append(row.item_id, through, marker, kept)
    except VersionConflict:
        return False
    await store.forget(row.item_id, through)
    return True


@dataclass(frozen=True)
class Held:
    """One archive file as the store's markers name it, and what was found of it."""

    name: str
    sha256: str  # what the markers recorded
    items: int  # how many archived items it holds
    problem: str = ""  # "" when the file is there, whole


async def check_files(store: Store, folder: Path) -> list[Held]:
    """Every archive file the store's markers name, held to the sha256 they recorded:
    missing, unreadable or changed files are named (the archived items' only record)."""
    named: dict[tuple[str, str], int] = {}
    async for _, last in _ended(store, lambda r: r.version > 1):
        if last is not None and ev.archived_through(last) is not None:
            key = (str(last.data.get("archive")), str(last.data.get("sha256")))
            named[key] = named.get(key, 0) + 1
    found = []
    for (name, digest), items in sorted(named.items()):
        plain = Path(name).name == name and name not in ("", ".", "..")
        problem = _problem(folder / name, digest) if plain else f"{name!r} is not a file name"
        found.append(Held(name, digest, items, problem))
    return found


def _problem(path: Path, digest: str) -> str:
    """What is wrong with an archive file against the sha256 recorded of it ("": none)."""
    if not path.is_file():
        return f"{path} is missing"
    try:
        found = _sha256(path)
    except OSError as exc:
        return f"{path} cannot be read: {exc}"
    if found != digest:
        return f"{path} has sha256 {found}, not {digest} as recorded: it changed"
    return ""


def cutoff(before: str | None, older_than: str | None, now: float) -> float:
    """The time `--before DATE` or `--older-than AGE` names; InputError saying what is
    wrong with anything else."""
    if (before is None) == (older_than is None):
        raise InputError("say which items to archive: --before DATE or --older-than AGE (one)")
    if older_than is not None:
        return now - _age(older_than)
    assert before is not None
    return _date(before)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _age(text: str) -> float:
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    try:
        amount = float(value)
    except ValueError:
        amount = -1.0
    if unit not in _UNITS or not amount > 0:
        raise InputError(
            f"--older-than: {text!r} is not an age (a positive number and a unit s, m, h, d "
            "or w: 30d, 12h, 2w)"
        )
    return amount * _UNITS[unit]


def _date(text: str) -> float:
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--before: {text!r} is not a date (ISO 8601: 2026-11-01, or "
            "2026-11-01T12:00, or with an offset: 2026-11-01T12:00+01:00; UTC if none)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _parts(rows: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
