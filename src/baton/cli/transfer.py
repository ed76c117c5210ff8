"""Moving a history between stores, and starting one afresh: export, import, reset."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from ..errors import InputError
from ..services.transfer import (
    Imported,
    census,
    check_chains,
    export_lines,
    import_events,
    parse_lines,
    reset,
)
from ..store.base import Store
from .app import Context, main, pass_context


@main.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout)."
)
@pass_context
def export_cmd(ctx: Context, output: str | None) -> None:
    """Write every event of the store as JSON lines, in order (for `baton import`)."""

    async def go(store: Store) -> int:
        count = 0
        out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
        try:
            async for line in export_lines(store):
                out.write(line)
                count += 1
        finally:
            if output:
                out.close()
            else:
                out.flush()
        return count

    count = ctx.run(go)
    ctx.err.print(f"exported {count} events", highlight=False)


@main.command("import")
@click.argument("source", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@pass_context
def import_cmd(ctx: Context, source: str) -> None:
    """Append an export (a file, or - for stdin) to the store, hashes intact.

    The whole file is checked first (fields, hash chains, what the target already holds);
    a bad file changes nothing. Running an import again after it was cut off finishes it.
    """
    if source == "-":
        name, lines = "stdin", sys.stdin.buffer.read().splitlines()
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{source}: no such file (expected an export from `baton export`)")
        name, lines = source, path.read_bytes().splitlines()
    events, blobs = parse_lines(lines, name)
    if not events:
        raise InputError(f"{name}: no events to import (expected JSON lines from `baton export`)")
    check_chains(events, name)  # before the store is opened: a bad file creates nothing

    async def go(store: Store) -> Imported:
        return await import_events(store, events, name, blobs)

    done = ctx.run(go, create=True)
    again = f" ({done.skipped} were already there)" if done.skipped else ""
    ctx.err.print(
        f"imported {done.events} events of {done.logs} logs ({done.items} items){again}",
        highlight=False,
    )
    if done.merged_audit:
        ctx.err.print(
            "the store keeps its own audit checkpoints: the export's were checked against its "
            "logs and a new checkpoint here covers them (`baton audit verify` prints its head)",
            highlight=False,
            soft_wrap=True,
        )


def backup_path(ctx: Context) -> Path:
    """Where a reset keeps the history it removes: beside the store, named by the time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return ctx.state_dir / "backups" / f"history-{stamp}-{os.getpid()}.jsonl"


async def start_afresh(ctx: Context, store: Store, *, ask: bool) -> None:
    """Empty the store (a copy of its history first), asking first when `ask`."""
    held = await census(store)
    if not held.events:
        ctx.err.print(f"{ctx.store_spec} is empty already", highlight=False)
        return
    backup = backup_path(ctx)
    what = (
        f"{held.items} item(s) and {held.events} event(s) in {held.logs} log(s) of {ctx.store_spec}"
    )
    if ask:
        if not sys.stdin.isatty():
            raise InputError(
                f"reset would delete {what}: say --yes to confirm (no one is at a terminal)"
            )
        if not click.confirm(f"delete {what}? (a copy goes to {backup})", err=True):
            ctx.err.print("nothing was deleted", highlight=False)
            raise click.exceptions.Exit(1)
    gone = await reset(store, backup)
    ctx.err.print(
        f"deleted {gone.items} item(s) and {gone.events} event(s); their history is kept in "
        f"{backup} (`baton import {backup}` brings it back)",
        highlight=False,
        soft_wrap=True,
    )


@main.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask: delete (after keeping a copy).")
@pass_context
def reset_cmd(ctx: Context, yes: bool) -> None:
    """Start the store afresh: every item and event is deleted, after a copy of the whole
    history is written beside the store (`baton import FILE` brings it back)."""
    ctx.run(lambda store: start_afresh(ctx, store, ask=not yes))
