"""The SQLite store: the embedded default (store.py), its schema and statements."""

from .store import SQLiteStore, open_sqlite

__all__ = ["SQLiteStore", "open_sqlite"]
