"""Opening a store from a URL or path, as the CLI's --store option and BATON_STORE give it."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, NotFound
from .base import Store

DEFAULT_STORE = ".baton/baton.db"


def open_store(spec: str | None = None, *, create: bool = True) -> Store:
    """`sqlite:///path/to.db`, a plain file path, or `memory://` (gone when the process ends).

    With create False, a store that does not exist yet is an error rather than a new file.
    """
    spec = spec or DEFAULT_STORE
    if spec.startswith("memory:"):
        from .memory import MemoryStore

        return MemoryStore()
    if spec.startswith("sqlite://"):
        spec = spec.removeprefix("sqlite://")
    elif "://" in spec:
        scheme = spec.split("://", 1)[0]
        raise InputError(
            f"--store: unsupported store {scheme!r} (expected a SQLite file path or sqlite:///path)"
        )
    from .sqlite import SQLiteStore

    path = Path(spec)
    if not create and not path.exists():
        raise NotFound(
            f"no baton store at {path}: nothing has run here yet "
            "(start with `baton run PLAYBOOK ITEMS`, or point --store / BATON_STORE at one)"
        )
    return SQLiteStore(path)
