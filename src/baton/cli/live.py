"""The live terminal view of a run: items by state, attempts, checks and a progress bar.

On a terminal it redraws in place; otherwise (a pipe, a CI log) it prints one line per
event, so the same run reads well in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import AsyncIterator

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..core import events as ev
from ..core.events import Event
from ..core.index import summarize
from ..core.state import ItemState, fold
from ..core.vocabulary import FINAL_STATUSES
from ..store.base import Store
from ..store.feed import follow as follow_feed
from .render import STATUS_STYLE, event_line, status_text

ORDER = list(STATUS_STYLE)


class LiveView:
    """Follows the store's feed (every process's events, so other workers' and people's
    too) from position `after`; keeps each watched item's state folded from its events."""

    def __init__(
        self,
        console: Console,
        store: Store,
        states: dict[str, ItemState],
        *,
        after: int,
        live: bool,
    ) -> None:
        self.console = console
        self.store = store
        self.states = states
        self.after = after
        self.live = live
        self.recent: deque[str] = deque(maxlen=12)
        self.attempts = sum(len(s.attempts) for s in states.values())
        self.checks: Counter[bool] = Counter()
        self.started = time.time()
        self.progress = Progress(
            TextColumn("[bold]items"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed}/{task.total} finished"),
            TimeElapsedColumn(),
            console=console,
        )
        self.bar = self.progress.add_task("items", total=len(states))
        self._status = {i: summarize(s, self.started).status for i, s in states.items()}
        self._stale: set[str] = set()
        self._held = 0  # while above 0, the view stands aside (someone is asked something)
        self._released = asyncio.Event()

    @contextlib.asynccontextmanager
    async def aside(self) -> AsyncIterator[None]:
        """Stop redrawing while the block talks to the person at the terminal."""
        self._held += 1
        self._released.clear()
        await asyncio.sleep(0.15)  # let the redraw loop notice and stop
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self._released.set()

    def statuses(self) -> Counter[str]:
        return Counter(self._status.values())

    def _apply(self, event: Event) -> None:
        state = self.states.get(event.log)
        if state is None or event.seq <= state.version:
            return
        if event.seq > state.version + 1:  # someone else (a person, another process) wrote
            self._stale.add(event.log)
            return
        state.apply(event)
        self._status[event.log] = summarize(state, event.at).status
        if event.kind == ev.ATTEMPT_STARTED:
            self.attempts += 1
        elif event.kind == ev.CHECK_RECORDED:
            self.checks[bool(event.data["passed"])] += 1
        line = event_line(event)
        if self.live:
            self.recent.append(line)
        else:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def render(self) -> RenderableType:
        finished = sum(1 for s in self._status.values() if s in FINAL_STATUSES)
        self.progress.update(self.bar, completed=finished)
        counts = self.statuses()
        table = Table.grid(padding=(0, 2))
        table.add_row(*[status_text(s) for s in ORDER if counts.get(s)])
        table.add_row(*[Text(str(counts[s])) for s in ORDER if counts.get(s)])
        checks = f"checks {self.checks[True]} passed / {self.checks[False]} failed"
        stats = Text(f"attempts {self.attempts}   {checks}", style="dim")
        recent = Text("\n".join(self.recent), style="dim", no_wrap=True, overflow="ellipsis")
        return Group(self.progress, table, stats, recent)

    async def follow(self, done: asyncio.Event) -> None:
        """Show events until `done` is set, then drain what is left."""
        if not self.live:
            await self._consume(done)
            return
        with Live(
            self.render(), console=self.console, refresh_per_second=8, transient=False
        ) as live:
            consumer = asyncio.create_task(self._consume(done))
            while not consumer.done():
                if self._held:
                    live.stop()
                    await self._released.wait()
                    live.start()
                live.update(self.render())
                await asyncio.sleep(0.125)
            await consumer
            live.update(self.render())

    async def _consume(self, done: asyncio.Event) -> None:
        """Apply the feed's events as they come; once `done` is set, read to the end, stop."""
        finishing = False
        async for event in follow_feed(self.store, self.after, idle=0.1):
            if event is not None:
                self.after = event.position
                self._apply(event)
            for item_id in list(self._stale):
                self._stale.discard(item_id)
                state = fold(item_id, await self.store.load(item_id))
                self.states[item_id] = state
                self._status[item_id] = summarize(state, time.time()).status
            if event is None:
                if finishing:  # done was set before the read that found nothing more
                    return
                finishing = done.is_set()
