"""Running work: run, submit, resume, worker, validate."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..config.items import ItemSpec, load_items, with_ids
from ..config.loading import load_playbook
from ..config.playbook import Playbook
from ..core.state import fold
from ..core.vocabulary import OPEN_STATUSES, Status
from ..errors import InputError, ItemsError, NotFound, Problem
from ..runtime.engine import Engine
from ..services import metrics
from ..store.base import Store
from .app import Context, main, pass_context
from .live import LiveView
from .render import event_line, headline, status_text
from .transfer import start_afresh

EXIT_NOT_ALL_ACCEPTED = 3


def collect_specs(book: Playbook, items: str | None, objectives: tuple[str, ...]) -> list[ItemSpec]:
    specs: list[ItemSpec] = []
    if items:
        specs.extend(load_items(items, book))
    if objectives:
        try:
            extra = [ItemSpec(objective=o) for o in objectives]
        except ValueError as exc:
            raise ItemsError(
                Problem("--item", None, "objective", str(exc).splitlines()[-1])
            ) from None
        specs.extend(with_ids(extra, book.name))
    if not specs:
        raise InputError("no work items: give an ITEMS file (.jsonl, .yaml, .json) or --item TEXT")
    return specs


fresh_option = click.option(
    "--fresh",
    is_flag=True,
    help="Start the store afresh first: a copy of its history is kept beside it "
    "(`baton reset` does only that, and asks).",
)


@main.command("run")
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.argument("items", required=False)
@click.option(
    "--item", "objectives", multiple=True, metavar="TEXT", help="An item's objective (repeatable)."
)
@click.option(
    "-c",
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Items in flight at once.",
)
@click.option(
    "--live/--no-live", default=None, help="Redraw the view in place (default: on a terminal)."
)
@click.option("--no-wait", is_flag=True, help="Stop when what is left waits only for people.")
@click.option(
    "--keep-worktrees",
    is_flag=True,
    help="Code work: leave every attempt's worktree in place (for debugging).",
)
@fresh_option
@pass_context
def run_cmd(
    ctx: Context,
    playbook: str,
    items: str | None,
    objectives: tuple[str, ...],
    concurrency: int,
    live: bool | None,
    no_wait: bool,
    keep_worktrees: bool,
    fresh: bool,
) -> None:
    """Submit ITEMS to PLAYBOOK and run them to their outcomes, showing each step live.

    Running the same command again resumes: items keep ids derived from their content.
    Exit code 0 when every item was accepted, 3 when some were not.
    """
    book = load_playbook(playbook, state_dir=ctx.state_dir)
    specs = collect_specs(book, items, objectives)
    sys.exit(
        ctx.run(
            lambda store: run_live(
                ctx,
                store,
                [book],
                specs,
                concurrency,
                live,
                not no_wait,
                keep_worktrees=keep_worktrees,
                fresh=fresh,
            ),
            create=True,
            lasting=True,
        )
    )


@main.command("submit")
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.argument("items", required=False)
@click.option(
    "--item", "objectives", multiple=True, metavar="TEXT", help="An item's objective (repeatable)."
)
@pass_context
def submit_cmd(ctx: Context, playbook: str, items: str | None, objectives: tuple[str, ...]) -> None:
    """Record ITEMS for PLAYBOOK without running them (a worker or `baton resume` runs them)."""
    book = load_playbook(playbook, state_dir=ctx.state_dir)
    specs = collect_specs(book, items, objectives)

    async def go(store: Store) -> list[tuple[str, bool]]:
        return await Engine(store, book, state_dir=ctx.state_dir).submit(book, specs)

    for item_id, new in ctx.run(go, create=True):
        ctx.console.print(
            f"{item_id}\t{'submitted' if new else 'already submitted'}", highlight=False
        )


@main.command("resume")
@click.argument("playbooks", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-c", "--concurrency", default=4, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--live/--no-live", default=None, help="Redraw the view in place (default: on a terminal)."
)
@click.option("--no-wait", is_flag=True, help="Stop when what is left waits only for people.")
@click.option(
    "--keep-worktrees",
    is_flag=True,
    help="Code work: leave every attempt's worktree in place (for debugging).",
)
@pass_context
def resume_cmd(
    ctx: Context,
    playbooks: tuple[str, ...],
    concurrency: int,
    live: bool | None,
    no_wait: bool,
    keep_worktrees: bool,
) -> None:
    """Finish every unfinished item in the store (after a crash, say).

    Playbooks are found where the items were submitted from; name PLAYBOOKS to override.
    """

    async def go(store: Store) -> int:
        given = {b.name: b for b in (load_playbook(p, state_dir=ctx.state_dir) for p in playbooks)}
        open_statuses = [s.value for s in OPEN_STATUSES]
        rows = await store.query(statuses=open_statuses, limit=None)
        if not rows:
            ctx.console.print("nothing to resume: every item has an outcome")
            return 0
        books = dict(given)
        for row in rows:
            if row.queue not in books:
                books[row.queue] = await _recorded_playbook(store, row.item_id, row.queue, ctx)
        return await run_live(
            ctx,
            store,
            list(books.values()),
            None,
            concurrency,
            live,
            not no_wait,
            [r.item_id for r in rows],
            keep_worktrees=keep_worktrees,
        )

    sys.exit(ctx.run(go, lasting=True))


async def _recorded_playbook(store: Store, item_id: str, queue: str, ctx: Context) -> Playbook:
    first = (await store.load(item_id))[0]
    path = (first.data.get("playbook") or {}).get("path")
    if not path or not Path(path).exists():
        raise NotFound(
            f"items of playbook {queue!r} need it, but it is not where it was submitted from "
            f"({path or 'unknown'}): pass it, as in `baton resume PLAYBOOK`"
        )
    return load_playbook(path, state_dir=ctx.state_dir)


@main.command("worker")
@click.argument("playbooks", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-c", "--concurrency", default=4, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--lease",
    "lease_seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    help="Seconds an item stays this worker's without renewal: how soon another worker "
    "takes over the items of one that died.",
)
@click.option(
    "--keep-worktrees",
    is_flag=True,
    help="Code work: leave every attempt's worktree in place (for debugging).",
)
@pass_context
def worker_cmd(
    ctx: Context,
    playbooks: tuple[str, ...],
    concurrency: int,
    lease_seconds: float,
    keep_worktrees: bool,
) -> None:
    """Work on the items of PLAYBOOKS as they arrive, until interrupted (Ctrl-C).

    Start as many as you like on one shared store (redis://...): each item is worked on by
    one worker at a time, and a worker that dies leaves its items to the others.
    """
    books = [load_playbook(p, state_dir=ctx.state_dir) for p in playbooks]

    async def go(store: Store) -> None:
        engine = Engine(
            store,
            books,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            state_dir=ctx.state_dir,
            keep_worktrees=keep_worktrees,
        )
        sub = engine.bus.subscribe()

        async def echo() -> None:
            async for event in sub:
                ctx.console.print(event_line(event), highlight=False, markup=False, soft_wrap=True)

        printer = asyncio.create_task(echo())
        names = ", ".join(b.name for b in books)
        ctx.err.print(f"worker {engine.owner} on {names}: waiting for work (Ctrl-C stops)")
        try:
            await engine.run(None, stop=asyncio.Event())
        finally:
            printer.cancel()

    ctx.run(go, create=True, lasting=True)


@main.command("validate")
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.argument("items", required=False)
@pass_context
def validate_cmd(ctx: Context, playbook: str, items: str | None) -> None:
    """Check a playbook (and an items file against it) without running anything."""
    book = load_playbook(playbook, state_dir=ctx.state_dir)
    ctx.console.print(
        f"playbook {book.name}: ok ({len(book.agents)} agents, {len(book.reviewers)} reviewers, "
        f"{len(book.verifiers)} verifiers; cascade {' > '.join(book.cascade)})"
    )
    if items:
        specs = load_items(items, book)
        ctx.console.print(f"{items}: ok ({len(specs)} items)")


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
) -> int:
    """Run items with the live view; `beside` runs alongside until the engine stops."""
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
    view = LiveView(
        ctx.console,
        store,
        states,
        after=after,
        live=ctx.console.is_terminal if live is None else live,
    )
    done = asyncio.Event()
    follow = asyncio.create_task(view.follow(done))
    stop = asyncio.Event()  # a helper that fails stops the run (its error is raised below)
    helper = asyncio.create_task(beside(engine, view)) if beside else None
    if helper is not None:
        helper.add_done_callback(lambda _: stop.set())
    try:
        await engine.run(ids, stop=stop, wait_for_people=wait_for_people)
    finally:
        done.set()
        await follow
        if helper is not None:
            helper.cancel()
            (failed,) = await asyncio.gather(helper, return_exceptions=True)
            if isinstance(failed, Exception):
                raise failed
    return await _summary(ctx, store, ids, time.time() - started)


async def _summary(ctx: Context, store: Store, ids: list[str], seconds: float) -> int:
    rows = await store.query(item_ids=ids, limit=None)
    events = [e for item_id in ids for e in await store.load(item_id)]
    events.sort(key=lambda e: e.position)
    figures = metrics.compute(events)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    table = Table(title=f"{len(ids)} items in {seconds:.1f}s", show_header=False)
    for status, count in sorted(counts.items()):
        table.add_row(status_text(status), str(count))
    for label, value in headline(figures):
        table.add_row(label, value)
    ctx.console.print(table)
    waiting = [r.item_id for r in rows if r.status == Status.WAITING_HUMAN]
    unfinished = [r.item_id for r in rows if r.status != Status.ACCEPTED]
    sample = unfinished[0] if unfinished else ids[0]
    ctx.console.print(f"next: baton show {sample}    baton metrics    baton inbox", highlight=False)
    if waiting:
        ctx.console.print(
            f"{len(waiting)} item(s) wait for a person: baton inbox", style="bright_magenta"
        )
    return 0 if counts.get(Status.ACCEPTED, 0) == len(ids) else EXIT_NOT_ALL_ACCEPTED
