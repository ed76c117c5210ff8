"""The write path: a transition appended to its item's log, and nothing more.

Whatever writes an item's log (the engine's driver, a person's action) first settles its
entries into a `Transition` (core/transition.py, pure: it chains, folds and decides what
follows), then records it: one append with the expected version, returning what the
store stored. A racing writer is, for the engine, the named outcome `Conflict` (the state
is reloaded and the next step decided again); a person's action raises VersionConflict,
which `retrying` answers by running the action again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..core.events import Event
from ..core.state import ItemState, fold
from ..core.transition import Transition
from ..core.vocabulary import RESERVED_LOGS
from ..errors import NotFound, StoreError, VersionConflict
from ..store.base import Store

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Conflict:
    """Another writer moved the item's log first: nothing was written, the state has been
    reloaded, and the next step must be decided again."""

    log: str
    expected: int
    actual: int


async def record(store: Store, transition: Transition, fence: int | None = None) -> list[Event]:
    """Append a transition; its events as stored (with their global positions).

    Raises VersionConflict, having written nothing, when the log is no longer at the
    version the transition follows; with the `fence` of the writer's lease (an engine's
    writes), LeaseLost when another engine has claimed the item since."""
    t = transition
    return await store.append(t.log, t.expected, t.events, t.summary, fence=fence)


async def reload(store: Store, state: ItemState) -> None:
    """Replace `state` in place with the item's state as the store has it now (everyone
    holding this state object sees the fresh one)."""
    fresh = fold(state.item_id, await store.load(state.item_id))
    for f in dataclasses.fields(ItemState):
        setattr(state, f.name, getattr(fresh, f.name))


async def load_state(store: Store, item_id: str) -> ItemState:
    """An item's state folded from its log; NotFound for an item the store does not have,
    and for baton's own logs (fleet, auth, audit), which are never items."""
    if item_id in RESERVED_LOGS:
        raise NotFound(f"{item_id!r} is baton's own log (the {item_id} log), not an item")
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
