"""The claim loop of an engine: lease runnable items while there is room, drive each in a
task of its own, and notice when the items it was asked to run are settled.

It claims again at once when the store says work may be claimable (submitted elsewhere,
approved by a person, released by another engine); its poll is only a fallback. When the
engine stops (runtime/shutdown.py) it claims nothing more, waits for its drivers to let
their items go (or, after a halt, a few seconds for them to record it), then gives back
every lease it still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from typing import Any

from ..config.playbook import Playbook
from ..core.events import Event
from ..core.state import ItemState, fold
from ..core.vocabulary import FINAL_STATUSES
from .driver import ItemDriver, Shared
from .recording import hydrate
from .shutdown import Shutdown

DriveTask = asyncio.Task[ItemState | None]
log = logging.getLogger("baton.engine")

HALT_SECONDS = 5.0
"""After a halt: how long drivers get to record their stopped attempts, and the store to
take the leases back, before the engine gives up on them (a store out of reach)."""


class Claimer:
    """Claims and drives the items of some playbooks on one store."""

    def __init__(
        self,
        shared: Shared,
        books: dict[str, Playbook],
        *,
        concurrency: int,
        poll_interval: float,
        wait_for_people: bool,
    ) -> None:
        self.shared = shared
        self.books = books
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.wait_for_people = wait_for_people

    async def run(self, items: Collection[str] | None, stop: asyncio.Event | None) -> None:
        """Until every item of `items` is settled (or, with no items, until `stop`)."""
        shared = self.shared
        store, leases, fleet = shared.store, shared.leases, shared.fleet
        pending = set(items) if items is not None else None
        tasks: dict[str, DriveTask] = {}
        # finished items' tasks, and None whenever the store says work may be claimable
        finished: asyncio.Queue[DriveTask | None] = asyncio.Queue()
        unwatch = store.watch("work", lambda: finished.put_nowait(None))
        shutdown = shared.shutdown
        unwake = shutdown.on_change(lambda: finished.put_nowait(None))
        background = [
            asyncio.create_task(leases.keep()),
            asyncio.create_task(fleet.follow(min(self.poll_interval, 0.5))),
        ]
        if stop is not None:  # the caller's stop: drain, letting attempts take their time
            background.append(asyncio.create_task(_drain_when(stop, shutdown)))
        await fleet.refresh()
        await leases.free_the_dead()
        log.info(
            "engine %s claims items of %s (%d at once)",
            leases.owner,
            ", ".join(self.books),
            self.concurrency,
        )
        last_refresh = 0.0
        try:
            while True:
                now = shared.clock()
                if (
                    pending is not None
                    and now - last_refresh >= 1.0
                    and len(tasks) < self.concurrency
                ):
                    await self._drop_settled(pending)  # others (a person, a cancel) end items
                    last_refresh = now
                if (pending is not None and not pending) or shutdown.draining.is_set():
                    break
                free = self.concurrency - len(tasks)
                claimed = await leases.claim(free, self.books) if free > 0 else {}
                if claimed:
                    log.debug("claimed %s", ", ".join(claimed))
                for item_id, events in claimed.items():
                    if item_id in tasks:
                        # still driving it: this engine's lease lapsed (a pause, an outage)
                        # and it claimed the item again; its driver goes on under the new
                        # fence, and the version check catches anything written meanwhile
                        continue
                    task = asyncio.create_task(self._drive(item_id, events), name=item_id)
                    task.add_done_callback(finished.put_nowait)
                    tasks[item_id] = task
                if claimed and len(tasks) < self.concurrency:
                    continue
                # wait for an item to finish (or poll for new work); a queue fed by done
                # callbacks costs O(1) per item, where asyncio.wait re-arms every task
                done: list[DriveTask | None] = []
                if finished.empty():
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a Ctrl-C's
                    # cancellation when the queue yields at the same moment
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval):
                            done.append(await finished.get())
                while not finished.empty():
                    done.append(finished.get_nowait())
                for ended in done:
                    if ended is None:  # a wake-up: the loop claims again
                        continue
                    item_id = ended.get_name()
                    del tasks[item_id]
                    leases.forget(item_id)
                    state = ended.result()
                    if (
                        pending is not None
                        and state is not None
                        and self._settled(state.outcome is not None, state.waiting is not None)
                    ):
                        pending.discard(item_id)
            if tasks and shutdown.draining.is_set():
                await self._wind_down(tasks)
            elif tasks:
                await asyncio.gather(*tasks.values())
        finally:
            unwatch()
            unwake()
            for job in (*background, *tasks.values()):
                job.cancel()
            await asyncio.gather(*background, *tasks.values(), return_exceptions=True)
            if shutdown.draining.is_set():
                try:
                    async with asyncio.timeout(HALT_SECONDS):
                        await leases.release_all()
                except TimeoutError:
                    log.warning(
                        "engine %s could not give back its leases on %s (the store is out "
                        "of reach): they lapse after %g s",
                        leases.owner,
                        ", ".join(sorted(leases.held)),
                        leases.seconds,
                    )
            else:
                await leases.release_all()

    async def _wind_down(self, tasks: dict[str, DriveTask]) -> None:
        """The engine is stopping: until every driver has let its item go; after a halt, a
        few seconds more for them to record it."""
        halted = self.shared.shutdown.halted
        running: set[asyncio.Future[Any]] = set(tasks.values())
        log.info("engine %s stops: %d items in flight", self.shared.leases.owner, len(running))
        halt = asyncio.ensure_future(halted.wait())
        try:
            while running and not halted.is_set():
                _, running = await asyncio.wait(
                    running | {halt}, return_when=asyncio.FIRST_COMPLETED
                )
                running.discard(halt)
        finally:
            halt.cancel()
        if running:
            await asyncio.wait(running, timeout=HALT_SECONDS)
        for task in tasks.values():
            if task.done() and not task.cancelled():
                task.result()  # an engine bug surfaces here

    async def _drive(self, item_id: str, events: list[Event]) -> ItemState | None:
        """Drive a claimed item from its log as read at the claim (a log moved since is a
        version conflict at the first append: the driver reloads and decides again)."""
        state = fold(item_id, events)
        await hydrate(self.shared.store, state)
        book = self.books.get(state.queue)
        if book is None:  # not one of ours after all
            await self.shared.leases.release([item_id])
            return None
        return await ItemDriver(self.shared, book, state).drive()

    async def _drop_settled(self, pending: set[str]) -> None:
        rows = await self.shared.store.query(item_ids=list(pending), limit=None)
        for row in rows:
            if self._settled(row.status in FINAL_STATUSES, row.waiting is not None):
                pending.discard(row.item_id)

    def _settled(self, final: bool, waiting: bool) -> bool:
        """An item with an outcome, or (not waiting for people) one parked for a person."""
        return final or (waiting and not self.wait_for_people)


async def _drain_when(stop: asyncio.Event, shutdown: Shutdown) -> None:
    await stop.wait()
    shutdown.drain(None, "asked to stop")
