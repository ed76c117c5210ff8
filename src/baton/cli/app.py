"""The `baton` command group, its options and the context every command gets: the store it
works on, the consoles, the settings (cli/settings.py), logging, and how baton's errors
become messages and exit codes."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from .. import __version__
from ..errors import BatonError, InputError, UserError
from . import settings
from .settings import LOG_FORMATS, LOG_LEVELS, ProjectFile

if TYPE_CHECKING:
    from rich.console import Console

    from ..store.base import Store

T = TypeVar("T")


class Lazy(NamedTuple):
    """A command by where it is ("module:function", in this folder) and its one-line help,
    so `baton --help` lists it without importing its module (the table: cli/__init__.py)."""

    target: str
    help: str


@dataclass
class Context:
    store_spec: str
    console: Console
    err: Console
    project: ProjectFile = field(default_factory=lambda: ProjectFile(None))
    log_level: str = "warning"
    log_format: str = "text"
    given_after: set[str] = field(default_factory=set)  # global options given after a command

    @property
    def state_dir(self) -> Path:
        """Worktrees, scratch files and backups live beside the store's file (.baton/)."""
        spec = self.store_spec.removeprefix("sqlite://")
        return Path(spec).parent if "://" not in spec else Path(".baton")

    def line(self, text: str) -> None:
        """One line of output as it is: never wrapped (a file or a pipe gets whole lines)."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def run(
        self, fn: Callable[[Store], Awaitable[T]], *, create: bool = False, lasting: bool = False
    ) -> T:
        """Open the store (creating it only when asked), run an async action on it, close it.

        A `lasting` command (run, worker, a live tail) rides out a store that is out of reach
        for a while (a Redis restart); any other command fails after a few seconds.
        """

        import asyncio

        from ..store.opener import open_store

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
    """Who decisions are recorded as: BATON_USER, else the project file's user, else your
    login."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx is not None else None
    from_file = obj.project.values.get("user") if obj is not None else None
    import getpass

    return os.environ.get("BATON_USER") or from_file or getpass.getuser()


def activate_hint() -> str:
    """What to do first when `baton` (this installation's) is not on PATH; '' when it is."""
    import shutil

    beside = Path(sys.executable).parent / "baton"
    found = shutil.which("baton")
    if found and Path(found).resolve() == beside.resolve():
        return ""
    if (beside.parent / "activate").exists():
        return f"`source {beside.parent / 'activate'}` first (or run {beside})"
    return f"baton is `{sys.executable} -m baton` here"


