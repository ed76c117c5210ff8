"""A transition: the events a step's results become, chained onto the item's state, with
the effect-free steps they lead to, the step after them and the index row to store.

Pure: the driver that performed the step hands its results here, then appends what
comes back; nothing here reads or writes a store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from .bookkeeping import Entry, bookkeeping
from .bounds import EVENT_BYTES, bound, restore
from .events import Event, chain
from .index import ItemSummary, summarize
from .loop import Step, decide
from .state import ItemState
from .tally import Tally, tally


@dataclass(frozen=True, slots=True)
class Transition:
    """Events to append to an item's log at `expected` version, and what follows them."""

    log: str
    expected: int
    events: list[Event]
    step: Step  # the item's next step once these events are recorded
    summary: ItemSummary  # its index row then
    # what the events refer to but do not hold (core/bounds.py): written before them
    blobs: dict[str, bytes] = field(default_factory=dict)
    # what the events add to the read model's counters (core/tally.py): stored with them
    tally: Tally = field(default_factory=Tally)


def settle(
    state: ItemState,
    entries: list[Entry],
    now: float,
    running: Collection[int] = (),
    *,
    follow: bool = True,
    limit: int = EVENT_BYTES,
) -> Transition:
    """Chain `entries` onto `state` (applied in place) and decide what comes next.

    With `follow`, the events of effect-free steps the loop decides next (a refine, an
    acceptance, an escalation) are added too, so they share one append with the step
    that led to them. `running`: the attempts the deciding engine runs (see decide).

    Every event is bounded to `limit` bytes of data (core/bounds.py): what it cannot hold
    goes to the transition's blobs, while the state is given the whole values, so what
    is decided next (the feedback a refine hands on) sees them whole. What the events
    add to the counters of the figures (core/tally.py) is summed as they are folded.
    """
    expected = state.version
    events: list[Event] = []
    blobs: dict[str, bytes] = {}
    counts = Tally()
    while True:
        fitted = []
        for kind, data in entries:
            small, moved = bound(data, limit)
            if moved:
                blobs.update(moved)
            fitted.append((kind, small))
        batch = chain(state.item_id, state.version, state.last_hash, now, fitted)
        for event in batch:
            whole = event._replace(data=restore(event.data, blobs)) if blobs else None
            tally(state, event, counts, applied=whole)
        events.extend(batch)
        step = decide(state, now, running)
        more = bookkeeping(state, step) if follow else None
        if not more:
            break
        entries = more
    row = summarize(state, now, step)
    counts = Tally({k: v for k, v in counts.items() if v or k.endswith((".min", ".max"))})
    return Transition(state.item_id, expected, events, step, row, blobs, counts)
