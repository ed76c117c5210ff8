"""Moving a history between stores, archiving what ended, and starting one afresh: export,
import, archive, reset."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

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
        name, lines = source, _unpacked(path.read_bytes(), source).splitlines()
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


def _unpacked(content: bytes, name: str) -> bytes:
    """A file's lines: as they are, or from gzip (an archive: `baton archive`)."""
    if not content.startswith(b"\x1f\x8b"):
        return content
    import gzip
    import zlib

    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{name}: a gzip file that does not decompress: {exc}") from None


@main.command("archive")
@click.option("--before", metavar="DATE", help="Items that ended before this date (UTC if bare).")
@click.option("--older-than", metavar="AGE", help="Items that ended this long ago: 30d, 12h, 2w.")
@click.option(
    "--to",
    "folder",
    type=click.Path(file_okay=False),
    help="Folder of the archive files (default: archive/ beside the store).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many items.")
@click.option("--dry-run", is_flag=True, help="Say what would be archived; change nothing.")
@click.option("--check", is_flag=True, help="Hold the files to what the markers recorded.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def archive_cmd(
    ctx: Context,
    before: str | None,
    older_than: str | None,
    folder: str | None,
    limit: int | None,
    dry_run: bool,
    check: bool,
    as_json: bool,
) -> None:
    """Move the logs of items that ended (accepted, failed, cancelled) before a date into
    a compressed export file; the store keeps their index rows, heads and figures.

    The file (gzip JSON lines, `baton import` takes it) is written and read back whole
    before anything in the store changes; each item then gets a marker that records its
    head and the file's sha256, so `baton audit verify` still proves nothing was removed
    without a record. Keep the files: they are the archived items' only record; `--check`
    holds every file the markers name to the sha256 they recorded (exit 1 if one is
    missing or changed).
    """
    from ..services.archive import archive, cutoff
    from .app import whoami

    where = Path(folder) if folder else ctx.state_dir / "archive"
    if check:
        if before or older_than or dry_run or limit:
            raise InputError("--check takes only --to DIR (and --json): it archives nothing")
        return _check_files(ctx, where, as_json)
    until = cutoff(before, older_than, time.time())

    async def go(store: Store) -> Any:
        by = f"human:{whoami()}"
        return await archive(store, until, where, by=by, dry_run=dry_run, limit=limit)

    done = ctx.run(go)
    if as_json:
        out = {**done.__dict__, "path": str(done.path) if done.path else None, "before": until}
        ctx.line(json.dumps(out))
        return
    day = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until))
    if done.dry_run:
        ctx.line(
            f"would archive {done.items} item(s) ({done.events} events) that ended before {day}"
        )
    elif done.path is None:
        ctx.line(f"nothing to archive: no item ended before {day} that is not archived already")
    else:
        ctx.line(
            f"archived {done.items} item(s) ({done.events} events) that ended before {day} "
            f"to {done.path} ({done.size:,} bytes, sha256 {done.sha256})"
        )
    if done.changed:
        ctx.line(f"{done.changed} item(s) changed meanwhile and keep their events in the store")
    if done.finished:
        ctx.line(f"finished {done.finished} item(s) an earlier archive run was cut off on")


def _check_files(ctx: Context, folder: Path, as_json: bool) -> None:
    from ..services.archive import check_files

    held = ctx.run(lambda store: check_files(store, folder))
    if as_json:
        ctx.line(json.dumps([h.__dict__ for h in held]))
    elif not held:
        ctx.line("no item of this store is archived")
    for h in [] if as_json else held:
        ctx.line(f"{h.name}: {h.items} item(s), {h.problem or 'there and whole'}")
    if any(h.problem for h in held):
        raise click.exceptions.Exit(1)


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
