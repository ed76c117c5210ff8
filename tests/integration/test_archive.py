"""Retention on a real SQLite file and a real Redis: finished items' logs move to a gzip
export file, read back whole before the store changes; the store keeps their rows, a head
the audit holds them to, and their figures; the file imports elsewhere, hashes intact."""

from __future__ import annotations

import gzip
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from baton import Engine, load_playbook, open_store
from baton.config.items import ItemSpec
from baton.errors import InputError, NotFound, StoreError
from baton.runtime.recording import load_state
from baton.services import actions, archive, audit, audit_verify, readmodel, transfer
from baton.store.base import Store

PLAYBOOK = """\
name: notes
agents:
  writer: {kind: python, function: "writer:write"}
verifiers:
  says-done: {kind: contains, text: done}
reviewers:
  lead: {kind: human, when: {risk: [high]}}
"""


@pytest.fixture
def store(file_or_redis_store: Store) -> Store:
    return file_or_redis_store


async def history(store: Store, folder: Path) -> dict[str, str]:
    """Items in each state worth archiving or not: ids by what became of them."""
    (folder / "writer.py").write_text(
        "def write(task):\n    return 'done: ' + task.objective + ' ' + 'x' * 70000\n"
    )  # an output past the event limit: a blob the archive must carry
    (folder / "playbook.yaml").write_text(PLAYBOOK)
    book = load_playbook(folder / "playbook.yaml")
    engine = Engine(store, book, poll_interval=0.01)
    specs = [ItemSpec(id=f"done{n}", objective=f"note {n}") for n in range(4)]
    specs += [ItemSpec(id="asks", objective="risky", risk="high")]
    specs += [ItemSpec(id="dropped", objective="not wanted")]
    await engine.submit(book, specs)
    await actions.cancel(store, "dropped", "human:ann", "not wanted")
    await engine.run([s.id for s in specs], wait_for_people=False)
    return {"accepted": "done0", "waiting": "asks", "cancelled": "dropped"}


async def figures(store: Store) -> dict[str, int]:
    return await readmodel.current(store)


def nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if v}


async def test_archive_moves_ended_logs_out_and_keeps_rows_heads_and_figures(
    store: Store, tmp_path: Path
) -> None:
    await history(store, tmp_path)
    await audit.write_checkpoint(store, "test")  # heads the archive must still meet
    assert (await audit_verify.verify(store, by="test")).ok  # and a verify checkpoint
    before_rows = {r.item_id: r for r in await store.query(limit=None)}
    before_counts, before_figures = await store.counts(), await figures(store)
    logs = {i: await store.load(i) for i in before_rows}

    plan = await archive.archive(store, time.time() + 1, tmp_path / "a", by="t", dry_run=True)
    assert (plan.items, plan.path, plan.dry_run) == (5, None, True)
    assert {i: await store.load(i) for i in before_rows} == logs  # a dry run changes nothing

    done = await archive.archive(store, time.time() + 1, tmp_path / "a", by="human:ann")
    assert (done.items, done.changed, done.finished) == (5, 0, 0)
    assert done.events == sum(len(logs[i]) for i in logs if i != "asks")
    assert done.path is not None and done.path.name.endswith(".jsonl.gz")
    assert [p.name for p in (tmp_path / "a").iterdir()] == [done.path.name]  # no .partial

    for item, events in logs.items():
        kept = await store.load(item)
        if item == "asks":  # waits for a person: not ended, not archived
            assert kept == events
            continue
        assert [e.kind for e in kept] == ["item.archived"]
        marker = kept[0]
        assert (marker.seq, marker.prev) == (len(events) + 1, events[-1].hash)
        assert marker.data["sha256"] == done.sha256 and marker.data["archive"] == done.path.name
        with pytest.raises(NotFound, match=f"archived on .* in {done.path.name}"):
            await load_state(store, item)
    rows = {r.item_id: r for r in await store.query(limit=None)}
    assert {i: (r.status, r.objective) for i, r in rows.items()} == {
        i: (r.status, r.objective) for i, r in before_rows.items()
    }
    assert await store.counts() == before_counts
    assert await figures(store) == before_figures
    rebuilt = await readmodel.rebuild(store)  # from what is left: the markers' counts
    assert rebuilt.differences == {} and nonzero(rebuilt.counters) == nonzero(before_figures)

    for full in (False, True):
        verified = await audit_verify.verify(store, full=full, by="test")
        assert verified.ok, (full, verified.findings, verified.broken)
    assert (await audit.verify_store(store)).ok

    again = await archive.archive(store, time.time() + 1, tmp_path / "a", by="human:ann")
    assert (again.items, again.path) == (0, None)

    with gzip.open(done.path, "rb") as f:
        events, blobs = transfer.parse_lines(f.read().splitlines(), "archive")
    assert blobs  # the big outputs came along
    elsewhere = open_store(str(tmp_path / "elsewhere.db"))
    try:
        imported = await transfer.import_events(elsewhere, events, "archive", blobs)
        assert (imported.items, imported.events) == (5, done.events)
        for item, original in logs.items():
            if item != "asks":
                assert [e.hash for e in await elsewhere.load(item)] == [e.hash for e in original]
        assert (await load_state(elsewhere, "done0")).outcome == "accepted"
    finally:
        await elsewhere.close()


