"""fewer_collections: the young-generation threshold is raised while engines run, then restored."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from baton.runtime.gc_threshold import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def restore_threshold() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_raised_inside_nested_blocks_and_restored_after_the_last() -> None:
    gc.set_threshold(700, 11, 12)
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 11, 12)
        with fewer_collections():
            assert gc.get_threshold() == (YOUNG_THRESHOLD, 11, 12)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 11, 12), "an engine still runs"
    assert gc.get_threshold() == (700, 11, 12)


def test_restored_when_the_block_raises() -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("engine stopped")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_or_disabled_threshold_is_left_alone() -> None:
    gc.set_threshold(50_000, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (50_000, 10, 10)
    gc.set_threshold(0, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (0, 10, 10)
    assert gc.get_threshold() == (0, 10, 10)
