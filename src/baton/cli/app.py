"""The `baton` command group, its options and the context every command gets: the store it
works on, the consoles, and how baton's errors become messages and exit codes."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from .. import __version__
from ..errors import BatonError, UserError
from ..store.base import Store
from ..store.opener import DEFAULT_STORE, open_store

T = TypeVar("T")


@dataclass
class Context:
    store_spec: str
    console: Console
    err: Console

    @property
    def state_dir(self) -> Path:
        """Worktrees, scratch files and backups live beside the store's file (.baton/)."""
        spec = self.store_spec.removeprefix("sqlite://")
        return Path(spec).parent if "://" not in spec else Path(".baton")

    def run(
        self, fn: Callable[[Store], Awaitable[T]], *, create: bool = False, lasting: bool = False
    ) -> T:
        """Open the store (creating it only when asked), run an async action on it, close it.

        A `lasting` command (run, worker, a live tail) rides out a store that is out of reach
        for a while (a Redis restart); any other command fails after a few seconds.
        """

        async def go() -> T:
            store = open_store(
                self.store_spec, create=create, **({"reconnect": None} if lasting else {})
            )
            try:
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(go())


def whoami() -> str:
    return os.environ.get("BATON_USER") or getpass.getuser()


class BatonGroup(click.Group):
    """Turns baton's errors into a clear message and an exit code (2: your input, 1: a failure)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _fail(f"error: {exc}", 2)
        except BatonError as exc:
            _fail(f"failed: {exc}", 1)
        except KeyboardInterrupt:
            _fail(
                f"interrupted: {_INTERRUPTED.get(ctx.invoked_subcommand or '', _NOTHING_LOST)}", 130
            )


_RESUME = "run `baton resume` to carry on where this stopped"
_NOTHING_LOST = "nothing was lost: every step is recorded before the next begins"
_INTERRUPTED = {
    "run": _RESUME,
    "resume": _RESUME,
    "demo": _RESUME,
    "worker": "the worker stopped; the items it held go back to the queue for other workers "
    "(or `baton resume`)",
}
"""What a Ctrl-C meant, by command."""


def _fail(message: str, code: int) -> None:
    Console(stderr=True).print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


@click.group(cls=BatonGroup)
@click.option(
    "--store",
    envvar="BATON_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="Where state lives: a SQLite file path, sqlite:///path, or redis://HOST:PORT/DB "
    "(shared by every process that names it; ?prefix=P keeps several apart) (env BATON_STORE).",
)
@click.version_option(version=__version__, prog_name="baton")
@click.pass_context
def main(ctx: click.Context, store: str) -> None:
    """baton: scope -> delegate -> review -> verify -> refine, durably, with a record."""
    ctx.obj = Context(store, Console(), Console(stderr=True))
    _report_warnings()


def _report_warnings() -> None:
    """baton's warnings (a store out of reach, a lost lease) go to stderr as they happen."""
    logger = logging.getLogger("baton")
    if not any(getattr(h, "baton_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        handler.baton_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)


pass_context = click.make_pass_decorator(Context)
