"""The shared store on Redis: its transport (one pipeline per loop turn, reconnects), its
key layout, the store itself, and the Lua scripts that make its writes atomic."""

from .store import RedisStore, open_redis

__all__ = ["RedisStore", "open_redis"]
