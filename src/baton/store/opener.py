"""Opening a store from a URL or path, as the CLI's --store option and BATON_STORE give it."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, NotFound
from .base import Store

DEFAULT_STORE = ".baton/baton.db"


_UNSET: float = -1.0


def open_store(
    spec: str | None = None, *, create: bool = True, reconnect: float | None = _UNSET
) -> Store:
    """`sqlite:///path/to.db`, a plain file path, `redis://HOST:PORT/DB[?prefix=P]` (shared by
    every process that names it), or `memory://` (gone when the process ends).

    With create False, a store that does not exist yet is an error rather than a new file.
    `reconnect` is how long a networked store keeps trying to reach its server before an
    operation fails (None: for ever, as a worker wants; unset: the backend's default).
    """
    spec = spec or DEFAULT_STORE
    if spec.startswith("memory:"):
        from .memory import MemoryStore

        return MemoryStore()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return _open_redis(spec, create, reconnect)
    if spec.startswith("sqlite://"):
        spec = spec.removeprefix("sqlite://")
    elif "://" in spec:
        scheme = spec.split("://", 1)[0]
        raise InputError(
            f"--store: unsupported store {scheme!r} (expected a SQLite file path, "
            "sqlite:///path or redis://HOST:PORT/DB)"
        )
    from .sqlite import SQLiteStore

    path = Path(spec)
    if not create and not path.exists():
        raise NotFound(
            f"no baton store at {path}: nothing has run here yet "
            "(start with `baton run PLAYBOOK ITEMS`, or point --store / BATON_STORE at one)"
        )
    return SQLiteStore(path)


def _open_redis(spec: str, create: bool, reconnect: float | None) -> Store:
    from .redis_store import DEFAULT_RECONNECT, RedisStore, redis_exists

    if not create and not redis_exists(spec):
        raise NotFound(
            f"no baton store at {spec}: nothing has run there yet "
            "(start with `baton run PLAYBOOK ITEMS --store URL`, or check the URL and prefix)"
        )
    return RedisStore(spec, reconnect=DEFAULT_RECONNECT if reconnect == _UNSET else reconnect)
