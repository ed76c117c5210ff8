"""Leases: which engine holds which items, for how long. An engine renews what it holds
every third of the lease while it works; a killed engine's leases expire, and an engine
starting on the same host gives back at once those of local processes that are gone.

Each lease has a fence (store/base.py) that the engine's appends for the item carry, so
the store refuses them once another engine has claimed the item. A renewal that finds a
lease gone signals the item's driver (`lost`), which stops the attempt's agent and
records nothing more.

An owner is `host:pid:nonce` in the store (a plain string there, so any backend keeps it);
`Owner` is what the engine reads it as.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from ..core import events as ev
from ..core.bookkeeping import Entry
from ..core.events import Event
from ..core.state import ItemState
from ..core.vocabulary import ACTIVE_STATUSES
from ..errors import LeaseLost
from ..store.base import Store, claim_logs
from .shutdown import Latch

log = logging.getLogger("baton.engine")


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a lease: an engine in process `pid` on `host`, told apart by `nonce`."""

    host: str
    pid: int
    nonce: str

    @classmethod
    def here(cls) -> Owner:
        """A new owner for an engine of this process."""
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8])

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner a lease names, or None for one not written by an engine like this."""
        host, sep, rest = text.partition(":")
        pid, sep2, nonce = rest.partition(":")
        if not (sep and sep2 and host and pid.isdigit() and nonce and ":" not in nonce):
            return None
        return cls(host, int(pid), nonce)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.nonce}"

    def gone(self) -> bool:
        """Whether this owner's process is known to have ended (only said of this host)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, someone else's
            return False
        return False


class Leases:
    """The leases one engine holds on one store."""

    def __init__(self, store: Store, owner: str, seconds: float) -> None:
        self.store = store
        self.owner = owner
        self.seconds = seconds
        self.fences: dict[str, int] = {}  # the items held, each with its lease's fence
        self._lost: dict[str, Latch] = {}  # set when a renewal finds it gone

    @property
    def held(self) -> set[str]:
        return set(self.fences)

    async def claim(self, limit: int, queues: Collection[str]) -> dict[str, list[Event]]:
        """Lease up to `limit` runnable items of `queues` that nobody holds; each with its
        log as of the claim (read in the claim's step where the store can)."""
        claimed = await claim_logs(
            self.store, self.owner, limit=limit, lease_seconds=self.seconds, queues=list(queues)
        )
        for (item_id, fence), _ in claimed:
            self.fences[item_id] = fence
            signal = self._lost.get(item_id)
            if signal is not None and signal.is_set():  # a driver heard it: a fresh one
                del self._lost[item_id]
        return {c.item_id: events for c, events in claimed}

    def fence(self, item_id: str) -> int:
        """The fence of this engine's lease on the item, for its appends (LeaseLost when
        the engine does not hold it: a write it must not make)."""
        fence = self.fences.get(item_id)
        if fence is None:
            raise LeaseLost(item_id, 0, -1)
        return fence

    def lost(self, item_id: str) -> Latch:
        """Set when a renewal finds that this engine's lease on the item is gone."""
        signal = self._lost.get(item_id)
        if signal is None:
            signal = self._lost[item_id] = Latch()
        return signal

    def forget(self, item_id: str) -> None:
        """The item's driver is done: nothing more is written for it under this lease."""
        self.fences.pop(item_id, None)
        self._lost.pop(item_id, None)

    async def release(self, item_ids: Collection[str]) -> None:
        """Give back leases (an item done with, for now)."""
        for item_id in item_ids:
            self.forget(item_id)
        await self.store.release(self.owner, list(item_ids))

    async def release_all(self) -> None:
        if self.fences:
            await self.release(list(self.fences))

    async def keep(self) -> None:
        """Renew what is held every third of the lease, for as long as the engine runs; say
        so when a lease was lost (it expired while the store was out of reach)."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            if not self.fences:
                continue
            wanted = list(self.fences)
            still = await self.store.renew(self.owner, wanted, self.seconds)
            lost = (set(wanted) - set(still)) & set(self.fences)  # not the ones let go
            if lost:
                log.warning(
                    "engine %s lost its lease on %s (it lapsed: the store was out of reach, "
                    "or this process paused, for longer than the lease): it stops working on "
                    "them and records nothing more for them; the engine that claims them "
                    "next records what was in flight as abandoned",
                    self.owner,
                    ", ".join(sorted(lost)),
                )
                for item_id in lost:
                    self.lost(item_id).set()

    async def free_the_dead(self) -> None:
        """Give back the leases of engines on this host whose process is gone (kill -9)."""
        rows = await self.store.query(statuses=[s.value for s in ACTIVE_STATUSES], limit=None)
        dead: dict[str, list[str]] = {}
        for row in rows:
            if not row.lease_owner or row.lease_owner == self.owner:
                continue
            owner = Owner.parse(row.lease_owner)
            if owner is not None and owner.gone():
                dead.setdefault(row.lease_owner, []).append(row.item_id)
        for owner_text, ids in dead.items():
            await self.store.release(owner_text, ids)


def take_over(state: ItemState, n: int, me: str, taken_from: set[str]) -> list[Entry]:
    """What engine `me` records for attempt `n`, on record as in flight though no agent
    runs it here: the engine that started it lost the item (`me` holds the newest lease,
    which the append's fence proves). The attempt abandoned, saying why, and, once per
    engine taken over from (`taken_from` remembers them), the takeover itself."""
    prior = state.attempt(n).engine
    entries: list[Entry] = []
    if prior is None:  # started by baton 0.1, which did not say by whom
        reason = "the engine running it stopped before it finished"
    elif prior == me:
        reason = "this engine lost its lease on the item while it ran; its result was dropped"
    else:
        owner = Owner.parse(prior)
        if owner is not None and owner.gone():
            why, detail = "owner gone", f"engine {prior}'s process is gone"
        else:
            why = "lease expired"
            detail = (
                f"engine {prior} stopped renewing its lease (it crashed, paused, or lost the "
                "store for longer than the lease)"
            )
        if prior not in taken_from:
            taken_from.add(prior)
            theirs = [a.n for a in state.attempts if a.in_flight and a.engine == prior]
            taken = {"from": prior, "by": me, "why": why, "attempts": theirs}
            entries.append((ev.LEASE_TAKEN_OVER, taken))
        reason = f"taken over by engine {me}: {detail}"
    entries.append((ev.ATTEMPT_ABANDONED, {"attempt": n, "reason": reason}))
    return entries
