"""Running items with the live terminal view: items by state, attempts, checks and a
progress bar; then the run's summary (or, with --json, one JSON object).

On a terminal it redraws in place; otherwise (a pipe, a CI log) it prints one line per
event, so the same run reads well in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..config.items import ItemSpec
from ..config.playbook import Playbook
from ..core import events as ev
from ..core.events import Event
from ..core.index import summarize
from ..core.state import ItemState, fold
from ..core.vocabulary import FINAL_STATUSES, Status
from ..runtime.engine import Engine
from ..runtime.shutdown import DEFAULT_GRACE, stop_on_signals
from ..services import metrics
from ..services.audit import final_checkpoint
from ..store.base import Store
from ..store.feed import follow as follow_feed
from .app import RESUME, Context, activate_hint
from .render import STATUS_STYLE, event_line, headline, status_text
from .transfer import start_afresh

EXIT_NOT_ALL_ACCEPTED = 3

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


async def run_live(
    ctx: Context,
    store: Store,
    books: list[Playbook],
    specs: list[ItemSpec] | None,
    concurrency: int,
    live: bool | None,
    wait_for_people: bool,
    ids: list[str] | None = None,
    beside: Callable[[Engine, LiveView], Coroutine[Any, Any, None]] | None = None,
    *,
    keep_worktrees: bool = False,
    fresh: bool = False,
    as_json: bool = False,
    grace: float = DEFAULT_GRACE,
) -> int:
    """Run items with the live view; `beside` runs alongside until the engine stops.

    With `as_json` the events go to stderr as plain lines and stdout gets one JSON object:
    each item's status and every figure. Ctrl-C or SIGTERM stops the run, letting the
    attempts in flight finish for up to `grace` seconds (runtime/shutdown.py)."""
    if fresh:
        await start_afresh(ctx, store, ask=False)
    started = time.time()
    engine = Engine(
        store,
        books,
        concurrency=concurrency,
        state_dir=ctx.state_dir,
        keep_worktrees=keep_worktrees,
    )
    if specs is not None:
        submitted = await engine.submit(books[0], specs)
        ids = [item_id for item_id, _ in submitted]
        resumed = sum(1 for _, new in submitted if not new)
        if resumed:
            ctx.err.print(
                f"{resumed} of {len(ids)} items were already submitted: resuming them (what "
                "they did stays on record; --fresh starts the store afresh, keeping a copy)",
                highlight=False,
                soft_wrap=True,
            )
    assert ids is not None
    states = {}
    after = 0  # the view follows the feed from the last event it folded
    for item_id in ids:
        events = await store.load(item_id)
        states[item_id] = fold(item_id, events)
        after = max(after, events[-1].position if events else 0)
    console = ctx.err if as_json else ctx.console
    view = LiveView(
        console,
        store,
        states,
        after=after,
        live=False if as_json else (console.is_terminal if live is None else live),
    )
    done = asyncio.Event()
    follow = asyncio.create_task(view.follow(done))
    stop = asyncio.Event()  # a helper that fails stops the run (its error is raised below)
    helper = asyncio.create_task(beside(engine, view)) if beside else None
    if helper is not None:
        helper.add_done_callback(lambda _: stop.set())
    say = functools.partial(ctx.err.print, highlight=False, soft_wrap=True)
    try:
        with stop_on_signals(engine.stop, grace, say, "the run") as signals:
            await engine.run(ids, stop=stop, wait_for_people=wait_for_people)
    finally:
        done.set()
        await follow
        if helper is not None:
            helper.cancel()
            (failed,) = await asyncio.gather(helper, return_exceptions=True)
            if isinstance(failed, Exception):
                raise failed
    await final_checkpoint(store, f"engine:{engine.owner}")  # the run's heads, signed off
    code = await _summary(ctx, store, ids, time.time() - started, as_json)
    if signals.received:
        say(f"interrupted: {RESUME}")
        return signals.exit_code
    return code


async def _summary(
    ctx: Context, store: Store, ids: list[str], seconds: float, as_json: bool = False
) -> int:
    rows = await store.query(item_ids=ids, limit=None)
    events = [e for item_id in ids for e in await store.load(item_id)]
    events.sort(key=lambda e: e.position)
    figures = metrics.compute(events)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    code = 0 if counts.get(Status.ACCEPTED, 0) == len(ids) else EXIT_NOT_ALL_ACCEPTED
    if as_json:
        click.echo(
            json.dumps(
                {
                    "seconds": seconds,
                    "counts": counts,
                    "items": [{"id": r.item_id, "status": r.status} for r in rows],
                    "metrics": figures.to_dict(),
                },
                ensure_ascii=False,
            )
        )
        return code
    table = Table(title=f"{len(ids)} items in {seconds:.1f}s", show_header=False)
    for status, count in sorted(counts.items()):
        table.add_row(status_text(status), str(count))
    for label, value in headline(figures):
        table.add_row(label, value)
    ctx.console.print(table)
    waiting = [r.item_id for r in rows if r.status == Status.WAITING_HUMAN]
    unfinished = [r.item_id for r in rows if r.status != Status.ACCEPTED]
    sample = unfinished[0] if unfinished else ids[0]
    hint = activate_hint()
    first = f"{hint}, then: " if hint else ""
    ctx.line(f"next: {first}baton show {sample}    baton metrics    baton inbox")
    if waiting:
        ctx.console.print(
            f"{len(waiting)} item(s) wait for a person: baton inbox", style="bright_magenta"
        )
    return code
