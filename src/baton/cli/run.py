"""Running work: run, submit, resume, worker, validate."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from pathlib import Path

import click

from ..config.items import ItemSpec, load_items, with_ids
from ..config.loading import load_playbook
from ..config.playbook import Playbook
from ..core.vocabulary import OPEN_STATUSES
from ..errors import InputError, ItemsError, NotFound, Problem
from ..runtime.engine import Engine
from ..runtime.shutdown import DEFAULT_GRACE, stop_on_signals
from ..services.audit import CHECKPOINT_EVERY, final_checkpoint, keep_checkpoints
from ..store.base import Store
from .app import Context, main, pass_context
from .live import run_live
from .render import event_line


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

grace_option = click.option(
    "--grace",
    default=DEFAULT_GRACE,
    show_default=True,
    type=click.FloatRange(0, 86_400),
    metavar="SECONDS",
    help="Once stopped (Ctrl-C, SIGTERM): how long attempts in flight may take to finish "
    "before they are stopped, on record.",
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
@grace_option
@click.option(
    "--json", "as_json", is_flag=True, help="Events on stderr; on stdout one JSON object."
)
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
    grace: float,
    as_json: bool,
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
                as_json=as_json,
                grace=grace,
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def submit_cmd(
    ctx: Context, playbook: str, items: str | None, objectives: tuple[str, ...], as_json: bool
) -> None:
    """Record ITEMS for PLAYBOOK without running them (a worker or `baton resume` runs them)."""
    book = load_playbook(playbook, state_dir=ctx.state_dir)
    specs = collect_specs(book, items, objectives)

    async def go(store: Store) -> list[tuple[str, bool]]:
        return await Engine(store, book, state_dir=ctx.state_dir).submit(book, specs)

    done = ctx.run(go, create=True)
    if as_json:
        click.echo(json.dumps([{"id": i, "submitted": new} for i, new in done]))
        return
    for item_id, new in done:
        ctx.line(f"{item_id}\t{'submitted' if new else 'already submitted'}")


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
@grace_option
@pass_context
def resume_cmd(
    ctx: Context,
    playbooks: tuple[str, ...],
    concurrency: int,
    live: bool | None,
    no_wait: bool,
    keep_worktrees: bool,
    grace: float,
) -> None:
    """Finish every unfinished item in the store (after a crash, say).

    Playbooks are found where the items were submitted from; name PLAYBOOKS to override.
    """

    async def go(store: Store) -> int:
        given = {b.name: b for b in (load_playbook(p, state_dir=ctx.state_dir) for p in playbooks)}
        open_statuses = [s.value for s in OPEN_STATUSES]
        rows = await store.query(statuses=open_statuses, limit=None)
        if not rows:
            ctx.line("nothing to resume: every item has an outcome")
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
            grace=grace,
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
@grace_option
@click.option(
    "--checkpoint-every",
    default=CHECKPOINT_EVERY,
    show_default=True,
    type=click.FloatRange(1, 86_400),
    metavar="SECONDS",
    help="How often to write an audit checkpoint (the heads of the logs that changed), "
    "when something did; one more is written when the worker stops.",
)
@pass_context
def worker_cmd(
    ctx: Context,
    playbooks: tuple[str, ...],
    concurrency: int,
    lease_seconds: float,
    keep_worktrees: bool,
    grace: float,
    checkpoint_every: float,
) -> None:
    """Work on the items of PLAYBOOKS as they arrive, until stopped (Ctrl-C or SIGTERM).

    Start as many as you like on one shared store (redis://...): each item is worked on by
    one worker at a time, and a worker that dies leaves its items to the others. Stopped,
    it claims nothing more, lets the attempts in flight finish for up to --grace seconds,
    gives its items back and exits 0; a second signal stops them at once.
    """
    books = [load_playbook(p, state_dir=ctx.state_dir) for p in playbooks]

    async def go(store: Store) -> int:
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
                ctx.line(event_line(event))

        printer = asyncio.create_task(echo())
        by = f"engine:{engine.owner}"
        checkpoints = asyncio.create_task(keep_checkpoints(store, by, checkpoint_every))
        names = ", ".join(b.name for b in books)
        ctx.err.print(f"worker {engine.owner} on {names}: waiting for work (Ctrl-C stops)")
        say = functools.partial(ctx.err.print, highlight=False, soft_wrap=True)
        try:
            with stop_on_signals(engine.stop, grace, say, "the worker") as signals:
                await engine.run(None)
        finally:
            printer.cancel()
            checkpoints.cancel()
        await final_checkpoint(store, by)
        say(f"worker {engine.owner} stopped; the items it held are back in the queue")
        return 0 if len(signals.received) < 2 else signals.exit_code

    sys.exit(ctx.run(go, create=True, lasting=True))


@main.command("validate")
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.argument("items", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object: ok, and every problem if not."
)
@pass_context
def validate_cmd(ctx: Context, playbook: str, items: str | None, as_json: bool) -> None:
    """Check a playbook (and an items file against it) without running anything."""
    try:
        book = load_playbook(playbook, state_dir=ctx.state_dir)
        specs = load_items(items, book) if items else None
    except InputError as exc:
        if not as_json:
            raise
        click.echo(json.dumps({"ok": False, "problems": [_problem(p) for p in exc.problems]}))
        sys.exit(2)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": True,
                    "playbook": {
                        "name": book.name,
                        "agents": {name: slot.kind for name, slot in book.agents.items()},
                        "reviewers": {n: slot.kind for n, slot in book.reviewers.items()},
                        "verifiers": list(book.verifiers),
                        "cascade": list(book.cascade),
                    },
                    "items": None if specs is None else len(specs),
                }
            )
        )
        return
    ctx.line(
        f"playbook {book.name}: ok ({len(book.agents)} agents, {len(book.reviewers)} reviewers, "
        f"{len(book.verifiers)} verifiers; cascade {' > '.join(book.cascade)})"
    )
    if specs is not None:
        ctx.line(f"{items}: ok ({len(specs)} items)")


def _problem(p: Problem) -> dict[str, object]:
    return {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
