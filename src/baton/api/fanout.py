"""One follower of the global feed per app, fanned out to every live stream.

The hub reads the feed once (a page at a time, as the store's `feed` watch wakes it),
renders each event's SSE lines once, and hands every page to each subscriber's bounded
buffer (at most one page every PACE seconds: a busy feed goes out in fewer, larger
writes). It never waits for a subscriber: one whose buffer is full (a client that reads
slower than events come) is dropped, told why, and may reconnect from its Last-Event-ID;
the events are always in the store, so it misses nothing. The follower starts with the
first subscriber and stops with the last one (or when the app shuts down).

A subscriber that starts behind the hub first reads the store itself from its position
(`join` refuses it until it has caught up), so the hub's buffers only ever hold what
happened since a subscriber joined.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.events import Event
from ..store.base import Store
from ..store.feed import FALLBACK_POLL, PAGE, follow_pages

ROOM = 2 * PAGE  # events a subscriber may hold unsent before it is dropped
PACE = 0.25  # seconds: after handing a page out, the follower waits this long before the
# next, so a busy feed goes out in fewer, larger writes (a quiet one still at once);
# measured with 200 clients, bench/sse.py: 2.6x the server's CPU per item without, 1.4x with
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Frame:
    """One event as the stream sends it: its SSE lines, rendered once for every client."""

    position: int
    log: str
    seq: int
    data: bytes

    @classmethod
    def of(cls, event: Event) -> Frame:
        body = json.dumps(event.to_dict(), ensure_ascii=False)
        text = f"id: {event.position}\nevent: baton\ndata: {body}\n\n"
        return cls(event.position, event.log, event.seq, text.encode())


@dataclass(frozen=True, slots=True)
class Page:
    """Frames read together, and their lines as one chunk: what most clients are sent."""

    frames: tuple[Frame, ...]
    data: bytes
    logs: frozenset[str]

    @classmethod
    def of(cls, events: Sequence[Event]) -> Page:
        frames = tuple(Frame.of(e) for e in events)
        return cls(frames, b"".join(f.data for f in frames), frozenset(f.log for f in frames))

    @property
    def first(self) -> int:
        return self.frames[0].position if self.frames else 0

    @property
    def last(self) -> int:
        return self.frames[-1].position if self.frames else 0


class Subscriber:
    """A stream's bounded buffer of pages, filled by the hub; `why` says why it was
    dropped (None while it is not)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.why: str | None = None
        self._pages: deque[Page] = deque()
        self._held = 0  # frames
        self._ready = asyncio.Event()

    def offer(self, page: Page) -> bool:
        """Buffer a page; False (nothing buffered) when it does not fit (a page always
        fits an empty buffer: a client that keeps up is never dropped for a burst)."""
        if self._held and self._held + len(page.frames) > self.room:
            return False
        self._pages.append(page)
        self._held += len(page.frames)
        self._ready.set()
        return True

    def drop(self, why: str) -> None:
        self.why = why
        self._pages.clear()
        self._held = 0
        self._ready.set()

    async def take(self, timeout: float) -> list[Page]:
        """Every page buffered, oldest first, waiting up to `timeout` seconds for one ([]
        if none came, or once dropped)."""
        if not self._pages and self.why is None:
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        pages = list(self._pages)
        self._pages.clear()
        self._held = 0
        return pages


class Hub:
    """The app's one follower of the feed and the subscribers it feeds."""

    def __init__(
        self, store: Store, *, room: int = ROOM, pace: float = PACE, idle: float = FALLBACK_POLL
    ) -> None:
        self.store = store
        self.room = room
        self.pace = pace
        self.idle = idle
        self.position = 0  # the newest event handed out (while following)
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def following(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def listeners(self) -> int:
        return len(self._subscribers)

    async def now(self) -> int:
        """Where a stream that starts now starts: what the hub handed out last, or (while
        it follows nothing) the newest event in the store."""
        return self.position if self.following else await last_position(self.store)

    def join(self, after: int, *, at_end: bool) -> Subscriber | None:
        """A subscriber fed every event past `after` (and maybe some before it, which it
        skips by position); None while the hub is past `after`, or follows nothing and
        `after` was not the store's end (`at_end`) when last read: read the store on
        first. Starts the follower, from `after`, if it was not running."""
        if not self.following:
            if not at_end:
                return None
            self.position = after
            self._task = asyncio.get_running_loop().create_task(self._follow(after))
        elif after < self.position:
            return None
        subscriber = Subscriber(self.room)
        self._subscribers.add(subscriber)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        """Stop feeding `subscriber`; the follower stops with the last one."""
        self._subscribers.discard(subscriber)
        if not self._subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """End every subscriber's stream and stop the follower (the app shuts down)."""
        for subscriber in list(self._subscribers):
            self._drop(subscriber, "the server is shutting down")
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _follow(self, after: int) -> None:
        try:
            async for page in follow_pages(self.store, after, idle=self.idle):
                if page:
                    self._hand_out(Page.of(page))
                    await asyncio.sleep(self.pace)  # what comes meanwhile goes out as one page
        except Exception as exc:  # a bug or a store gone for good: no stream waits forever
            log.exception("the live stream's follower failed")
            for subscriber in list(self._subscribers):
                self._drop(subscriber, f"the event feed failed ({type(exc).__name__}): reconnect")

    def _hand_out(self, page: Page) -> None:
        self.position = page.last
        for subscriber in list(self._subscribers):
            if not subscriber.offer(page):
                self._drop(
                    subscriber,
                    f"too slow: more than {self.room} events waited to be sent; reconnect "
                    "with Last-Event-ID to get the rest",
                )

    def _drop(self, subscriber: Subscriber, why: str) -> None:
        self._subscribers.discard(subscriber)
        subscriber.drop(why)


async def last_position(store: Store) -> int:
    """The global position of the newest event (the live stream starts after it)."""
    low, high = 0, 1
    while await store.read(high - 1, 1):  # grow until past the end, then bisect
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if await store.read(mid - 1, 1):
            low = mid
        else:
            high = mid
    return low
