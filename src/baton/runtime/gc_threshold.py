"""The garbage collector's young-generation threshold, raised while an engine runs.

An engine allocates many short-lived objects per step (events, dicts, tasks) and keeps a
growing heap of long-lived ones; with CPython's default threshold (700 allocations) the
collector's young passes cost about a third of a busy engine's time. Raising it while
engines run, and restoring it when the last one stops, keeps collection but less often.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000

_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections(young: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Raise the young-generation threshold to at least `young` for the block (nestable)."""
    global _active, _saved
    if _active == 0:
        _saved = gc.get_threshold()
        if _saved[0] and _saved[0] < young:  # 0: the caller turned collection off; keep it
            gc.set_threshold(young, *_saved[1:])
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
