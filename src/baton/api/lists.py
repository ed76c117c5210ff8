"""The lists a viewer pages through: items, newest first by default, filtered and paged with
a cursor that stays put while work arrives (store/paging.py), and the inbox."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError

from ..core.vocabulary import Status
from ..services import views
from ..store import paging
from . import models as m
from .deps import Viewer, store_of

lists = APIRouter(prefix="/api", responses=m.ERRORS)


@lists.get("/items", response_model=m.ItemsPage, tags=["items"])
async def list_items(
    request: Request,
    _: Viewer,
    status: Annotated[list[Status] | None, Query(description="any of these statuses")] = None,
    playbook: Annotated[str | None, Query(max_length=64, description="one playbook's")] = None,
    queue: Annotated[
        str | None, Query(max_length=64, description="playbook's old name", deprecated=True)
    ] = None,
    waiting: Annotated[bool | None, Query(description="parked for a person")] = None,
    text: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="in the objective or id (ASCII case)"),
    ] = None,
    tag: Annotated[str | None, Query(max_length=64, description="one of its tags")] = None,
    agent: Annotated[str | None, Query(max_length=64, description="one it ran on")] = None,
    order: Annotated[Literal["newest", "oldest"], Query(description="by creation")] = "newest",
    cursor: Annotated[str | None, Query(max_length=400, description="a page's `next`")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> m.ItemsPage:
    """Items, newest first (or oldest), filtered; the next page starts at the `next` cursor
    this one hands out, which neither repeats nor skips a row while items arrive."""
    if playbook is not None and queue is not None and playbook != queue:
        raise _invalid("playbook", f"is {playbook!r} but queue (its old name) is {queue!r}")
    try:
        after = paging.decode(cursor) if cursor is not None else None
    except ValueError as exc:
        raise _invalid("cursor", str(exc)) from None
    store = store_of(request)
    rows = await store.query(
        statuses=[s.value for s in status] if status else None,
        queue=playbook if playbook is not None else queue,
        waiting=waiting,
        text=text,
        tag=tag,
        agent=agent,
        newest=order == "newest",
        cursor=after,
        limit=limit,
        offset=offset,
    )
    more = len(rows) == limit
    return m.ItemsPage(
        items=[m.ItemRow(**r._asdict()) for r in rows],
        limit=limit,
        offset=offset,
        order=order,
        next=paging.encode(paging.position(rows[-1])) if more else None,
        counts=await store.counts(),
    )


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value"}])


@lists.get("/inbox", tags=["decisions"])
async def inbox(
    request: Request,
    _: Viewer,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="the longest waiting")] = None,
) -> list[dict[str, Any]]:
    """What waits for a person, oldest first (with `limit`, only the items that have waited
    longest are read)."""
    return await views.inbox(store_of(request), limit)