async def test_a_store_with_archived_items_exports_and_imports_whole(
    store: Store, tmp_path: Path
) -> None:
    await history(store, tmp_path)
    kept = await archive.archive(store, time.time() + 1, tmp_path / "a", by="t")
    assert kept.path is not None
    lines = [line async for line in transfer.export_lines(store)]
    events, blobs = transfer.parse_lines(lines, "export")
    copy = open_store(str(tmp_path / "copy.db"))
    try:
        with pytest.raises(InputError, match=f"archived to {kept.path.name} .* import that file"):
            await transfer.import_events(copy, events, "export", blobs)
        assert await copy.query(limit=None) == []  # a refused import writes nothing
        with gzip.open(kept.path, "rb") as f:
            archived, archived_blobs = transfer.parse_lines(f.read().splitlines(), "archive")
        await transfer.import_events(copy, archived, "archive", archived_blobs)
        done = await transfer.import_events(copy, events, "export", blobs)
        assert done.items == 6
        rows = {r.item_id: (r.status, r.version) for r in await copy.query(limit=None)}
        assert rows == {r.item_id: (r.status, r.version) for r in await store.query(limit=None)}
        assert nonzero(await readmodel.current(copy)) == nonzero(await readmodel.current(store))
        assert (await audit_verify.verify(copy, full=True, by="t")).ok
    finally:
        await copy.close()


async def test_a_run_cut_off_after_a_marker_is_finished_by_the_next(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await history(store, tmp_path)
    figures_before = await figures(store)
    forget = store.forget
    calls: list[str] = []

    async def cut_off(log: str, through: int) -> int:
        calls.append(log)
        if len(calls) > 2:
            raise StoreError("the process was killed here")
        return await forget(log, through)

    monkeypatch.setattr(store, "forget", cut_off)
    with pytest.raises(StoreError, match="killed"):
        await archive.archive(store, time.time() + 1, tmp_path / "a", by="t")
    monkeypatch.setattr(store, "forget", forget)
    # markers with their events still there: counted once, the audit whole
    assert nonzero((await readmodel.rebuild(store)).counters) == nonzero(figures_before)
    assert (await audit_verify.verify(store, full=True, by="t")).ok
    done = await archive.archive(store, time.time() + 1, tmp_path / "a", by="t")
    assert (done.items, done.finished) == (0, 3)  # two were dropped before the cut
    for row in await store.query(statuses=["accepted", "cancelled"], limit=None):
        assert [e.kind for e in await store.load(row.item_id)] == ["item.archived"]
    assert nonzero((await readmodel.rebuild(store)).counters) == nonzero(figures_before)
    assert (await audit_verify.verify(store, full=True, by="t")).ok


async def test_sqlite_events_removed_without_a_marker_are_still_found(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    try:
        await history(store, tmp_path)
        await audit.write_checkpoint(store, "test")
        await archive.archive(store, time.time() + 1, tmp_path / "a", by="t", limit=2)
        assert (await audit_verify.verify(store, full=True, by="t")).ok
        ended = [
            r.item_id
            for r in await store.query(statuses=["accepted"], limit=None)
            if (await store.load(r.item_id))[0].kind != "item.archived"
        ]
        with sqlite3.connect(tmp_path / "s.db") as conn:  # someone removes a log by hand
            conn.execute("DELETE FROM events WHERE log = ? AND seq < 3", (ended[0],))
        found = await audit_verify.verify(store, full=True, by="t")
        assert not found.ok
        problems = [str(b) for b in found.broken] + [f.problem for f in found.findings]
        assert any(ended[0] in p for p in problems), problems
    finally:
        await store.close()


async def test_a_log_that_is_not_whole_is_not_archived(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    try:
        await history(store, tmp_path)
        with sqlite3.connect(tmp_path / "s.db") as conn:
            conn.execute("UPDATE events SET data = '{}' WHERE log = 'done1' AND seq = 1")
        before = {r.item_id: await store.load(r.item_id) for r in await store.query(limit=None)}
        with pytest.raises(StoreError, match="'done1' was not archived: its hash chain"):
            await archive.archive(store, time.time() + 1, tmp_path / "a", by="t")
        after = {r.item_id: await store.load(r.item_id) for r in await store.query(limit=None)}
        assert after == before and not list((tmp_path / "a").iterdir())
    finally:
        await store.close()


def test_the_cutoff_is_read_from_a_date_or_an_age() -> None:
    now = 1_800_000_000.0
    assert archive.cutoff(None, "30d", now) == now - 30 * 86400
    assert archive.cutoff(None, "1.5h", now) == now - 5400
    assert archive.cutoff("2026-11-01", None, now) == 1_793_491_200.0  # UTC midnight
    assert archive.cutoff("2026-11-01T01:00+01:00", None, now) == 1_793_491_200.0
    cases: list[tuple[Any, Any, str]] = [
        (None, None, "--before DATE or --older-than AGE"),
        ("2026-11-01", "30d", "--before DATE or --older-than AGE"),
        (None, "30", "--older-than: '30' is not an age"),
        (None, "-3d", "--older-than: '-3d' is not an age"),
        (None, "soon", "--older-than: 'soon' is not an age"),
        ("yesterday", None, "--before: 'yesterday' is not a date"),
    ]
    for before, older, message in cases:
        with pytest.raises(InputError, match=message):
            archive.cutoff(before, older, now)


async def test_a_marker_naming_a_path_is_not_followed(tmp_path: Path) -> None:
    from baton.core.events import chain
    from baton.store import MemoryStore

    store = MemoryStore()
    await history(store, tmp_path)
    row = (await store.query(item_ids=["done0"]))[0]
    head = (await store.load("done0"))[-1]
    data = {"through": head.seq, "head": head.hash, "archive": "../outside.gz", "sha256": "0"}
    marker = chain("done0", head.seq, head.hash, 2.0, [("item.archived", data)])
    await store.append("done0", head.seq, marker, row._replace(version=head.seq + 1))
    (tmp_path / "outside.gz").write_bytes(b"not the archive")
    (held,) = await archive.check_files(store, tmp_path / "a")
    assert (held.name, held.items) == ("../outside.gz", 1)
    assert held.problem == "'../outside.gz' is not a file name"
