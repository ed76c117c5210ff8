"""Leases: which engine holds which items, for how long. An engine renews what it holds
every third of the lease while it works; a killed engine's leases expire, and an engine
starting on the same host gives back at once those of local processes that are gone.

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

from ..core.vocabulary import ACTIVE_STATUSES
from ..store.base import Store

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
        self.held: set[str] = set()

    async def claim(self, limit: int, queues: Collection[str]) -> list[str]:
        """Lease up to `limit` runnable items of `queues` that nobody holds."""
        claimed = await self.store.claim(
            self.owner, limit=limit, lease_seconds=self.seconds, queues=list(queues)
        )
        self.held.update(claimed)
        return claimed

    async def release(self, item_ids: Collection[str]) -> None:
        """Give back leases (an item done with, for now)."""
        self.held.difference_update(item_ids)
        await self.store.release(self.owner, list(item_ids))

    async def release_all(self) -> None:
        if self.held:
            await self.release(list(self.held))

    async def keep(self) -> None:
        """Renew what is held every third of the lease, for as long as the engine runs; say
        so when a lease was lost (it expired while the store was out of reach)."""
        while True:
            await asyncio.sleep(self.seconds / 3)
            if not self.held:
                continue
            wanted = list(self.held)
            still = await self.store.renew(self.owner, wanted, self.seconds)
            lost = (set(wanted) - set(still)) & self.held  # not the ones just released
            if lost:
                log.warning(
                    "engine %s lost the lease on %s (expired while the store was out of "
                    "reach?): another engine may take them over; appends stay consistent",
                    self.owner,
                    ", ".join(sorted(lost)),
                )

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
