"""The audit's pure part: checkpoints folded into each log's latest head, and a log held to
its head and its index row; checkpoints written on the memory store, racing writers too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baton.core import events as ev
from baton.core.events import Event, chain
from baton.core.vocabulary import AUDIT_LOG, FLEET_LOG
from baton.errors import InputError
from baton.services.audit import (
    Head,
    checkpoint_data,
    compare,
    expected_hash,
    fold_heads,
    uncovered,
    verify_store,
    write_checkpoint,
)
from baton.store.memory import MemoryStore


def log_of(name: str, count: int) -> list[Event]:
    return chain(name, 0, "", 1.0, [("agent.paused", {"n": i}) for i in range(count)])


def checkpoints(*heads: dict[str, list[Any]]) -> list[Event]:
    return chain(AUDIT_LOG, 0, "", 2.0, [(ev.AUDIT_CHECKPOINT, {"heads": h}) for h in heads])


def test_folding_keeps_the_latest_head_of_each_log_and_never_moves_one_back() -> None:
    heads, findings = fold_heads(
        checkpoints(
            {"a": [3, "h3"], "b": [1, "b1"]},
            {"a": [5, "h5"]},
            {"a": [4, "h4"]},  # taken after a was cut short: it excuses nothing
        )
    )
    assert heads == {"a": Head(5, "h5", 2), "b": Head(1, "b1", 1)}
    assert findings == []


def test_folding_reports_checkpoints_that_disagree_and_events_that_are_no_checkpoint() -> None:
    recorded = checkpoints({"a": [2, "x"]}, {"a": [2, "y"]})
    odd = chain(AUDIT_LOG, 2, recorded[-1].hash, 3.0, [("agent.paused", {"agent": "z"})])
    heads, findings = fold_heads([*recorded, *odd])
    assert heads == {"a": Head(2, "x", 1)}
    assert [(f.log, f.seq) for f in findings] == [("a", 2), (AUDIT_LOG, 3)]
    assert "checkpoints 1 and 2 recorded different hashes for seq 2 of log a" in findings[0].problem
    assert "audit log event #3 is not a checkpoint" in findings[1].problem


def test_a_log_is_held_to_its_head() -> None:
    events = log_of("a", 5)
    head = Head(5, events[-1].hash, 7)
    assert compare("a", events, head, 5) == []
    cut = compare("a", events[:4], head, None)
    assert [(f.log, f.seq) for f in cut] == [("a", 5)]
    assert cut[0].problem.startswith(
        f"log a ends at seq 4 but checkpoint 7 recorded seq 5 (hash {events[-1].hash[:16]}"
    )
    (gone,) = compare("a", [], head, None)
    assert gone.problem.startswith("log a is gone but checkpoint 7 recorded seq 5")
    other = log_of("a", 6)  # a log rebuilt with other events
    other = chain("a", 0, "", 9.0, [("agent.paused", {"m": i}) for i in range(6)])
    (changed,) = compare("a", other, head, None)
    assert changed.problem.startswith(
        f"log a has another event at seq 5 (hash {other[4].hash[:16]}"
    )


def test_an_item_is_held_to_its_index_row_before_any_checkpoint() -> None:
    events = log_of("a", 5)
    assert compare("a", events, None, 5) == []
    (cut,) = compare("a", events[:3], None, 5)
    assert cut.problem == "log a ends at seq 3 but its index row says version 5"
    (gone,) = compare("a", [], None, 5)
    assert gone.problem == "log a is gone but its index row says version 5"


def test_what_no_checkpoint_covers_is_counted() -> None:
    events = log_of("a", 5)
    assert uncovered(events, None) == 5
    assert uncovered(events, Head(3, events[2].hash, 1)) == 2


def test_checkpoint_data_records_the_changed_heads_and_the_totals_covered() -> None:
    through = log_of("b", 2)[-1]._replace(position=40)
    data = checkpoint_data(
        {"a": Head(5, "h5", 1), "b": Head(1, "b1", 1)},
        {"b": (2, "b2"), "c": (1, "c1")},
        through,
        full=False,
        by="human:tester",
    )
    assert data == {
        "heads": {"b": [2, "b2"], "c": [1, "c1"]},
        "logs": 3,
        "events": 8,
        "through": {"position": 40, "log": "b", "seq": 2},
        "full": False,
        "by": "human:tester",
    }


def test_an_expected_head_must_be_a_hash() -> None:
    assert expected_hash(" " + "AB" * 32 + "\n") == "ab" * 32
    with pytest.raises(InputError, match="--expect: 'ab12' is not a checkpoint hash"):
        expected_hash("ab12")


async def _append(store: MemoryStore, name: str, count: int) -> None:
    have = await store.load(name)
    prev = have[-1].hash if have else ""
    entries = [("agent.paused", {"n": i}) for i in range(count)]
    await store.append(name, len(have), chain(name, len(have), prev, 1.0, entries))


def test_checkpoints_cover_what_changed_and_racing_writers_each_record_once() -> None:
    async def go() -> None:
        store = MemoryStore()
        assert await write_checkpoint(store, "t") is None  # nothing to cover
        await _append(store, FLEET_LOG, 3)
        first = await write_checkpoint(store, "t")
        assert first is not None and (first.number, first.logs, first.events) == (1, 1, 3)
        again = await write_checkpoint(store, "t")
        assert again is not None and not again.written and again.hash == first.hash
        await _append(store, "other", 2)
        racing = await asyncio.gather(*(write_checkpoint(store, f"w{i}") for i in range(3)))
        assert sorted(c.written for c in racing if c) == [False, False, True]
        audit_log = await store.load(AUDIT_LOG)
        assert len(audit_log) == 2
        assert audit_log[1].data["heads"] == {"other": [2, (await store.load("other"))[-1].hash]}
        assert (audit_log[1].data["logs"], audit_log[1].data["events"]) == (2, 5)
        audit = await verify_store(store, expect=first.hash)
        assert audit.ok and audit.uncovered == 0 and audit.checkpoint is not None
        assert audit.checkpoint.number == 2

    asyncio.run(go())


def test_no_item_may_take_the_audit_logs_id() -> None:
    from baton.config.items import ItemSpec

    with pytest.raises(ValueError, match="'audit' is reserved for baton's own log"):
        ItemSpec(id="audit", objective="x")


async def test_a_checkpoint_of_many_logs_is_several_bounded_events_in_one_append(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import orjson

    monkeypatch.setenv("BATON_EVENT_BYTES", "8192")
    store = MemoryStore()
    for i in range(300):
        name = f"item-{i:03d}-" + "x" * 110  # ids near their 128-character limit
        await store.append(name, 0, log_of(name, 2))
    point = await write_checkpoint(store, "test")
    audit_log = await store.load(AUDIT_LOG)
    assert len(audit_log) > 1 and all(e.kind == ev.AUDIT_CHECKPOINT for e in audit_log)
    assert max(len(orjson.dumps(e.data)) for e in audit_log) <= 8192
    assert point is not None and point.number == len(audit_log) and point.logs == 300
    heads, findings = fold_heads(audit_log)
    assert len(heads) == 300 and findings == []
    assert (await verify_store(store)).ok


async def test_an_old_item_named_audit_is_never_written_to() -> None:
    from baton.errors import StoreError

    store = MemoryStore()
    old = chain(AUDIT_LOG, 0, "", 1.0, [(ev.ITEM_SUBMITTED, {"spec": {"objective": "o"}})])
    await store.append(AUDIT_LOG, 0, old)
    with pytest.raises(StoreError, match="not baton's audit log"):
        await write_checkpoint(store, "test")
    assert await store.load(AUDIT_LOG) == [e._replace(position=1) for e in old]
