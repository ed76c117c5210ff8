"""What people look at, shared by the CLI and the API: the inbox and the fleet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.bounds import shown
from ..core.vocabulary import Status
from ..errors import BatonError, NotFound
from ..runtime.recording import load_state
from ..store.base import Store
from . import actions, metrics, readmodel

if TYPE_CHECKING:  # loading a playbook (yaml, pydantic, the kinds) waits until one is read
    from ..config.playbook import Playbook


async def inbox(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """What waits for a person, oldest first: reviews to decide, work to do, escalations
    (the `limit` that have waited longest: a waiting item's row changed last when it
    began to wait, so only theirs are loaded)."""
    out = []
    rows = await store.query(waiting=True, limit=None)
    if limit is not None:
        rows = sorted(rows, key=lambda r: (r.updated_at, r.item_id))[:limit]
    for row in rows:
        state = await load_state(store, row.item_id)
        waiting = state.waiting or {}
        out.append(
            {
                "item": row.item_id,
                "wait": waiting.get("wait"),
                "since": waiting.get("since"),
                "reviewer": waiting.get("reviewer"),
                "attempt": waiting.get("attempt"),
                "reason": shown(waiting.get("reason") or waiting.get("prompt") or ""),
                "objective": row.objective,
                "risk": state.spec.get("risk", "low"),
            }
        )
    return sorted(out, key=lambda r: r["since"] or 0)


async def fleet(store: Store, known: dict[str, Playbook] | None = None) -> list[dict[str, Any]]:
    """Agents of every playbook with items in the store (and of `known` playbooks): kind,
    pause state, load, and each agent's scorecard."""
    paused = await actions.fleet_paused(store)
    books: dict[str, Playbook] = dict(known or {})
    running: dict[str, int] = {}
    for row in await store.query(statuses=[Status.RUNNING.value], limit=None):
        state = await load_state(store, row.item_id)
        for attempt in state.attempts:
            if attempt.in_flight:
                running[attempt.agent] = running.get(attempt.agent, 0) + 1
    for queue in await store.queues():  # the newest item's playbook: it is not archived
        newest = [] if queue in books else await store.query(queue=queue, newest=True, limit=1)
        book = await recorded_playbook(store, newest[0].item_id) if newest else None
        if book is not None:
            books[queue] = book
    counters = await readmodel.current(store, "agent=")
    scores = {s.agent: s.to_dict() for s in metrics.agent_scores(counters)}
    rows = []
    for queue, book in books.items():
        for name, slot in book.agents.items():
            score = scores.get(name, {})
            rows.append(
                {
                    "agent": name,
                    "playbook": queue,
                    "kind": slot.kind,
                    "paused": name in paused,
                    "running": running.get(name, 0),
                    "concurrency": slot.concurrency,
                    "attempts": score.get("attempts", 0),
                    "accepted": score.get("accepted", 0),
                    "acceptance_rate": score.get("acceptance_rate"),
                    "score": score,
                    "note": (paused.get(name) or {}).get("reason", "") or "",
                }
            )
    return rows


async def recorded_playbook(store: Store, item_id: str) -> Playbook | None:
    """The playbook an item was submitted from, if it is still there and valid."""
    from ..config.loading import load_playbook

    events = await store.load(item_id)
    path = (events[0].data.get("playbook") or {}).get("path") if events else None
    if not path:
        return None
    try:
        return load_playbook(path)
    except BatonError:  # a playbook that moved or broke still lets us list the rest
        return None


async def known_agent(
    store: Store,
    name: str,
    known: dict[str, Playbook] | None = None,
    *,
    force: bool = False,
    hint: str = "",
) -> None:
    """NotFound unless `name` is an agent of a playbook the store (or `known`) has; a store
    that has no items yet knows no playbook, so any name may be paused before work comes."""
    if force or not await store.counts():
        return
    agents = sorted({r["agent"] for r in await fleet(store, known)})
    if name not in agents:
        listed = ", ".join(agents) or "none yet"
        raise NotFound(
            f"no agent {name!r} in this store's playbooks (known: {listed})"
            + (f"; {hint}" if hint else "")
        )
