"""The incremental verify's pure part (verify checkpoints folded, signed, split to fit) and
its decisions on the memory store: what an incremental verify finds, what only --full
finds (the documented trade-off), and a checkpoint written, reused and refused."""

from __future__ import annotations

import asyncio

import pytest

from baton.core import events as ev
from baton.core.events import Event, chain, make_event
from baton.core.vocabulary import VERIFIED_LOG
from baton.errors import InputError
from baton.services.audit import write_checkpoint
from baton.services.audit_verify import Verified, verify
from baton.services.verify_marks import fold_marks, mark_digest, mark_entries
from baton.store.memory import MemoryStore

THROUGH = {"position": 9, "log": "a", "seq": 3}


def test_a_checkpoint_signs_every_head_and_folds_back_to_them() -> None:
    heads = {f"log-{i}": (i + 1, f"{i:064x}") for i in range(600)}
    entries = mark_entries({}, heads, THROUGH, full=True, by="t", limit=64 * 1024)
    assert len(entries) == 3  # 255 heads an event: split to fit, the last one signs
    assert all("digest" not in data for _, data in entries[:-1])
    assert entries[-1][1]["digest"] == mark_digest(heads, THROUGH)
    mark, findings = fold_marks(chain(VERIFIED_LOG, 0, "", 1.0, entries))
    assert findings == [] and mark is not None
    assert (mark.number, mark.heads, mark.through) == (3, heads, THROUGH)


def test_the_next_checkpoint_records_only_the_heads_that_moved() -> None:
    before = {"a": (3, "x"), "b": (2, "y")}
    after = {"a": (4, "z"), "b": (2, "y"), "c": (1, "w")}
    (entry,) = mark_entries(before, after, THROUGH, full=False, by="t", limit=64 * 1024)
    assert entry[1]["heads"] == {"a": [4, "z"], "c": [1, "w"]}
    first = mark_entries({}, before, THROUGH, full=True, by="t", limit=64 * 1024)
    mark, _ = fold_marks(chain(VERIFIED_LOG, 0, "", 1.0, [*first, entry]))
    assert mark is not None and mark.heads == after and mark.number == 2


def test_a_checkpoint_whose_digest_does_not_match_its_heads_is_not_trusted() -> None:
    entries = mark_entries({}, {"a": (3, "x")}, THROUGH, full=True, by="t", limit=64 * 1024)
    entries[0][1]["heads"]["a"] = [2, "x"]  # a head moved back behind the digest's back
    mark, findings = fold_marks(chain(VERIFIED_LOG, 0, "", 1.0, entries))
    assert mark is None
    assert "verify checkpoint 1's digest does not match the heads it records" in (
        findings[0].problem
    )
    odd = chain(VERIFIED_LOG, 0, "", 1.0, [(ev.AGENT_PAUSED, {"agent": "z"})])
    assert "is not a verify checkpoint" in fold_marks(odd)[1][0].problem


# --- on the memory store ---------------------------------------------------------------


async def store_of(logs: int, events: int) -> MemoryStore:
    store = MemoryStore()
    for i in range(logs):
        entries = [(ev.AGENT_PAUSED, {"n": n, "nested": {"b": 1, "a": [n]}}) for n in range(events)]
        await store.append(f"log-{i}", 0, chain(f"log-{i}", 0, "", 1.0, entries))
    return store


def replace_event(store: MemoryStore, log: str, seq: int, event: Event) -> None:
    """What an attacker with the store's memory would do: swap an event, position kept."""
    old = store._logs[log][seq - 1]
    new = event._replace(position=old.position)
    store._logs[log][seq - 1] = new
    store._feed[old.position - 1] = new


def edited(event: Event, rehash: bool) -> Event:
    data = {**event.data, "n": -1}
    if rehash:
        return make_event(event.log, event.seq, event.kind, event.at, data, event.prev)
    return event._replace(data=data)


def test_a_verify_writes_a_checkpoint_the_next_one_starts_from() -> None:
    async def go() -> tuple[Verified, Verified, Verified, list[Event]]:
        store = await store_of(5, 4)
        first = await verify(store, by="t")
        again = await verify(store, by="t")
        await store.append(
            "log-1",
            4,
            chain(
                "log-1", 4, (await store.load("log-1"))[-1].hash, 2.0, [(ev.AGENT_PAUSED, {"n": 4})]
            ),
        )
        grown = await verify(store, by="t")
        return first, again, grown, await store.load(VERIFIED_LOG)

    first, again, grown, marks = asyncio.run(go())
    assert (
        first.ok and first.full and first.checked == 20 and first.note == "no verify checkpoint yet"
    )
    assert first.mark is not None and first.mark.number == 1
    # nothing changed: nothing re-hashed (every head held to its hash in one read), and
    # nothing written; then only the log that grew, from its head
    assert again.ok and not again.full and again.checked == 0
    assert again.mark == first.mark
    assert grown.ok and not grown.full and grown.checked == 2 and grown.events == 21 + 1
    assert [e.seq for e in marks] == [1, 2]
    assert marks[1].data["heads"] == {"log-1": [5, marks[1].data["heads"]["log-1"][1]]}


