"""Stores: durable event logs with an item index and leases (memory, SQLite)."""

from .base import ItemSummary, Store
from .memory import MemoryStore
from .opener import open_store
from .sqlite import SQLiteStore

__all__ = ["ItemSummary", "MemoryStore", "SQLiteStore", "Store", "open_store"]
