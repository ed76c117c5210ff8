"""The global feed: every log's events in the order the store recorded them, page by page,
and (following) what any process appends next, woken by the store's "feed" watch.

The watch only says "look again"; the events themselves are always read from the store
from the last position seen, so a follower that falls behind or reconnects misses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from .events import Event
from .store.base import Store

PAGE = 1000
FALLBACK_POLL = 1.0  # seconds: a follower looks even if no wake-up came


async def feed(store: Store, after: int = 0, *, follow: bool = False) -> AsyncIterator[Event]:
    """Events with position > `after`; with `follow`, keeps yielding new ones until closed."""
    woken = asyncio.Event()
    unwatch = store.watch("feed", woken.set) if follow else None
    try:
        while True:
            woken.clear()  # before reading: a wake-up during the read is kept
            page = await store.read(after, PAGE)
            for event in page:
                after = event.position
                yield event
            if len(page) == PAGE:
                continue
            if not follow:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), FALLBACK_POLL)
    finally:
        if unwatch is not None:
            unwatch()
