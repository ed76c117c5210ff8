"""`baton audit verify` on a store of N finished items: the first algorithm (the baseline,
audit.verify_store), the new full verify, and the incremental one after a little more
work, all measured in the same run on one real SQLite file in a temporary folder.

The store is filled by bench/engine.py's no-op loop (about 9.5 events per item), with an
audit checkpoint at the end, as `baton run` leaves it. Then, timed one after another:

    old full       audit.verify_store: a pass of the feed, then each log loaded and hashed
    new full       audit_verify.verify(full=True): one pass of the feed in large pages,
                   hashed on a worker thread, blob references looked for only where the
                   canonical JSON names one (it writes the first verify checkpoint)
    incremental    audit_verify.verify() after 1% more items ran: from that checkpoint
    incremental 0  the same again, nothing new since

The last line printed is one JSON object of every figure.

    python bench/audit.py [--items 20000] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baton import Engine, SQLiteStore
from baton.services.audit import verify_store, write_checkpoint
from baton.services.audit_verify import verify

sys.path.insert(0, str(Path(__file__).parent))
import engine as noop  # bench/engine.py: the no-op playbook and its items


async def fill(store: SQLiteStore, n: int, concurrency: int, start: int = 0) -> None:
    book = noop.playbook(concurrency)
    engine = Engine(store, book, concurrency=concurrency, poll_interval=0.001)
    specs = noop.specs(start + n)[start:]
    ids = [i for i, _ in await engine.submit(book, specs)]
    await engine.run(ids)
    await write_checkpoint(store, "bench")


async def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    found = await action
    return time.perf_counter() - started, found


async def main(items: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "baton.db")
        try:
            started = time.perf_counter()
            await fill(store, items, concurrency)
            print(f"filled {items} items in {time.perf_counter() - started:.1f} s", flush=True)
            old, audit = await timed(verify_store(store))
            assert audit.ok, audit
            new, full = await timed(verify(store, full=True, by="bench"))
            assert full.ok and full.full and full.mark is not None, full
            more = max(1, items // 100)
            await fill(store, more, concurrency, start=items)
            inc, incremental = await timed(verify(store, by="bench"))
            assert incremental.ok and not incremental.full, incremental
            idle, again = await timed(verify(store, by="bench"))
            assert again.ok and not again.full, again
        finally:
            await store.close()
    figures = {
        "items": items,
        "events": full.events,
        "old_full_s": old,
        "new_full_s": new,
        "incremental_s": inc,
        "incremental_rehashed": incremental.checked,
        "incremental_nothing_new_s": idle,
        "full_speedup": old / new,
        "incremental_speedup_vs_old": old / inc,
        "incremental_speedup_vs_new_full": new / inc,
    }
    print(f"{full.events} events in {full.logs} logs; then {more} items more")
    for label, key in (
        ("old full verify", "old_full_s"),
        ("new full verify", "new_full_s"),
        (f"incremental (+{more} items)", "incremental_s"),
        ("incremental (nothing new)", "incremental_nothing_new_s"),
    ):
        print(f"{label:<28} {figures[key]:8.2f} s")
    print(
        f"new full / old: {figures['full_speedup']:.2f}x faster; incremental / old: "
        f"{figures['incremental_speedup_vs_old']:.2f}x; incremental / new full: "
        f"{figures['incremental_speedup_vs_new_full']:.2f}x"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.items, args.concurrency))))
