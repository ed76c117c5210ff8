"""Code work: putting an accepted change where it belongs."""

from __future__ import annotations

from pathlib import Path

import click

from ..services import actions
from .app import Context, main, pass_context
from .people import by_option


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