@pytest.mark.parametrize("rehash", [False, True])
def test_an_incremental_verify_finds_an_edit_after_the_checkpoint(rehash: bool) -> None:
    async def go() -> Verified:
        store = await store_of(3, 2)
        await verify(store, by="t")
        head = (await store.load("log-2"))[-1]
        await store.append(
            "log-2",
            2,
            chain(
                "log-2",
                2,
                head.hash,
                2.0,
                [(ev.AGENT_PAUSED, {"n": 2}), (ev.AGENT_PAUSED, {"n": 3})],
            ),
        )
        replace_event(store, "log-2", 3, edited((await store.load("log-2"))[2], rehash))
        return await verify(store, by="t")

    found = asyncio.run(go())
    assert not found.ok and not found.full
    (link,) = found.broken
    if rehash:  # the next event no longer chains from it
        assert (link.log, link.seq, link.reason) == (
            "log-2",
            4,
            "prev does not match the previous hash",
        )
    else:
        assert (link.log, link.seq, link.reason) == ("log-2", 3, "content does not match its hash")


@pytest.mark.parametrize("rehash", [False, True])
def test_an_incremental_verify_finds_a_changed_head_before_the_checkpoint(rehash: bool) -> None:
    async def go() -> Verified:
        store = await store_of(3, 3)
        await verify(store, by="t")
        replace_event(store, "log-0", 3, edited((await store.load("log-0"))[2], rehash))
        return await verify(store, by="t")

    found = asyncio.run(go())
    assert not found.full
    if rehash:  # the head's hash changed: found without re-hashing anything
        assert not found.ok
        (finding,) = found.findings
        assert (
            finding.log == "log-0" and "than verify checkpoint 1 recorded seq 3" in finding.problem
        )
    else:  # its content only, the hash left alone: the documented trade-off (--full sees it)
        assert found.ok and found.checked == 0


def test_an_edit_before_the_head_that_keeps_the_hashes_is_found_by_full_only() -> None:
    """The documented trade-off: the edited event no longer matches its own hash, and
    only a verify that recomputes it (--full) sees that."""

    async def go() -> tuple[Verified, Verified, Verified]:
        store = await store_of(3, 3)
        await verify(store, by="t")
        replace_event(store, "log-1", 1, edited((await store.load("log-1"))[0], rehash=False))
        return await verify(store, by="t"), await verify(store, full=True), await verify(store)

    incremental, full, after = asyncio.run(go())
    assert incremental.ok and not incremental.full
    assert full.full and [(b.log, b.seq, b.reason) for b in full.broken] == [
        ("log-1", 1, "content does not match its hash")
    ]
    assert after.ok and not after.full  # incremental again: still not seen there


def test_a_rewritten_log_before_the_checkpoint_is_found_by_both() -> None:
    async def go() -> tuple[Verified, Verified]:
        store = await store_of(2, 3)
        await verify(store, by="t")
        events = await store.load("log-0")
        again = chain("log-0", 0, "", 1.0, [(e.kind, {**e.data, "n": 9}) for e in events])
        for e in again:
            replace_event(store, "log-0", e.seq, e)
        return await verify(store), await verify(store, full=True)

    incremental, full = asyncio.run(go())
    for found in (incremental, full):
        assert not found.ok and found.broken == []
        assert [f.log for f in found.findings] == ["log-0"]
        assert "than verify checkpoint 1 recorded seq 3" in found.findings[0].problem


def test_a_log_cut_below_its_checkpointed_head_is_found_with_where_it_ends() -> None:
    async def go() -> Verified:
        store = await store_of(2, 4)
        await verify(store, by="t")
        del store._logs["log-1"][2:]
        return await verify(store)

    found = asyncio.run(go())
    assert [f.problem.split(" (")[0] for f in found.findings] == [
        "log log-1 ends at seq 2 but verify checkpoint 1 recorded seq 4"
    ]


def test_audit_heads_are_held_too_and_bad_input_is_refused() -> None:
    async def go() -> Verified:
        store = await store_of(2, 2)
        await write_checkpoint(store, "t")
        await verify(store, by="t")
        del store._logs["log-0"][1:]
        with pytest.raises(InputError, match="--expect: 'nope' is not a checkpoint hash"):
            await verify(store, "nope")
        return await verify(store)

    found = asyncio.run(go())
    assert [f.problem.split(" (")[0] for f in found.findings] == [
        "log log-0 ends at seq 1 but checkpoint 1 recorded seq 2"
    ]


def test_a_bad_verify_checkpoint_makes_a_full_verify_and_a_foreign_log_is_left_alone() -> None:
    async def go() -> tuple[Verified, Verified]:
        store = await store_of(2, 2)
        await verify(store, by="t")
        mark = (await store.load(VERIFIED_LOG))[0]
        forged = make_event(
            VERIFIED_LOG, 1, mark.kind, mark.at, {**mark.data, "digest": "0" * 64}, ""
        )
        replace_event(store, VERIFIED_LOG, 1, forged)
        bad = await verify(store)
        other = MemoryStore()
        await other.append(
            VERIFIED_LOG, 0, chain(VERIFIED_LOG, 0, "", 1.0, [(ev.AGENT_PAUSED, {})])
        )
        return bad, await verify(other)

    bad, foreign = asyncio.run(go())
    assert not bad.ok and bad.full and bad.note == "the verify checkpoint is bad"
    assert "digest does not match" in bad.findings[0].problem
    assert foreign.ok and foreign.full and foreign.mark is None
    assert "is not baton's" in foreign.note
