"""The in-process event bus: every appended event is published to every subscriber.

A subscriber that falls behind is not allowed to grow memory without bound: its queue is
capped, and once it overflows the subscription is marked `lagged` so the subscriber can
catch up from the store's global feed (`Store.read`) instead of trusting the bus.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from ..core.events import Event


class Subscription:
    def __init__(self, bus: Bus, maxsize: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.lagged = False

    def _offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class Bus:
    """Publish / subscribe within one process."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subscribers.add(sub)
        return sub

    def publish(self, events: Sequence[Event]) -> None:
        for sub in self._subscribers:
            for event in events:
                sub._offer(event)
