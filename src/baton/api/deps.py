"""What a route depends on: the app's store, playbooks, live-stream hub and access control,
the identity a request acts as, the role each route needs (FastAPI dependencies), and
one run of an expensive read for every request asking it at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from ..config.playbook import Playbook
from ..services.auth import Identity, Role
from ..store.base import Store
from .access import Access, need
from .fanout import Hub

T = TypeVar("T")


def access_of(request: Request) -> Access:
    return request.app.state.access  # type: ignore[no-any-return]


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def hub_of(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def playbooks_of(request: Request) -> dict[str, Playbook]:
    return request.app.state.playbooks  # type: ignore[no-any-return]


async def _identity(request: Request) -> Identity:
    return await access_of(request).identify(request)


def role(needed: Role) -> Callable[..., Coroutine[Any, Any, Identity]]:
    async def dependency(identity: Annotated[Identity, Depends(_identity)]) -> Identity:
        return need(identity, needed)

    return dependency


Viewer = Annotated[Identity, Depends(role(Role.VIEWER))]
Reviewer = Annotated[Identity, Depends(role(Role.REVIEWER))]
Operator = Annotated[Identity, Depends(role(Role.OPERATOR))]
Admin = Annotated[Identity, Depends(role(Role.ADMIN))]


async def shared(request: Request, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """`read()`'s answer, run once for every request that asks for `key` while it runs
    (twenty viewers opening the audit at once cost one verify, not twenty); a request
    that goes away does not stop it for the others."""
    flights: dict[Hashable, asyncio.Future[T]] = request.app.state.flights
    running = flights.get(key)
    if running is None:
        running = flights[key] = asyncio.ensure_future(read())
        running.add_done_callback(lambda _: flights.pop(key, None))
    return await asyncio.shield(running)
