"""Watching and inspecting: status, show, events, inbox, metrics, audit (verify, checkpoint)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from rich.table import Table

from ..core.bounds import DIGEST
from ..core.vocabulary import OPEN_STATUSES, Status
from ..errors import InputError, NotFound
from .app import Context, main, pass_context, whoami
from .render import (
    agent_table,
    ago,
    event_line,
    headline,
    items_table,
    one_line,
    status_text,
    timeline,
    waiting_hint,
)
from .settings import flat

if TYPE_CHECKING:  # what each command needs is imported in its body: `baton status` is quick
    from ..core.events import Event
    from ..services import metrics
    from ..store.base import Store


LISTED = click.option(
    "--limit", type=click.IntRange(0), help="At most N listed (50; --json: all; 0: all)."
)


def listed(limit: int | None, as_json: bool) -> int:
    """How many rows a listing shows (0: all): 50 at a terminal, all as JSON, unless asked."""
    return (0 if as_json else 50) if limit is None else limit


def _json(ctx: Context, value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@main.command("status")
@click.option("--all", "show_all", is_flag=True, help="List finished items too.")
@LISTED
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def status_cmd(ctx: Context, show_all: bool, limit: int | None, as_json: bool) -> None:
    """Items by state, and the items still open (escalated ones too: a person owns them)."""
    cap = listed(limit, as_json)
    statuses = None if show_all else [s.value for s in (*OPEN_STATUSES, Status.ESCALATED)]

    async def go(store: Store) -> tuple[dict[str, int], list[Any]]:
        return await store.counts(), await store.query(statuses=statuses, limit=cap or None)

    counts, rows = ctx.run(go)
    more = sum(counts.get(s, 0) for s in statuses or counts) - len(rows)
    if as_json:
        _json(ctx, {"counts": counts, "items": [r._asdict() for r in rows]})
        return
    if not counts:
        ctx.line("no items yet: start with `baton run PLAYBOOK ITEMS`")
        return
    summary = Table.grid(padding=(0, 2))
    order = [s.value for s in Status]
    summary.add_row(*[status_text(s) for s in order if counts.get(s)])
    summary.add_row(*[str(counts[s]) for s in order if counts.get(s)])
    ctx.console.print(summary)
    if rows:
        ctx.console.print(items_table(rows, "open items" if not show_all else "items"))
    if more:
        ctx.line(f"and {more} more: `baton status --limit 0` lists them all (`--json` too)")


@main.command("show")
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help="The raw events, as JSON.")
@pass_context
def show_cmd(ctx: Context, item: str, as_json: bool) -> None:
    """An item's whole timeline: attempts, outputs, checks with evidence, reviews, feedback."""
    from ..runtime.recording import load_state

    async def go(store: Store) -> tuple[Any, list[Event]]:
        state = await load_state(store, item)
        return state, await store.load(item)

    state, events = ctx.run(go)
    if as_json:
        _json(ctx, [e.to_dict() for e in events])
        return
    status = "open" if state.outcome is None else state.outcome.value
    ctx.console.print(
        f"[bold]{item}[/bold]  {status}  {len(state.attempts)} attempt(s)  queue {state.queue}"
    )
    ctx.console.print(timeline(events))
    if state.waiting:
        ctx.console.print(waiting_hint(item, state.waiting["wait"]), style="bright_magenta")


@main.command("blob")
@click.argument("digest")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write it to a file."
)
@pass_context
def blob_cmd(ctx: Context, digest: str, output: str | None) -> None:
    """Print what an event keeps aside (`baton show` names it: sha256:...), byte for byte."""
    if not DIGEST.fullmatch(digest):
        raise InputError(f"DIGEST: {digest!r} is not a blob digest (expected sha256:<64 hex>)")

    async def go(store: Store) -> bytes | None:
        return await store.get_blob(digest)

    content = ctx.run(go)
    if content is None:
        raise NotFound(f"no blob {digest} in this store")
    if output:
        with open(output, "wb") as out:
            out.write(content)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()


