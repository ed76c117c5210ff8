"""The live stream's lines (Server-Sent Events): the global feed as it grows, keep-alives,
and an end, saying why, once the request's credentials stop counting."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request

from ..core.vocabulary import AUTH_LOG
from ..store.base import Store
from ..store.feed import follow
from .access import Access

CHECK_SECONDS = 1.0  # a live stream asks this often whether its credentials still count


def still_allowed(access: Access, request: Request) -> Callable[[int], Awaitable[str | None]]:
    """Why the request's credentials stopped counting (None: they still do), with the auth
    log read up to a given event of it."""

    async def why_not(at_least: int) -> str | None:
        return await access.why_not(request, at_least=at_least)

    return why_not


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


async def sse(
    store: Store,
    after: int,
    hidden: frozenset[str],
    idle: float = 15,
    still: Callable[[int], Awaitable[str | None]] | None = None,
    check_every: float = CHECK_SECONDS,
) -> AsyncIterator[str]:
    """The stream's lines; with `still`, asked every `check_every` seconds and at every
    event of the auth log whether the credentials still count, and ended when not."""
    yield ": baton event stream\n\n"
    checked = sent = time.monotonic()
    async for event in follow(store, after, idle=min(idle, check_every)):
        now = time.monotonic()
        auth_changed = event.seq if event is not None and event.log == AUTH_LOG else 0
        if still is not None and (auth_changed or now - checked >= check_every):
            checked = now
            why = await still(auth_changed)
            if why is not None:
                yield f"event: ended\ndata: {json.dumps({'why': why})}\n\n"
                return
        if event is None:
            if now - sent >= idle:
                sent = now
                yield ": keep-alive\n\n"
        elif event.log not in hidden:
            sent = now
            body = json.dumps(event.to_dict(), ensure_ascii=False)
            yield f"id: {event.position}\nevent: baton\ndata: {body}\n\n"
