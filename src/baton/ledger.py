"""Recording transitions: the one path by which anything (engine or person) writes to a log.

`commit` chains new events onto an item's folded state, redacts secrets, recomputes the
item's summary from the loop's next step, and appends with the expected version; a
racing writer makes it raise VersionConflict and nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

from .core.bookkeeping import Entry
from .core.events import Event
from .core.loop import Step
from .core.state import ItemState, fold
from .core.transition import settle
from .errors import StoreError, VersionConflict
from .redact import Redactor
from .store.base import Store

T = TypeVar("T")


async def commit(
    store: Store,
    state: ItemState,
    entries: list[Entry],
    now: float,
    redactor: Redactor | None = None,
    follow: bool = False,
    running: Collection[int] = (),
) -> tuple[list[Event], Step]:
    """Append entries to the item's log; returns the stored events and the next step.

    With `follow`, the entries of steps that need no effect (refine, accept, ...) go into
    the same append. `state` is advanced in place; on VersionConflict it is reloaded from
    the store and nothing was written.
    """
    if redactor:
        entries = [(kind, redactor.data(data)) for kind, data in entries]
    t = settle(state, entries, now, running, follow=follow)
    try:
        stored = await store.append(t.log, t.expected, t.events, t.summary)
    except VersionConflict:
        fresh = fold(state.item_id, await store.load(state.item_id))
        _replace(state, fresh)
        raise
    return stored, t.step


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
