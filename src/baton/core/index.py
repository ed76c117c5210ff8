"""An item's index row: what the store keeps beside the log so that queries, claims and
the human inbox need no replay. Derived from the item's state and its next step."""

from __future__ import annotations

from typing import NamedTuple

from .bounds import shown
from .loop import Step, decide, runnable, status_of
from .state import ItemState
from .vocabulary import Status

NOT_STARTED = 1e10
"""Added to a never-started item's claim score: later than any started item's (seconds
since 1970 stay below it until the year 2286)."""


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
    tags: tuple[str, ...] = ()  # the item's, as submitted
    agents: tuple[str, ...] = ()  # every agent an attempt of it ran on, first one first

    def with_lease(self, owner: str | None, until: float | None) -> ItemSummary:
        return self._replace(lease_owner=owner, lease_until=until)

    @property
    def claim_score(self) -> float:
        """The item's place in the claim order, lowest first: items that have had an
        attempt (one a crash cut off, or one to refine) come before never-started work,
        each oldest update first, so a crashed worker's items do not wait behind the
        backlog while their wall-clock budgets run."""
        return self.updated_at if self.attempts else self.updated_at + NOT_STARTED


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
        shown(state.spec.get("objective", ""))[:200],  # a blob: its preview
        state.submitted_at,
        now,
        None,
        None,
        tuple(state.spec.get("tags") or ()),
        tuple(dict.fromkeys(a.agent for a in state.attempts)),
    )


_PLAIN = {s: s.value for s in Status}  # a dict lookup is cheaper than an enum's .value
