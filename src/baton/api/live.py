"""The live stream's lines (Server-Sent Events): the global feed as it grows (read from the
store up to the app's hub, then fed by it), keep-alives, and an end, saying why, once the
request's credentials stop counting or the hub drops a client too slow to keep up."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request

from ..core.vocabulary import AUTH_LOG
from ..store.feed import PAGE
from .access import Access
from .deps import access_of, hub_of
from .fanout import Hub, Page

CHECK_SECONDS = 1.0  # a live stream asks this often whether its credentials still count


def still_allowed(access: Access, request: Request) -> Callable[[int], Awaitable[str | None]]:
    """Why the request's credentials stopped counting (None: they still do), with the auth
    log read up to a given event of it."""

    async def why_not(at_least: int) -> str | None:
        return await access.why_not(request, at_least=at_least)

    return why_not


def stream_for(request: Request, after: int | None, hidden: frozenset[str]) -> AsyncIterator[bytes]:
    """A request's stream: fed by its app's hub, ended once its credentials stop counting."""
    return sse(hub_of(request), after, hidden, still=still_allowed(access_of(request), request))


async def sse(
    hub: Hub,
    after: int | None,
    hidden: frozenset[str],
    idle: float = 15,
    still: Callable[[int], Awaitable[str | None]] | None = None,
    check_every: float = CHECK_SECONDS,
) -> AsyncIterator[bytes]:
    """The stream's lines (UTF-8) from event `after` (None: from now); with `still`, asked
    every `check_every` seconds and at every event of the auth log whether the credentials
    still count, and ended when not. Ended too when the hub drops it (too far behind)."""
    last = await hub.now() if after is None else after
    subscriber = hub.join(last, at_end=after is None)
    yield b": baton event stream\n\n"
    checked = sent = time.monotonic()
    try:
        while subscriber is None:  # behind the hub: read the store up to where it is
            events = await hub.store.read(last, PAGE)
            lines, why = await _lines([Page.of(events)], last, hidden, still)
            if events:
                last = events[-1].position
            if lines:
                sent = time.monotonic()
                yield lines
            if why is not None:
                yield _ended(why)
                return
            subscriber = hub.join(last, at_end=len(events) < PAGE)
        while True:
            pages = await subscriber.take(min(idle, check_every))
            now = time.monotonic()
            if subscriber.why is not None:  # dropped by the hub: the client may come back
                yield _ended(subscriber.why, reconnect=True)
                return
            if still is not None and now - checked >= check_every:
                checked = now
                if (why := await still(0)) is not None:
                    yield _ended(why)
                    return
            lines, why = await _lines(pages, last, hidden, still)
            if pages:
                last = max(last, pages[-1].last)
            if lines:
                sent = now
                yield lines
            elif not pages and now - sent >= idle:
                sent = now
                yield b": keep-alive\n\n"
            if why is not None:
                yield _ended(why)
                return
    finally:
        if subscriber is not None:
            hub.leave(subscriber)


async def _lines(
    pages: list[Page],
    after: int,
    hidden: frozenset[str],
    still: Callable[[int], Awaitable[str | None]] | None,
) -> tuple[bytes, str | None]:
    """The lines of the events past `after` a client may see, up to an auth-log event at
    which its credentials stop counting (and then why)."""
    shown: list[bytes] = []
    for page in pages:
        if page.last <= after:
            continue  # sent already (read from the store before joining the hub)
        if (
            page.first > after
            and not page.logs & hidden
            and (still is None or AUTH_LOG not in page.logs)
        ):
            shown.append(page.data)  # the usual case: the page whole, as the hub rendered it
            continue
        for frame in page.frames:
            if frame.position <= after:
                continue
            if still is not None and frame.log == AUTH_LOG:
                why = await still(frame.seq)
                if why is not None:
                    return b"".join(shown), why
            if frame.log not in hidden:
                shown.append(frame.data)
    return b"".join(shown), None


def _ended(why: str, *, reconnect: bool = False) -> bytes:
    """The stream's last event; `reconnect`: the credentials still count, come back (with
    Last-Event-ID) rather than log in again."""
    data = {"why": why, "reconnect": True} if reconnect else {"why": why}
    return f"event: ended\ndata: {json.dumps(data)}\n\n".encode()
