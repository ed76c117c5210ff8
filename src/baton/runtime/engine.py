"""The engine: runs the items of its playbooks from a store until they reach an outcome.

It is wiring: the claim loop (claiming.py) leases items and hands each to a driver
(driver.py: decide -> perform -> record), which runs best-of-N rounds (rounds.py), waits on
the kill switch (fleet.py), and keeps its leases (leases.py). A kill at any point leaves
a log from which the next engine resumes (an attempt that was in flight is recorded as
abandoned, never dropped).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from ..config.items import ItemSpec
from ..config.playbook import Playbook
from ..core import events as ev
from ..core.state import ItemState
from ..core.transition import settle
from ..errors import ItemsError, Problem, VersionConflict
from ..store.base import Store
from .bus import Bus
from .claiming import Claimer
from .driver import Shared
from .fleet import Fleet
from .gc_threshold import fewer_collections
from .leases import Leases, Owner
from .recording import EVENT_BYTES_ENV as ENV
from .recording import event_limit, record
from .redact import Redactor
from .shutdown import Shutdown

SUBMIT_CHUNK = 1000  # items recorded at once (one group commit on SQLite)


class Engine:
    """Runs items of the given playbooks from a store until they reach an outcome."""

    def __init__(
        self,
        store: Store,
        playbooks: Playbook | Iterable[Playbook],
        *,
        concurrency: int = 8,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.25,
        bus: Bus | None = None,
        state_dir: Path | str = ".baton",
        environ: dict[str, str] | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        keep_worktrees: bool = False,
        event_bytes: int | None = None,
    ) -> None:
        books = [playbooks] if isinstance(playbooks, Playbook) else list(playbooks)
        self.store = store
        self.playbooks = {b.name: b for b in books}
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.bus = bus or Bus()
        self.state_dir = Path(state_dir)
        self.owner = owner or str(Owner.here())
        self.clock = clock
        self.keep_worktrees = keep_worktrees  # code work: leave finished attempts' worktrees
        env = dict(os.environ) if environ is None else environ
        self.redactor = Redactor({s for b in books for s in b.secret_names}, env)
        self.fleet = Fleet(store)
        self.leases = Leases(store, self.owner, lease_seconds)
        self.shared = Shared(
            store=store,
            clock=clock,
            redactor=self.redactor,
            bus=self.bus,
            fleet=self.fleet,
            leases=self.leases,
            slots={
                (b.name, name): asyncio.Semaphore(slot.concurrency)
                for b in books
                for name, slot in b.agents.items()
            },
            state_dir=self.state_dir,
            keep_worktrees=keep_worktrees,
            shutdown=Shutdown(),
            event_bytes=event_limit(env if event_bytes is None else {ENV: str(event_bytes)}),
        )

    def stop(self, grace: float | None = None, why: str = "") -> None:
        """Stop working (`run` then returns): claim nothing more and begin no attempt; let
        the attempts in flight finish (with their gates) for up to `grace` seconds (None: as
        long as they take; 0: not at all), then stop them, recorded as abandoned by this
        engine with `why`; give back every lease. Called again with a shorter grace, the
        stop comes sooner. A stopped engine stays stopped."""
        self.shared.shutdown.drain(grace, why)

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self.shared.shutdown.draining.is_set()

    @property
    def paused(self) -> set[str]:
        """The agents paused now, as this engine last read the fleet log."""
        return self.fleet.paused

    # --- submitting -------------------------------------------------------------------
    async def submit(
        self, playbook: str | Playbook, specs: Iterable[ItemSpec]
    ) -> list[tuple[str, bool]]:
        """Record new items; an id already in the store is left as it is (a resume).

        Returns (item id, newly submitted) pairs, in order.
        """
        book = self.playbooks[playbook if isinstance(playbook, str) else playbook.name]
        specs = list(specs)
        problems = [p for s in specs for p in _check_refs(s, book)]
        if problems:
            raise ItemsError(problems)
        await self._refuse_other_playbooks(book, specs)
        results: list[tuple[str, bool]] = []
        with fewer_collections():
            for start in range(0, len(specs), SUBMIT_CHUNK):  # bounded: memory stays flat
                chunk = specs[start : start + SUBMIT_CHUNK]
                results.extend(await asyncio.gather(*(self._submit_one(book, s) for s in chunk)))
        return results

    async def _refuse_other_playbooks(self, book: Playbook, specs: list[ItemSpec]) -> None:
        """An id the store has under another playbook is not this playbook's to run: say
        so before anything is written (running it would wait for ever, or show the other
        playbook's results as this one's)."""
        ids = [s.id for s in specs if s.id is not None]
        theirs: dict[str, list[str]] = {}
        for row in await self.store.query(item_ids=ids, limit=None):
            if row.queue != book.name:
                theirs.setdefault(row.queue, []).append(row.item_id)
        if not theirs:
            return
        problems = []
        for queue, taken in sorted(theirs.items()):
            shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
            problems.append(
                Problem(
                    "",
                    None,
                    "id",
                    f"{shown} {'was' if len(taken) == 1 else 'were'} submitted to playbook "
                    f"{queue!r}, not {book.name!r}: nothing was submitted. Run {queue}'s items "
                    f"with its playbook (`baton resume`), give these items ids of their own, "
                    f"or start the store afresh (`--fresh`, keeping a copy)",
                )
            )
        raise ItemsError(problems)

    async def _submit_one(self, book: Playbook, spec: ItemSpec) -> tuple[str, bool]:
        assert spec.id is not None, "items get their ids from items.with_ids"
        state = ItemState(spec.id)
        origin = {
            "name": book.name,
            "path": str(book.path) if book.path else None,
            "digest": book.digest,
        }
        entry = (
            ev.ITEM_SUBMITTED,
            {"spec": spec.to_dict(), "queue": book.name, "playbook": origin},
        )
        limit = self.shared.event_bytes
        try:
            stored = await record(self.store, settle(state, [entry], self.clock(), limit=limit))
        except VersionConflict:
            return spec.id, False
        self.bus.publish(stored)
        return spec.id, True

    # --- running ----------------------------------------------------------------------
    async def run(
        self,
        items: Collection[str] | None = None,
        *,
        stop: asyncio.Event | None = None,
        wait_for_people: bool = True,
    ) -> None:
        """Work until every item in `items` has an outcome (or, with no items, until
        stopped: `stop` set, or the `stop()` method called; setting `stop` is `stop()`
        without a grace).

        With `wait_for_people` False, an item parked for a person counts as finished too.
        """
        claimer = Claimer(
            self.shared,
            self.playbooks,
            concurrency=self.concurrency,
            poll_interval=self.poll_interval,
            wait_for_people=wait_for_people,
        )
        with fewer_collections():
            await claimer.run(items, stop)


def _check_refs(spec: ItemSpec, book: Playbook) -> list[Any]:
    from ..config.items import check_against
    from ..config.source import Located

    if all(n in book.verifiers for n in spec.acceptance or ()) and all(
        n in book.agents for n in spec.cascade or ()
    ):
        return []
    src = Located(f"item {spec.id}", spec.to_dict(), {})
    return check_against(spec, book, src, ())
