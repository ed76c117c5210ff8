"""The `baton` command line: run playbooks, watch and inspect items, act as the human in
the loop, manage agents, measure. Every command works on one store (--store)."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from rich.console import Console

from ..errors import BatonError, UserError
from ..store.base import Store
from ..store.opener import DEFAULT_STORE, open_store

T = TypeVar("T")


@dataclass
class Context:
    store_spec: str
    console: Console
    err: Console

    def run(self, fn: Callable[[Store], Awaitable[T]], *, create: bool = False) -> T:
        """Open the store (creating it only when asked), run an async action on it, close it."""

        async def go() -> T:
            store = open_store(self.store_spec, create=create)
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
            _fail("interrupted: run `baton resume` to carry on where this stopped", 130)


def _fail(message: str, code: int) -> None:
    Console(stderr=True).print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


@click.group(cls=BatonGroup)
@click.option(
    "--store",
    envvar="BATON_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="Where state lives: a SQLite file path or sqlite:///path (env BATON_STORE).",
)
@click.version_option(package_name="baton")
@click.pass_context
def main(ctx: click.Context, store: str) -> None:
    """baton: scope -> delegate -> review -> verify -> refine, durably, with a record."""
    ctx.obj = Context(store, Console(), Console(stderr=True))


pass_context = click.make_pass_decorator(Context)

from . import demo, inspect, people, run  # noqa: E402  (commands register on `main`)

__all__ = ["demo", "inspect", "main", "people", "run"]
