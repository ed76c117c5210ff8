"""The audit: every log's hash chain recomputed, and the first broken link of each."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.events import BrokenLink, verify_chain
from ..store.base import Store
from ..store.feed import feed


@dataclass(frozen=True)
class Audit:
    logs: int
    events: int
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken


async def verify_store(store: Store) -> Audit:
    """Recompute every chain the store holds (each log in full, from its first event)."""
    logs: dict[str, None] = {}
    total = 0
    async for event in feed(store):
        logs.setdefault(event.log, None)
        total += 1
    broken = []
    for log in logs:
        link = verify_chain(await store.load(log))
        if link is not None:
            broken.append(link)
    return Audit(len(logs), total, broken)
