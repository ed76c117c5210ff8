"""The human in the loop and the fleet: approve, request-changes, reject, submit-result,
cancel, apply (an accepted change onto its repository), agents (list, pause, resume)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..core.vocabulary import Decision
from ..errors import InputError, NotFound
from ..services import actions, views
from ..store.base import Store
from .app import Context, main, pass_context, whoami

by_option = click.option(
    "--by", default=whoami, show_default="$BATON_USER or your login", help="Who decides (recorded)."
)


def _decide(
    ctx: Context, item: str, decision: Decision, by: str, message: str, **reopen: Any
) -> None:
    result = ctx.run(
        lambda store: actions.decide_review(store, item, decision, by, message, **reopen)
    )
    ctx.line(result)


@main.command("approve")
@click.argument("item")
@click.option("-m", "--message", default="", help="A comment kept with the decision.")
@by_option
@pass_context
def approve_cmd(ctx: Context, item: str, message: str, by: str) -> None:
    """Approve the attempt ITEM waits on; the engine carries on with it."""
    _decide(ctx, item, Decision.APPROVE, by, message)


@main.command("request-changes")
@click.argument("item")
@click.option("-m", "--message", required=True, help="What to change: handed to the next attempt.")
@click.option(
    "--attempts",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="For an escalated item: attempts to add.",
)
@click.option(
    "--tokens",
    default=0,
    type=click.IntRange(0),
    help="For an escalated item: tokens to add to its budget.",
)
@click.option(
    "--cost",
    default=0.0,
    type=click.FloatRange(0),
    help="For an escalated item: cost to add to its budget.",
)
@by_option
@pass_context
def request_changes_cmd(
    ctx: Context, item: str, message: str, attempts: int, tokens: int, cost: float, by: str
) -> None:
    """Send ITEM back for another attempt with your comments (also reopens an escalated item)."""
    _decide(
        ctx,
        item,
        Decision.REQUEST_CHANGES,
        by,
        message,
        attempts=attempts,
        tokens=tokens,
        cost=cost,
    )


@main.command("reject")
@click.argument("item")
@click.option("-m", "--message", required=True, help="Why: kept with the decision.")
@by_option
@pass_context
def reject_cmd(ctx: Context, item: str, message: str, by: str) -> None:
    """Reject the attempt ITEM waits on (the playbook's on_reject says what follows)."""
    _decide(ctx, item, Decision.REJECT, by, message)


@main.command("submit-result")
@click.argument("item")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--json", "as_json", is_flag=True, help="The file is JSON: keep it as structured data too."
)
@by_option
@pass_context
def submit_result_cmd(ctx: Context, item: str, file: str, as_json: bool, by: str) -> None:
    """Deliver the work for ITEM (whose agent is a person) from FILE ('-' for stdin)."""
    text = sys.stdin.read() if file == "-" else _read(file)
    data = None
    if as_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{file}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
    result = ctx.run(lambda store: actions.submit_result(store, item, by, text, data))
    ctx.line(result)


def _read(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read: {exc}") from None


@main.command("cancel")
@click.argument("item")
@click.option("-m", "--message", default="", help="Why.")
@by_option
@pass_context
def cancel_cmd(ctx: Context, item: str, message: str, by: str) -> None:
    """Cancel ITEM: no further step runs; its record stays."""
    ctx.console.print(
        ctx.run(lambda store: actions.cancel(store, item, by, message)), highlight=False
    )


@main.group("agents", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def agents_group(click_ctx: click.Context, as_json: bool) -> None:
    """The fleet: each agent's state and load. Subcommands pause and resume one."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None, "main sets the context"
    rows = ctx.run(views.fleet)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        ctx.console.print(
            "no agents known yet: agents appear once a playbook's items are submitted"
        )
        return
    table = Table(title="agents")
    for column in (
        "agent",
        "playbook",
        "kind",
        "state",
        "running",
        "concurrency",
        "attempts",
        "accepted",
        "note",
    ):
        table.add_column(column)
    for r in rows:
        state = "[red]paused[/red]" if r["paused"] else "[green]active[/green]"
        table.add_row(
            r["agent"],
            r["playbook"],
            r["kind"],
            state,
            str(r["running"]),
            str(r["concurrency"]),
            str(r["attempts"]),
            str(r["accepted"]),
            r["note"],
        )
    ctx.console.print(table)


@agents_group.command("pause")
@click.argument("name")
@click.option("-m", "--message", default="", help="Why (recorded).")
@click.option("--force", is_flag=True, help="Pause a name no known playbook has (yet).")
@click.option(
    "--stop", is_flag=True, help="Also stop its running attempts (recorded as stopped by you)."
)
@by_option
@pass_context
def pause_cmd(ctx: Context, name: str, message: str, force: bool, stop: bool, by: str) -> None:
    """Stop delegating to agent NAME on every engine (within a second); with --stop, stop
    its running attempts too. On a store where nothing has run yet, any name is paused
    for when items come."""

    async def go(store: Store) -> str:
        await views.known_agent(store, name, force=force, hint="--force pauses it anyway")
        return await actions.set_paused(store, name, True, by, message, stop=stop)

    ctx.line(ctx.run(go, create=True))


@agents_group.command("resume")
@click.argument("name")
@by_option
@pass_context
def resume_agent_cmd(ctx: Context, name: str, by: str) -> None:
    """Start delegating to agent NAME again."""
    ctx.console.print(ctx.run(lambda store: actions.set_paused(store, name, False, by)))


# --- code work: an accepted change where it belongs --------------------------------------
@main.command("apply")
@click.argument("item")
@click.option("--branch", metavar="NAME", help="Create branch NAME holding the change.")
@click.option(
    "--patch", type=click.Path(dir_okay=False, path_type=Path), help="Write the diff to a file."
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="The repository (default: the one the item worked on).",
)
@by_option
@pass_context
def apply_cmd(
    ctx: Context, item: str, branch: str | None, patch: Path | None, repo: Path | None, by: str
) -> None:
    """Apply ITEM's accepted change: onto the repository's working tree (default), onto a
    new branch (--branch), or into a patch file (--patch). A change that does not apply
    cleanly changes nothing. The application is recorded in the item's log."""
    if branch and patch:
        raise click.UsageError("give --branch or --patch, not both")
    message = ctx.run(
        lambda store: actions.apply_change(store, item, by, branch=branch, patch=patch, repo=repo)
    )
    ctx.line(message)
