"""An archived log begins with its marker: the chain holds from the head it records, and
a marker that does not sit right after that head starts nothing."""

from __future__ import annotations

from baton.core import events as ev
from baton.core.events import chain, verify_chain
from baton.core.state import ItemState
from baton.core.tally import Tally, pack, tally, unpack


def log_of(n: int) -> list[ev.Event]:
    return chain("a", 0, "", 1.0, [("item.submitted", {"spec": {}, "i": i}) for i in range(n)])


def test_a_log_may_begin_with_the_marker_of_its_archive() -> None:
    events = log_of(3)
    head = events[-1].hash
    marker = chain("a", 3, head, 2.0, [(ev.ITEM_ARCHIVED, {"through": 3, "head": head})])
    after = chain("a", 4, marker[0].hash, 3.0, [("item.reopened", {})])
    assert ev.archived_through(marker[0]) == 3
    assert verify_chain(marker + after) is None
    assert verify_chain(events + marker + after) is None  # its events still there: whole too


def test_a_marker_off_its_head_starts_nothing() -> None:
    events = log_of(3)
    head = events[-1].hash
    for data in ({"through": 2, "head": head}, {"through": 3, "head": "0" * 64}, {"head": head}):
        marker = chain("a", 3, head, 2.0, [(ev.ITEM_ARCHIVED, data)])
        assert ev.archived_through(marker[0]) is None
        broken = verify_chain(marker)
        assert broken is not None and broken.reason == "expected seq 1"
    other = chain("a", 3, head, 2.0, [("item.reopened", {"through": 3, "head": head})])
    assert ev.archived_through(other[0]) is None


def test_a_marker_counts_the_archived_events_only_where_they_are_gone() -> None:
    events = log_of(2)
    counted = Tally()
    state = ItemState("a")
    for event in events:
        tally(state, event, counted)
    data = {"through": 2, "head": events[-1].hash, "tally": pack(counted)}
    marker = chain("a", 2, events[-1].hash, 2.0, [(ev.ITEM_ARCHIVED, data)])[0]
    alone = Tally()
    tally(ItemState("a"), marker, alone)
    assert alone == counted  # what is left is the marker: it says what they added
    both = Tally()
    state = ItemState("a")
    for event in [*events, marker]:
        tally(state, event, both)
    assert both == counted  # the events are still there (a run cut off): counted once


def test_packed_counters_come_back_exactly_and_anything_else_is_none() -> None:
    counters = {"all|submitted": 3, "all|first_at.min": 1_796_305_178_539, "agent=a|x#-2": 1}
    assert unpack(pack(counters)) == counters
    assert len(pack({f"hour={h}|submitted": 1 for h in range(40)})) < 40 * 20
    for bad in (None, 3, "not base64!", "aGVsbG8=", pack({"a": "b"})):  # type: ignore[dict-item]
        assert unpack(bad) == {}