class BatonGroup(click.Group):
    """Turns baton's errors into a clear message and an exit code (2: your input, 1: a
    failure); reads the project file's settings; accepts the global options after any
    command too (`baton status --store X`)."""

    group_class = type  # subgroups (agents, audit, token) are BatonGroups as well

    def __init__(self, *args: Any, lazy: dict[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, name = self.lazy[cmd_name].target.partition(":")
            loaded = getattr(importlib.import_module(f".{module}", __package__), name)
            if cmd_name not in self.commands:  # its module's decorator adds it, as a rule
                self.add_command(loaded, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their help, as click writes them, from the table for the ones
        not loaded yet (so --help imports no command's module)."""
        shown = {
            name: self.commands.get(name) or click.Command(name, help=self.lazy[name].help)
            for name in self.list_commands(ctx)
        }
        rows = [(n, c) for n, c in shown.items() if not c.hidden]
        if rows:
            limit = formatter.width - 6 - max(len(n) for n, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if parent is not None:
            return super().make_context(info_name, args, parent, **extra)
        problem: InputError | None = None
        try:  # a broken file still lets --help and --version answer; a command says why
            project = settings.load(settings.find(Path.cwd()), self)
        except InputError as exc:
            project, problem = ProjectFile(None), exc
        extra.setdefault("default_map", project.default_map())
        ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta["baton.project"] = project
        ctx.meta["baton.problem"] = problem
        return ctx

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            cmd.params.extend(_after_command())
        super().add_command(cmd, name)

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


RESUME = "run `baton resume` to carry on where this stopped"
_NOTHING_LOST = "nothing was lost: every step is recorded before the next begins"
_INTERRUPTED = {
    "run": RESUME,
    "resume": RESUME,
    "demo": RESUME,
    "worker": "the worker stopped; the items it held go back to the queue for other workers "
    "(or `baton resume`)",
}
"""What a Ctrl-C meant, by command."""


def _fail(message: str, code: int) -> None:
    from rich.console import Console

    Console(stderr=True).print(message, style="red", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def _after_command() -> list[click.Option]:
    """The global options, as a command's own (hidden: `baton --help` documents them)."""

    def given(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
        def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            obj = ctx.find_object(Context)
            if value is not None and obj is not None:
                setattr(obj, attr, value)
                obj.given_after.add(attr)
                if attr != "store_spec":
                    configure_logging(obj.log_level, obj.log_format)
            return value

        return callback

    common: dict[str, Any] = {"expose_value": False, "hidden": True, "allow_from_autoenv": False}
    return [
        click.Option(["--store", "_store"], callback=given("store_spec"), **common),
        click.Option(
            ["--log-level", "_log_level"],
            type=click.Choice(LOG_LEVELS),
            callback=given("log_level"),
            **common,
        ),
        click.Option(
            ["--log-format", "_log_format"],
            type=click.Choice(LOG_FORMATS),
            callback=given("log_format"),
            **common,
        ),
    ]


@click.group(cls=BatonGroup, context_settings={"auto_envvar_prefix": "BATON"})
@click.option(
    "--store",
    envvar="BATON_STORE",
    default=settings.DEFAULTS["store"],
    show_default=True,
    help="Where state lives: a SQLite file path, sqlite:///path, or redis://HOST:PORT/DB "
    "(shared by every process that names it; ?prefix=P keeps several apart) (env BATON_STORE).",
)
@click.option(
    "--log-level",
    envvar="BATON_LOG_LEVEL",
    type=click.Choice(LOG_LEVELS),
    default=settings.DEFAULTS["log_level"],
    show_default=True,
    help="What baton logs to stderr (env BATON_LOG_LEVEL).",
)
@click.option(
    "--log-format",
    envvar="BATON_LOG_FORMAT",
    type=click.Choice(LOG_FORMATS),
    default=settings.DEFAULTS["log_format"],
    show_default=True,
    help="text: 'warning: ...' lines; json: one JSON object per line (env BATON_LOG_FORMAT).",
)
@click.version_option(version=__version__, prog_name="baton")
@click.pass_context
def main(ctx: click.Context, store: str, log_level: str, log_format: str) -> None:
    """baton: scope -> delegate -> review -> verify -> refine, durably, with a record.

    Global options may come before or after the command. Settings come from the command
    line, then the environment, then baton.toml (or [tool.baton] in pyproject.toml) in
    this folder or one above it: `baton config` shows them.
    """
    from rich.console import Console

    problem = ctx.meta.get("baton.problem")
    if problem is not None:
        raise problem
    ctx.obj = Context(
        store,
        Console(),
        Console(stderr=True),
        project=ctx.meta.get("baton.project") or ProjectFile(None),
        log_level=log_level,
        log_format=log_format,
    )
    configure_logging(log_level, log_format)


def configure_logging(level: str, fmt: str) -> None:
    """baton's log (a store out of reach, a lost lease; more at info and debug) on stderr,
    as text lines or JSON lines."""
    import logging  # here: `baton --help` and `--version` log nothing

    class JsonLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            entry = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                entry["error"] = self.formatException(record.exc_info)
            return json.dumps(entry, ensure_ascii=False)

    class TextLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{record.levelname.lower()}: {record.getMessage()}"

    logger = logging.getLogger("baton")
    handler = next((h for h in logger.handlers if getattr(h, "baton_cli", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.baton_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    handler.setFormatter(JsonLines() if fmt == "json" else TextLines())
    logger.setLevel(level.upper())


pass_context = click.make_pass_decorator(Context)
