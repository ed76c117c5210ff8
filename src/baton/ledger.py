"""Recording transitions: the one path by which anything (engine or person) writes to a log.

`commit` chains new events onto an item's folded state, redacts secrets, recomputes the
item's summary from the loop's next step, and appends with the expected version; a
racing writer makes it raise VersionConflict and nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from .errors import StoreError, VersionConflict
from .events import Event, chain
from .loop import Step, decide, runnable, status_of
from .redact import Redactor
from .state import ItemState, fold
from .store.base import ItemSummary, Store
from .types import Status

Entry = tuple[str, dict[str, Any]]
T = TypeVar("T")


def summarize(state: ItemState, now: float, step: Step | None = None) -> ItemSummary:
    """The store's index row for an item, derived from its state (and its next step)."""
    if step is None:
        step = decide(state, now)
    waiting = state.waiting["wait"] if state.waiting else None
    return ItemSummary(  # positional: this runs on every commit
        state.item_id,
        state.queue,
        _PLAIN[status_of(state, step)],
        runnable(step),
        waiting,
        state.version,
        len(state.attempts),
        str(state.spec.get("objective", ""))[:200],
        state.submitted_at,
        now,
    )


_PLAIN = {s: s.value for s in Status}  # a dict lookup is cheaper than an enum's .value


async def commit(
    store: Store,
    state: ItemState,
    entries: list[Entry],
    now: float,
    redactor: Redactor | None = None,
    follow: Callable[[ItemState, Step], list[Entry] | None] | None = None,
    running: Collection[int] = (),
) -> tuple[list[Event], Step]:
    """Append entries to the item's log; returns the stored events and the next step.

    `follow` may add the entries of steps that need no effect (refine, accept, ...) to the
    same append, so one commit records them together. `state` is advanced in place; on
    VersionConflict it is reloaded from the store and nothing was written.
    """
    expected = state.version
    events: list[Event] = []
    while True:
        if redactor:
            entries = [(kind, redactor.data(data)) for kind, data in entries]
        batch = chain(state.item_id, state.version, state.last_hash, now, entries)
        for event in batch:
            state.apply(event)
        events.extend(batch)
        step = decide(state, now, running)
        more = follow(state, step) if follow is not None else None
        if not more:
            break
        entries = more
    try:
        stored = await store.append(state.item_id, expected, events, summarize(state, now, step))
    except VersionConflict:
        fresh = fold(state.item_id, await store.load(state.item_id))
        _replace(state, fresh)
        raise
    return stored, step


def _replace(target: ItemState, source: ItemState) -> None:
    for name in ItemState.__slots__:  # type: ignore[attr-defined]
        setattr(target, name, getattr(source, name))


async def load_state(store: Store, item_id: str) -> ItemState:
    from .errors import NotFound

    events = await store.load(item_id)
    if not events:
        raise NotFound(f"no item {item_id!r} in this store")
    return fold(item_id, events)


async def retrying(action: Callable[[], Awaitable[T]], attempts: int = 10) -> T:
    """Run a read-decide-append action again when another writer got there first."""
    for _ in range(attempts - 1):
        try:
            return await action()
        except VersionConflict:
            continue
    try:
        return await action()
    except VersionConflict as exc:
        raise StoreError(f"gave up after {attempts} conflicting writes: {exc}") from exc
