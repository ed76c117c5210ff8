"""Reads of the item index on a big SQLite store: many ids, and the counts by status.

The engine asks for the summaries of the items it is about to run (`query(item_ids=...)`:
`Engine.run(ids)`, the claimer's pending items, the live view). Until issue 13 a query for
more than 500 ids fell back to reading every item row and filtering in Python; now every id
goes in as one JSON array (`json_each`) and each is found through the primary key.

This fills a SQLite file in a temporary folder with --items items (one event each), then
times, median of --repeat runs, `query(item_ids=...)` for 400 and 1,000 ids spread over the
store, against the old way for 1,000 ids measured in the same run (every row read, then
filtered: what the old code did past 500 ids). And `counts()` (every status's count: the
board, /healthz, `status` read it), now a few rows the items' triggers keep, against the
old `GROUP BY` over the items' status index. The last line is one JSON object.

Then the engine itself: bench/engine.py's no-op loop for --new items (6 steps each, 64 in
flight) on an empty SQLite file and on the big one, twice each, alternating; the ratio of
their steps/s (best of two each) is the big store's against the empty one's (target at
least 0.95).

    .venv/bin/python bench/big_store.py [--items 100000] [--repeat 15] [--new 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from baton.core.events import chain
from baton.core.index import ItemSummary
from baton.store import SQLiteStore


async def fill(store: SQLiteStore, n: int) -> list[str]:
    ids = [f"item-{i:07}" for i in range(n)]
    for i, item in enumerate(ids):
        events = chain(item, 0, "", float(i), [("item.submitted", {"objective": f"task {i}"})])
        row = ItemSummary(item, "q", "accepted", False, None, 1, 1, f"task {i}", float(i), i)
        await store.append(item, 0, events, row)
    return ids


async def median_ms(run: Callable[[], Awaitable[Any]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def engine_steps(folder: Path, big: SQLiteStore, new: int) -> dict[str, float]:
    """Steps/s of the no-op loop for `new` items on an empty store and on `big`."""
    sys.path.insert(0, str(Path(__file__).parent))
    from engine import run_baton  # bench/engine.py

    best = {"empty": 0.0, "big": 0.0}
    for round_ in range(2):
        empty = SQLiteStore(folder / f"empty{round_}.db")
        try:
            best["empty"] = max(best["empty"], (await run_baton(empty, new, 64))["steps_per_s"])
        finally:
            await empty.close()
        on_big = await run_baton(big, new, 64, prefix=f"new{round_}-")
        best["big"] = max(best["big"], on_big["steps_per_s"])
    return {
        "new_items": float(new),
        "empty_steps_per_s": best["empty"],
        "big_steps_per_s": best["big"],
        "big_vs_empty": best["big"] / best["empty"],
    }


async def main(items: int, repeat: int, new: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "big.db")
        try:
            start = time.perf_counter()
            ids = await fill(store, items)
            print(f"filled {items:,} items in {time.perf_counter() - start:.1f} s")
            few = ids[:: max(1, items // 400)][:400]
            many = ids[:: max(1, items // 1000)][:1000]

            async def old_way() -> list[ItemSummary]:
                wanted = set(many)
                return [r for r in await store.query(limit=None) if r.item_id in wanted]

            async def old_counts() -> dict[str, int]:
                sql = "SELECT status, COUNT(*) FROM items GROUP BY status"
                return dict(store._read("counts", sql, ()))

            assert await old_counts() == await store.counts()
            assert [r.item_id for r in await old_way()] == [
                r.item_id for r in await store.query(item_ids=many, limit=None)
            ]
            figures = {
                "items": float(items),
                "ids_400_ms": await median_ms(
                    lambda: store.query(item_ids=few, limit=None), repeat
                ),
                "ids_1000_ms": await median_ms(
                    lambda: store.query(item_ids=many, limit=None), repeat
                ),
                "old_ids_1000_ms": await median_ms(old_way, max(3, repeat // 5)),
                "counts_ms": await median_ms(store.counts, repeat),
                "old_counts_ms": await median_ms(old_counts, repeat),
            }
            figures.update(await engine_steps(Path(folder), store, new))
        finally:
            await store.close()
    figures["speedup_1000"] = figures["old_ids_1000_ms"] / figures["ids_1000_ms"]
    print(
        f"the no-op loop, {figures['new_items']:,.0f} new items: "
        f"{figures['empty_steps_per_s']:,.0f} steps/s on an empty store, "
        f"{figures['big_steps_per_s']:,.0f} on the big one "
        f"({figures['big_vs_empty']:.2f}x; target >= 0.95)"
    )
    figures["ratio_1000_to_400"] = figures["ids_1000_ms"] / figures["ids_400_ms"]
    print(
        f"query for 400 ids: {figures['ids_400_ms']:.2f} ms; for 1,000 ids: "
        f"{figures['ids_1000_ms']:.2f} ms ({figures['ratio_1000_to_400']:.2f}x the 400); "
        f"the old way for 1,000: {figures['old_ids_1000_ms']:.1f} ms "
        f"({figures['speedup_1000']:.0f}x slower)"
    )
    print(
        f"counts: {figures['counts_ms']:.3f} ms; the old GROUP BY: "
        f"{figures['old_counts_ms']:.2f} ms"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--new", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.items, args.repeat, args.new))))
