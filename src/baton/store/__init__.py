"""Stores: durable event logs with an item index and leases (memory, SQLite, Redis), the
global feed read from them, and opening one from a URL (`baton.stores` entry points)."""

from ..core.index import ItemSummary
from .base import Claim, Store
from .memory import MemoryStore
from .opener import open_store
from .sqlite import SQLiteStore

__all__ = ["Claim", "ItemSummary", "MemoryStore", "SQLiteStore", "Store", "open_store"]
