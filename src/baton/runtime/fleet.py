"""The kill switch, as one engine sees it: the agents paused now, read from the fleet log
(`agent.paused`, `agent.resumed`, written by any process), and a wait until the agents an
item needs are active again. An item held by the switch keeps its lease.

The hard form (`agent.paused` with `stop`: `baton agents pause NAME --stop`) also stops the
agent's attempts that are running: each is signalled, and recorded as stopped by whom.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from ..core import events as ev
from ..core.vocabulary import FLEET_LOG
from ..store.base import Store
from .shutdown import Latch


class Fleet:
    """The paused agents, followed from the fleet log."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.paused: set[str] = set()
        self._version = 0
        self._read = False  # stops written before this engine first looked are history
        self._changed: asyncio.Event | None = None  # set (and replaced) at every change
        self._stops: dict[str, Latch] = {}  # by agent: set (and replaced) at a stop
        self.stopped_by: dict[str, dict[str, str]] = {}  # by agent: the last stop's who, why

    async def refresh(self) -> None:
        """Read what was appended to the fleet log since the last look."""
        before = set(self.paused)
        for event in await self.store.load(FLEET_LOG, after=self._version):
            agent = event.data.get("agent", "")
            if event.kind == ev.AGENT_PAUSED:
                self.paused.add(agent)
                if event.data.get("stop") and self._read:
                    self.stopped_by[agent] = {
                        "by": str(event.data.get("by", "")),
                        "reason": str(event.data.get("reason", "")),
                    }
                    stop = self._stops.pop(agent, None)
                    if stop is not None:
                        stop.set()
            elif event.kind == ev.AGENT_RESUMED:
                self.paused.discard(agent)
            self._version = event.seq
        self._read = True
        if self.paused != before and self._changed is not None:
            changed, self._changed = self._changed, None
            changed.set()

    async def follow(self, interval: float) -> None:
        """Look at the fleet log every `interval` seconds, for as long as the engine runs."""
        while True:
            await asyncio.sleep(interval)
            await self.refresh()

    def stop_signal(self, agent: str) -> Latch:
        """Set when the agent is next paused with --stop (what its running attempts await)."""
        signal = self._stops.get(agent)
        if signal is None:
            signal = self._stops[agent] = Latch()
        return signal

    async def until_active(self, agents: Collection[str]) -> bool:
        """Wait while any of `agents` is paused; whether it had to wait."""
        waited = False
        while any(agent in self.paused for agent in agents):
            waited = True
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()
        return waited
