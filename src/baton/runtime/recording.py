"""The write path: a transition appended to its item's log, and nothing more.

Whatever writes an item's log (the engine's driver, a person's action) first settles its
entries into a `Transition` (core/transition.py, pure: it chains, folds and decides what
follows), then records it: one append with the expected version, returning what the
store stored. A racing writer is, for the engine, the named outcome `Conflict` (the state
is reloaded and the next step decided again); a person's action raises VersionConflict,
which `retrying` answers by running the action again.

Records are bounded: what one event may not hold (`BATON_EVENT_BYTES` of data as JSON,
65536 unless set) goes to the store's blob store first (core/bounds.py decides what), and
an item's state is made whole again from it where the engine needs the full values (a
verifier reads the whole output): `settle` bounds, `record` writes the blobs before the
events, `hydrate` puts whole values back into a state folded from the log.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..core import events as ev
from ..core.bounds import BLOB_KEY, EVENT_BYTES, MIN_EVENT_BYTES, refs, restore, shown
from ..core.events import Event
from ..core.state import ItemState, fold
from ..core.transition import Transition
from ..core.vocabulary import RESERVED_LOGS
from ..errors import InputError, NotFound, StoreError, VersionConflict
from ..store.base import Store

T = TypeVar("T")
log = logging.getLogger("baton.recording")

EVENT_BYTES_ENV = "BATON_EVENT_BYTES"


def event_limit(env: Mapping[str, str] | None = None) -> int:
    """The limit of one event's data, from BATON_EVENT_BYTES; InputError if it is not a
    whole number of bytes of at least MIN_EVENT_BYTES."""
    raw = (os.environ if env is None else env).get(EVENT_BYTES_ENV, "").strip()
    if not raw:
        return EVENT_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{EVENT_BYTES_ENV}={raw!r}: expected a whole number of bytes") from None
    if value < MIN_EVENT_BYTES:
        raise InputError(
            f"{EVENT_BYTES_ENV}={value}: expected at least {MIN_EVENT_BYTES} bytes "
            "(one event must hold a blob reference and its preview)"
        )
    return value


async def hydrate(store: Store, state: ItemState) -> None:
    """Replace, in place, every blob reference anywhere in the item's state by what it
    stands for (what an engine, or `baton apply`, works with). A blob the store has lost
    becomes its preview, marked as such, with a warning: the item goes on."""
    holders: list[Any] = [state, *state.attempts]
    found = [
        (holder, f.name)
        for holder in holders
        for f in dataclasses.fields(holder)
        if f.name != "attempts" and isinstance(getattr(holder, f.name), dict | list)
    ]
    wanted = {r[BLOB_KEY] for holder, name in found for r in refs(getattr(holder, name))}
    if not wanted:
        return
    blobs: dict[str, bytes] = {}
    for digest in wanted:
        content = await store.get_blob(digest)
        if content is not None:
            blobs[digest] = content
    lost = wanted - blobs.keys()
    if lost:
        log.warning(
            "item %s: its log refers to %d blob(s) the store does not have (%s): their "
            "previews stand in for them",
            state.item_id,
            len(lost),
            ", ".join(sorted(lost)[:3]),
        )
    for holder, name in found:
        setattr(holder, name, restore(getattr(holder, name), blobs, _lost))


def _lost(ref: dict[str, Any]) -> str:
    return f"{shown(ref)} (its blob is missing from the store)"


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
    if t.blobs:  # before the events that refer to them: no reference without its blob
        await store.put_blobs(t.blobs)
    return await store.append(t.log, t.expected, t.events, t.summary, fence=fence, tally=t.tally)


async def reload(store: Store, state: ItemState) -> None:
    """Replace `state` in place with the item's state as the store has it now (everyone
    holding this state object sees the fresh one)."""
    fresh = fold(state.item_id, await store.load(state.item_id))
    await hydrate(store, fresh)
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
    if events[0].kind == ev.ITEM_ARCHIVED:
        raise NotFound(archived_note(item_id, events[0]))
    return fold(item_id, events)


def archived_note(item_id: str, marker: Event) -> str:
    """Where an archived item's record went, as an error says it."""
    d = marker.data
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(marker.at))
    return (
        f"item {item_id!r} was archived on {when} by {d.get('by') or '?'}: its "
        f"{d.get('through')} events are in {d.get('archive')} (sha256 {d.get('sha256')}); "
        "this store keeps its summary row. `baton import` that file into another store "
        "to read them"
    )


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
