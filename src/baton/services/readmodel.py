"""The read model of the figures: the counters every commit keeps (core/tally.py), read
as they are, or rebuilt from the event log when they do not cover it.

A store an older baton wrote has events but no counters (no `meta|version`, or an older
one): the first read rebuilds them, once. `baton metrics --rebuild` does so on demand and
says which counters it found wrong; it must find none, as a test on randomised histories
checks on every backend.

A rebuild reads the log twice without holding it in memory: once for the item ids and
the newest position P, then item by item (their events up to P). What was appended while
it ran is folded on top (each touched item's earlier events folded again, uncounted, to
know its state), and the result replaces the counters only if nothing was appended since
the position it covers; else it catches up again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.state import ItemState
from ..core.tally import META, VERSION, Tally, tally
from ..core.vocabulary import RESERVED_LOGS
from ..errors import StoreError
from ..store.base import Store

PAGE = 1000
AT_ONCE = 32  # items loaded concurrently (what a networked store's latency needs)
ROUNDS = 20  # catch-ups before a rebuild gives up on a store that never stops moving


@dataclass
class Rebuilt:
    """What a rebuild found: the counters, the position they cover, and the ones the
    store held that differed from them (name -> (held, rebuilt)), compared at the
    position the rebuild started from (nothing is compared if the store moved while
    the held counters were read)."""

    counters: Tally
    through: int
    differences: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)


async def current(store: Store, prefix: str | tuple[str, ...] = "") -> dict[str, int]:
    """The counters whose names start with `prefix` (or with any of several), rebuilt
    first if they do not cover the store's log."""
    prefixes = (prefix,) if isinstance(prefix, str) else prefix
    if (await store.tallies("meta|")).get(META) == VERSION:
        found: dict[str, int] = {}
        for each in prefixes:
            found.update(await store.tallies(each))
        return found
    counters = (await rebuild(store)).counters
    return {k: v for k, v in counters.items() if k.startswith(prefixes)}


async def rebuild(store: Store) -> Rebuilt:
    """Recompute every counter from the log and put them in place of the store's."""
    held = await store.tallies()
    ids, through = await _logs(store, 0)
    if await store.tallies() != held:  # moved meanwhile: what was held is not of `through`
        held = {}
    counters = Tally({META: VERSION})
    for chunk in _chunks(ids, AT_ONCE):
        for events in await asyncio.gather(*(store.load(log) for log in chunk)):
            if not events:
                continue
            state = ItemState(events[0].log)
            for e in events:
                if e.position <= through:
                    tally(state, e, counters)
    differences = _differences(held, counters)
    for _ in range(ROUNDS):
        if await store.put_tallies(counters, through=through):
            return Rebuilt(counters, through, differences)
        through = await _catch_up(store, counters, through)
    raise StoreError(
        f"the counters could not be rebuilt: events kept arriving through {ROUNDS} "
        "catch-ups; run `baton metrics --rebuild` again when the store is quieter"
    )


async def _logs(store: Store, after: int) -> tuple[list[str], int]:
    """The item logs with events after `after` (in order of their first such event),
    and the newest position."""
    seen: dict[str, None] = {}
    position = after
    while page := await store.read(position, PAGE):
        for e in page:
            if e.log not in RESERVED_LOGS:
                seen[e.log] = None
        position = page[-1].position
    return list(seen), position


async def _catch_up(store: Store, counters: Tally, after: int) -> int:
    """Add to `counters` what was appended after position `after`; the new position."""
    logs, through = await _logs(store, after)
    for chunk in _chunks(logs, AT_ONCE):
        for events in await asyncio.gather(*(store.load(log) for log in chunk)):
            state = ItemState(events[0].log) if events else ItemState("")
            for e in events:
                if e.position <= after:
                    tally(state, e, Tally())  # its state then, counted already
                elif e.position <= through:
                    tally(state, e, counters)
    return through


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _differences(held: dict[str, int], rebuilt: Tally) -> dict[str, tuple[int | None, int | None]]:
    if held.get(META) != VERSION:  # nothing was kept: nothing to compare with
        return {}
    return {
        name: (held.get(name), rebuilt.get(name))
        for name in sorted(set(held) | set(rebuilt))
        if held.get(name, 0) != rebuilt.get(name, 0)
    }
