"""Stores: durable event logs with an item index and leases (memory, SQLite, Redis), the
global feed read from them, and opening one from a URL (`baton.stores` entry points).

Each name is imported when first used (PEP 562), so opening a SQLite store for `baton
status` does not import the memory store and its counters too."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.index import ItemSummary
    from .base import Claim, Store
    from .memory import MemoryStore
    from .opener import open_store
    from .sqlite import SQLiteStore

__all__ = ["Claim", "ItemSummary", "MemoryStore", "SQLiteStore", "Store", "open_store"]

_WHERE = {
    "Claim": ".base",
    "ItemSummary": "..core.index",
    "MemoryStore": ".memory",
    "SQLiteStore": ".sqlite",
    "Store": ".base",
    "open_store": ".opener",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)
