"""Opening a store from a URL or path, as the CLI's --store option and BATON_STORE give it.

The URL's scheme names the backend: the `baton.stores` entry point of that name opens it
(baton's own: memory, sqlite, redis, rediss, unix; a third party adds a scheme the same
way). A value without a scheme is a SQLite file path.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..config import registry
from ..errors import InputError
from .base import Store

DEFAULT_STORE = ".baton/baton.db"


class Opener(Protocol):
    """What a `baton.stores` entry point is: a function that opens a store from its URL.

    With `create` False, a store that does not exist yet is NotFound rather than made.
    `reconnect` is how long a networked store keeps trying to reach its server before an
    operation fails (None: for ever); an opener without a network ignores it.
    """

    def __call__(self, url: str, *, create: bool, reconnect: float | None = ...) -> Store: ...


_UNSET: Any = object()


def open_store(
    spec: str | None = None, *, create: bool = True, reconnect: float | None = _UNSET
) -> Store:
    """`sqlite:///path/to.db`, a plain file path, `redis://HOST:PORT/DB[?prefix=P]` (shared by
    every process that names it), `memory://` (gone when the process ends), or a scheme an
    installed plugin provides.

    With create False, a store that does not exist yet is an error rather than a new one.
    `reconnect` unset: the backend's default.
    """
    spec = spec or DEFAULT_STORE
    scheme = spec.split(":", 1)[0] if spec.startswith("memory:") else "sqlite"
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
    openers = registry.kind(registry.STORES, scheme)  # this scheme's backend alone
    opener: Opener | None = openers.found.get(scheme)
    if opener is None:
        openers = registry.kinds(registry.STORES)
        if scheme in openers.broken:
            raise InputError(f"--store: the store scheme {openers.broken[scheme]}")
        known = ", ".join(openers.found)
        raise InputError(
            f"--store: unsupported store {scheme!r} (expected a SQLite file path, "
            f"sqlite:///path or redis://HOST:PORT/DB; the installed schemes: {known})"
        )
    more = {} if reconnect is _UNSET else {"reconnect": reconnect}
    return opener(spec, create=create, **more)
