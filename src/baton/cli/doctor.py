"""`baton doctor`: is this machine ready? Python, the installed baton and its command, the
store, git, Redis, the on-device model (loaded and asked for a few tokens), the cores it
would use, and what the full test suite needs (Chromium). Each check says what to do."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click
from rich.table import Table

from .. import __version__
from ..errors import BatonError, NotFound
from ..store.opener import open_store
from ..system.cores import free_cores, usable_cores
from .app import Context, main, pass_context

DISTRIBUTION = "baton-orchestrator"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: nothing wrong, but nothing to show either (not set up yet)
    detail: str
    fix: str = ""
    required: bool = False  # a failed required check makes `baton doctor` exit 1


def python() -> Check:
    # baton does not import on a Python older than 3.11: scripts/setup checks that first
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", True, f"{version} ({sys.executable})", required=True)


def installed() -> Check:
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return Check(
            "baton",
            False,
            f"{__version__} imported from {Path(__file__).parents[1]}, but not installed",
            f"pip install -e . (in a checkout) or pip install {DISTRIBUTION}",
            required=True,
        )
    return Check("baton", True, f"{dist.version} ({DISTRIBUTION})", required=True)


def command() -> Check:
    found = shutil.which("baton")
    beside = Path(sys.executable).parent / "baton"
    if found and Path(found).resolve() == beside.resolve():
        return Check("command", True, found)
    if beside.exists():
        where = f"{beside.parent.parent}/bin/activate"
        detail = f"`baton` is {found}, not this installation's" if found else "not on PATH"
        return Check("command", False, detail, f"source {where}   (or run {beside})")
    return Check("command", False, "not on PATH", f"use {sys.executable} -m baton")


def git() -> Check:
    found = shutil.which("git")
    if not found:
        return Check("git", False, "not on PATH", "install git: code work needs it")
    done = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return Check("git", True, done.stdout.strip() or found)


async def store(spec: str) -> Check:
    try:
        opened = open_store(spec, create=False)
    except NotFound:
        return Check("store", None, f"{spec}: nothing has run here yet (the first run makes it)")
    except BatonError as exc:
        return Check("store", False, str(exc), "check --store / BATON_STORE", required=True)
    try:
        counts = await opened.counts()
    except BatonError as exc:
        return Check("store", False, str(exc), "check --store / BATON_STORE", required=True)
    finally:
        await opened.close()
    items = sum(counts.values())
    return Check("store", True, f"{spec}: {items} item(s)", required=True)


def redis() -> Check:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    try:
        import redis as client
    except ImportError:
        return Check(
            "redis",
            False,
            "the redis package is not installed",
            f"pip install '{DISTRIBUTION}[redis]'",
        )
    conn = client.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        info = conn.info("server")
    except client.RedisError as exc:
        return Check(
            "redis",
            False,
            f"no Redis answers at {url} ({exc})",
            "start redis-server, or set REDIS_URL (the shared store and the suite use it)",
        )
    finally:
        conn.close()
    return Check("redis", True, f"Redis {info.get('redis_version', '?')} at {url}")


def model() -> list[Check]:
    """The packaged model found, loaded, and asked for a few tokens (single-threaded)."""
    try:
        from ..agents.llama import LocalModel, default_threads, packaged_model
    except ImportError as exc:  # pragma: no cover - a broken installation
        return [Check("model", False, str(exc))]
    cores = Check(
        "cores",
        True,
        f"{usable_cores()} usable, {free_cores()} free now: a model without threads: takes "
        f"{default_threads()} thread(s)",
    )
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
        fix = f"pip install '{DISTRIBUTION}[llama]'"
        if not compiler:
            fix += " (it compiles llama.cpp: install a C/C++ compiler first, e.g. build-essential)"
        return [Check("model", False, "llama-cpp-python is not installed", fix), cores]
    try:
        path = packaged_model()
    except ValueError as exc:
        return [Check("model", False, str(exc), f"pip install '{DISTRIBUTION}[llama]'"), cores]
    from ..agents.completions import Sampling

    local = LocalModel(path, 512, 1, None, 1)
    started = time.perf_counter()
    try:
        done = asyncio.run(
            local.complete(
                [{"role": "user", "content": "Say OK."}], Sampling(temperature=0.0, max_tokens=4)
            )
        )
    except BatonError as exc:
        return [Check("model", False, f"{path.name} did not run: {exc}"), cores]
    seconds = time.perf_counter() - started
    detail = f"{path.name} loaded and answered {done.completion_tokens} token(s) in {seconds:.1f}s"
    return [Check("model", True, detail), cores]


def chromium() -> Check:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Check("chromium", True, f"{found} (the web page's end-to-end test)")
    return Check(
        "chromium",
        False,
        "not on PATH: the web page's end-to-end test skips",
        "apt-get install chromium (scripts/test does when it may)",
    )


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def doctor_cmd(ctx: Context, as_json: bool) -> None:
    """Check this machine: Python, baton and its command, the store, git, Redis, the
    on-device model (loaded and run), the cores, Chromium. Exit 1 when a required check
    fails; each failed check says what to do."""
    checks = [python(), installed(), command(), asyncio.run(store(ctx.store_spec)), git()]
    checks += [redis(), *model(), chromium()]
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        table = Table(show_header=True)
        for column in ("check", "", "found", "to do"):
            table.add_column(column, overflow="fold")
        for c in checks:
            mark = {True: "[green]ok[/]", False: "[red]no[/]", None: "[dim]-[/]"}[c.ok]
            table.add_row(c.name, mark, c.detail, c.fix)
        ctx.console.print(table)
    if any(c.required and c.ok is False for c in checks):
        sys.exit(1)
