"""The global feed: every log's events in the order the store recorded them, page by page,
and (following) what any process appends next, woken by the store's "feed" watch.

The watch only says "look again"; the events themselves are always read from the store
from the last position seen, so a follower that falls behind or reconnects misses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..core.events import Event
from .base import Store

PAGE = 1000
FALLBACK_POLL = 1.0  # seconds: a follower looks again even if no wake-up came


async def feed(store: Store, after: int = 0) -> AsyncIterator[Event]:
    """Every event with position > `after`, up to the newest."""
    async for page in _pages(store, after, None):
        for event in page:
            yield event


async def follow(
    store: Store, after: int = 0, *, idle: float = FALLBACK_POLL
) -> AsyncIterator[Event | None]:
    """Events with position > `after`, then each one as any process appends it, until
    closed; None after every `idle` seconds without one (the follower's moment to send a
    keep-alive or to see whether it should stop)."""
    async for page in _pages(store, after, idle):
        if not page:
            yield None
        for event in page:
            yield event


async def follow_pages(
    store: Store, after: int = 0, *, idle: float = FALLBACK_POLL
) -> AsyncIterator[list[Event]]:
    """What `follow` yields, a page (as read, in order) at a time; [] after every `idle`
    seconds without one. For a follower that hands events on in batches."""
    async for page in _pages(store, after, idle):
        yield page


async def _pages(store: Store, after: int, idle: float | None) -> AsyncIterator[list[Event]]:
    woken = asyncio.Event()
    unwatch = store.watch("feed", woken.set) if idle is not None else None
    try:
        while True:
            woken.clear()  # before reading: a wake-up during the read is kept
            page = await store.read(after, PAGE)
            if page:
                after = page[-1].position
                yield page
            if len(page) == PAGE:
                continue
            if idle is None:
                return  # caught up
            try:  # a wake-up is only a hint: after `idle` seconds, look again anyway
                async with asyncio.timeout(idle):  # (wait_for may swallow a cancellation)
                    await woken.wait()
            except TimeoutError:
                yield []
    finally:
        if unwatch is not None:
            unwatch()