@main.command("events")
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they happen.")
@click.option("--item", help="Only this item's events.")
@click.option("--since", "after", type=int, default=0, help="Start after this global position.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def events_cmd(ctx: Context, follow: bool, item: str | None, after: int, as_json: bool) -> None:
    """Print the event log (every process's events; --follow for a live tail)."""
    from ..store.feed import feed
    from ..store.feed import follow as follow_feed

    async def go(store: Store) -> None:
        events = follow_feed(store, after) if follow else feed(store, after)
        async for event in events:
            if event is None or (item is not None and event.log != item):
                continue
            if as_json:
                click.echo(json.dumps(event.to_dict(), ensure_ascii=False))
            else:
                ctx.line(f"{event.position:>7} {event_line(event)}")

    try:
        ctx.run(go, create=follow, lasting=follow)  # a tail may start before anything ran
    except KeyboardInterrupt:
        return


@main.command("inbox")
@LISTED
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def inbox_cmd(ctx: Context, limit: int | None, as_json: bool) -> None:
    """What waits for a person, oldest first: reviews to decide, work to do, escalations."""
    from ..services import views

    cap = listed(limit, as_json)
    entries = ctx.run(lambda store: views.inbox(store, cap + 1 if cap else None))
    more, entries = len(entries) > cap > 0, entries[:cap] if cap else entries
    if as_json:
        _json(ctx, entries)
        return
    if not entries:
        ctx.line("the inbox is empty: nothing waits for a person")
        return
    table = Table(title=f"{len(entries)} waiting for a person")
    for column in ("item", "waits for", "since", "objective", "why", "act"):
        table.add_column(column, overflow="fold" if column in ("item", "act") else "ellipsis")
    now = time.time()
    for e in entries:
        what = {"review": f"review ({e['reviewer']})", "work": "the work"}.get(e["wait"], e["wait"])
        act = {
            "review": "approve / request-changes / reject",
            "work": "submit-result",
            "escalation": "request-changes / reject",
        }[e["wait"]]
        table.add_row(
            e["item"],
            what,
            ago(e["since"], now),
            one_line(e["objective"], 50),
            one_line(e["reason"], 50),
            act,
        )
    ctx.console.print(table)
    if more:
        ctx.line("and more wait: `baton inbox --limit 0` lists them all (`--json` too)")


@main.command("metrics")
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON.")
@click.option(
    "--playbook", default=None, help="The figures of one playbook's items (no agent table)."
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Recompute the counters from the event log first, and say which were wrong.",
)
@pass_context
def metrics_cmd(ctx: Context, as_json: bool, playbook: str | None, rebuild: bool) -> None:
    """Throughput, cycle time, first-pass yield, rates, cost: kept as events are committed.

    Read from the counters every commit adds to, so a read costs the same at any store
    size; rebuilt from the event log where they do not cover it (a store an older baton
    wrote), or with --rebuild."""
    from ..services import metrics, readmodel

    async def go(store: Store) -> tuple[metrics.Metrics, readmodel.Rebuilt | None]:
        rebuilt = await readmodel.rebuild(store) if rebuild else None
        scope = f"pb={playbook}|" if playbook else metrics.ALL
        counters = rebuilt.counters if rebuilt else await readmodel.current(store, scope)
        return metrics.figures(counters, scope, now=time.time()), rebuilt

    figures, rebuilt = ctx.run(go)
    if playbook and not figures.items["submitted"]:
        raise click.BadParameter(
            f"no item of playbook {playbook!r} is in the store", param_hint="--playbook"
        )
    if as_json:
        out = figures.to_dict()
        if rebuilt is not None:
            out["rebuilt"] = {"through": rebuilt.through, "differences": _wrong(rebuilt)}
        _json(ctx, out)
        return
    if rebuilt is not None:
        wrong = _wrong(rebuilt)
        ctx.console.print(
            f"rebuilt the counters from the event log through position {rebuilt.through}: "
            + (f"{len(wrong)} differed" if wrong else "every kept counter agreed")
        )
        for name, (held, found) in wrong.items():
            ctx.console.print(f"  {name}: kept {held}, the log says {found}", markup=False)
    title = f"baton metrics: playbook {playbook}" if playbook else "baton metrics"
    table = Table(title=title, show_header=False)
    for label, value in headline(figures):
        table.add_row(label, value)
    ctx.console.print(table)
    ctx.console.print(agent_table(figures))


def _wrong(rebuilt: Any) -> dict[str, list[int | None]]:
    return {name: list(pair) for name, pair in rebuilt.differences.items()}


@main.group("audit")
def audit_group() -> None:
    """Check the tamper-evident record."""


@audit_group.command("verify")
@click.option(
    "--expect",
    metavar="HASH",
    help="Fail unless the audit log still holds the checkpoint of this hash (one you noted "
    "down from `baton audit checkpoint`): finds the audit log's own tail cut off.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Recompute every chain from its first event (and every blob), not only what came "
    "after the last verify checkpoint.",
)
@pass_context
def audit_verify_cmd(ctx: Context, expect: str | None, full: bool) -> None:
    """Check every log's hash chain, and hold every log to the heads the checkpoints
    recorded (and every item to its index row): report what does not hold (exit 1).

    \b
    Incremental by default: from the last verify checkpoint, what was appended since
    (README, "Verifying the audit trail", says what only --full can find)."""
    from ..services import audit_verify

    async def go(store: Store) -> audit_verify.Verified:
        return await audit_verify.verify(store, expect, full=full, by=f"human:{whoami()}")

    audit = ctx.run(go)
    latest = audit.checkpoint
    covered = (
        f"checkpoint {latest.number} (head {latest.hash}); {audit.uncovered} event(s) since, "
        "not yet covered by one"
        if latest is not None
        else f"no checkpoint yet: `baton audit checkpoint` covers the {audit.uncovered} event(s)"
    )
    mark = audit.mark
    if audit.full:
        how = f"verified in full ({audit.note})" if audit.note else "verified in full"
    else:
        assert mark is not None, "an incremental verify starts from a checkpoint"
        how = f"{audit.checked} event(s) re-hashed from verify checkpoint {mark.number}"
    if audit.ok:
        since = f"; verify checkpoint {mark.number}, digest {mark.digest}" if mark else ""
        ctx.console.print(
            f"audit ok: {audit.events} events in {audit.logs} logs, every hash chain holds, "
            f"every log reaches its recorded head; {covered}; {how}{since}",
            highlight=False,
            soft_wrap=True,
        )
        return
    for link in audit.broken:
        ctx.console.print(
            f"BROKEN: log {link.log} at event #{link.seq}: {link.reason}", style="red"
        )
    for finding in audit.findings:
        ctx.console.print(
            f"MISMATCH: {finding.problem}", style="red", highlight=False, soft_wrap=True
        )
    ctx.console.print(f"{covered}; {how}", highlight=False, soft_wrap=True)
    raise SystemExit(1)


@audit_group.command("checkpoint")
@pass_context
def audit_checkpoint_cmd(ctx: Context) -> None:
    """Record the head of every log changed since the last checkpoint; prints the new head
    (note it down: `baton audit verify --expect HASH` holds the store to it)."""
    from ..services.audit import write_checkpoint

    found = ctx.run(lambda store: write_checkpoint(store, f"human:{whoami()}"))
    if found is None:
        ctx.line("nothing to cover: the store holds no events yet")
        return
    same = "" if found.written else " (nothing changed since it)"
    ctx.line(
        f"checkpoint {found.number}: {found.logs} logs, {found.events} events, "
        f"head {found.hash}{same}"
    )


@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def config_cmd(click_ctx: click.Context, as_json: bool) -> None:
    """The settings in effect and where each came from: the command line, the environment,
    the project file (baton.toml, or [tool.baton] in pyproject.toml), or baton's default."""
    ctx = click_ctx.find_object(Context)
    assert ctx is not None, "main sets the context"
    root = click_ctx.find_root()
    project = ctx.project
    file = str(project.path) if project.path else None

    def source(name: str, attr: str) -> str:
        if attr in ctx.given_after:
            return "command line"
        found = root.get_parameter_source(name)
        if found is ParameterSource.COMMANDLINE:
            return "command line"
        if found is ParameterSource.ENVIRONMENT:
            return f"environment (BATON_{name.upper()})"
        if found is ParameterSource.DEFAULT_MAP:
            return file or "project file"
        return "default"

    user_source = (
        "environment (BATON_USER)"
        if os.environ.get("BATON_USER")
        else (file if project.values.get("user") else "your login")
    )
    rows: list[dict[str, Any]] = [
        {"setting": "store", "value": ctx.store_spec, "from": source("store", "store_spec")},
        {"setting": "user", "value": whoami(), "from": user_source},
    ]
    for name in ("log_level", "log_format"):
        rows.append({"setting": name, "value": getattr(ctx, name), "from": source(name, name)})
    for command, options in sorted(project.commands.items()):
        for option, value in sorted(flat(options).items()):
            env = f"BATON_{command}_{option}".upper().replace(".", "_")
            override = os.environ.get(env)  # the environment wins over the file
            where = f"environment ({env})" if override is not None else file or "project file"
            rows.append(
                {
                    "setting": f"{command}.{option}",
                    "value": value if override is None else override,
                    "from": where,
                }
            )
    if as_json:
        _json(ctx, {"file": file, "settings": rows})
        return
    ctx.line(f"project file: {file or 'none (baton.toml, or [tool.baton] in pyproject.toml)'}")
    table = Table(show_header=True)
    for column in ("setting", "value", "from"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["setting"], str(row["value"]), row["from"])
    ctx.console.print(table)
