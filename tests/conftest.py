"""Shared fixtures: running the real `baton` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from baton.store.base import Store

Baton = Callable[..., subprocess.CompletedProcess[str]]
Spawn = Callable[..., subprocess.Popen[str]]


def baton_env(cwd: Path, store: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["BATON_STORE"] = store or str(cwd / ".baton" / "baton.db")
    env["BATON_USER"] = "tester"
    env["COLUMNS"] = "200"
    env.pop("BATON_LOG", None)
    return env


@pytest.fixture
def baton_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store the `baton` fixtures use: SQLite in tmp_path, or (parametrized indirectly
    with "redis") a prefix of its own on the test Redis."""
    if getattr(request, "param", "sqlite") == "redis":
        return str(request.getfixturevalue("redis_store_url"))
    return str(tmp_path / ".baton" / "baton.db")


ON_EVERY_STORE = pytest.mark.parametrize("baton_store", ["sqlite", "redis"], indirect=True)
"""Runs a CLI test once on SQLite and once on Redis."""


@pytest.fixture
def baton(tmp_path: Path, baton_store: str) -> Baton:
    """Run `python -m baton ARGS` in tmp_path on `baton_store`; returns the completed process."""

    def run(
        *args: str, check: bool = False, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "baton", *args],
            cwd=tmp_path,
            env=baton_env(tmp_path, baton_store),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"baton {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture
def spawn(tmp_path: Path, baton_store: str) -> Spawn:
    """Start `baton ARGS` in the background in tmp_path on `baton_store`."""
    return lambda *args: spawn_baton(tmp_path, *args, store=baton_store)


def spawn_baton(cwd: Path, *args: str, store: str | None = None) -> subprocess.Popen[str]:
    """Start `baton ARGS` in the background (its own process group, so it can be killed whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "baton", *args],
        cwd=cwd,
        env=baton_env(cwd, store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


# --- Redis ----------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")


def redis_unavailable() -> str | None:
    """Why the Redis at REDIS_URL cannot be used (None when it answers)."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed (pip install 'baton-orchestrator[redis]')"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"no Redis answers at {REDIS_URL} ({exc}); set REDIS_URL to one"
    finally:
        client.close()
    return None


def need_redis() -> None:
    """Skip the test when no Redis answers, except under CI=true, where that is a failure."""
    why = redis_unavailable()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true needs Redis: {why}")
    pytest.skip(why)


@pytest.fixture
def redis_store_url() -> Iterator[str]:
    """A store URL on the test Redis with a prefix of its own, whose keys are deleted after."""
    need_redis()
    import redis

    prefix = f"baton-test:{uuid.uuid4().hex[:12]}:"
    yield f"{REDIS_URL}?prefix={prefix}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["sqlite", "redis"])
async def file_or_redis_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    """A real store, opened: a SQLite file in tmp_path, and (the second run) a prefix of
    its own on the test Redis."""
    from baton import open_store

    url = str(tmp_path / "store.db")
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_store_url"))
    opened = open_store(url)
    yield opened
    await opened.close()
