"""An item's index row: what the store keeps beside the log so that queries, claims and
the human inbox need no replay. Derived from the item's state and its next step."""

from __future__ import annotations

from typing import NamedTuple

from .loop import Step, decide, runnable, status_of
from .state import ItemState
from .vocabulary import Status


class ItemSummary(NamedTuple):
    """An item's row in the store's index, rewritten with every append to its log.

    Derived from the log (the engine folds it); kept so that queries, claims and the
    human inbox need no replay. `lease_owner` / `lease_until` are owned by the store.
    """

    item_id: str
    queue: str
    status: str
    runnable: bool
    waiting: str | None
    version: int
    attempts: int
    objective: str
    created_at: float
    updated_at: float
    lease_owner: str | None = None
    lease_until: float | None = None

    def with_lease(self, owner: str | None, until: float | None) -> ItemSummary:
        return self._replace(lease_owner=owner, lease_until=until)


def summarize(state: ItemState, now: float, step: Step | None = None) -> ItemSummary:
    """The index row for an item, derived from its state (and its next step)."""
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
