"""bench/fill.py writes a store baton's own reads accept, so bench/scale.py cannot silently
measure a store no engine would have written: every chain and checkpoint holds in full,
the counters equal a rebuild from the log, and every index row is its log folded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from baton.core import events as ev
from baton.core.index import summarize
from baton.core.state import fold
from baton.core.tally import META, VERSION
from baton.services import audit_verify, readmodel
from baton.store import SQLiteStore
from baton.store.feed import feed

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_fill() -> ModuleType:
    """bench/fill.py as a module (bench/ is a folder of scripts, not a package)."""
    name = "bench_fill"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH / "fill.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclasses look themselves up
        spec.loader.exec_module(module)
    return sys.modules[name]


async def test_a_filled_store_verifies_in_full_and_its_counters_are_the_log_s(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "fill.db")
    try:
        made = await bench_fill().fill(store, 50, open_items=10, checkpoint_every=20)
        assert made["items"] == 50 and made["events"] > 50 * 5
        counts = made["counts"]
        assert sum(counts.values()) == 50 and counts.get("accepted", 0) > 25
        assert set(counts) - {"accepted", "failed", "cancelled", "escalated"}, "no open items"

        audit = await audit_verify.verify(store, full=True, record=False)
        assert audit.ok, (audit.broken, audit.findings)
        assert audit.logs >= 51 and audit.uncovered == 0  # the last checkpoint covers all

        held = await store.tallies()
        assert held.get(META) == VERSION and held["all|submitted"] == 50
        rebuilt = await readmodel.rebuild(store)
        assert rebuilt.differences == {}
        assert {k: v for k, v in held.items() if v} == {
            k: v for k, v in rebuilt.counters.items() if v
        }

        kinds = {e.kind async for e in feed(store)}
        for kind in (
            ev.ITEM_SCOPED,
            ev.ATTEMPT_FINISHED,
            ev.ATTEMPT_FAILED,
            ev.CHECK_RECORDED,
            ev.REVIEW_DECIDED,
            ev.FEEDBACK_CREATED,
            ev.HUMAN_REQUESTED,
            ev.ITEM_ACCEPTED,
            ev.ITEM_FAILED,
            ev.AUDIT_CHECKPOINT,
        ):
            assert kind in kinds, f"no {kind} in the filled store"

        rows = await store.query(limit=None)
        assert len(rows) == 50
        for row in rows:
            events = await store.load(row.item_id)
            assert row == summarize(fold(row.item_id, events), events[-1].at)
    finally:
        await store.close()
