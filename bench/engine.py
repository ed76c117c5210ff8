"""The no-op loop through baton's public API, against plain Python doing the same steps.

Each item is planned (scoped), done (one attempt), reviewed and verified; half the items
fail verification once, so they are refined, done, reviewed and verified again: 6 steps
per item on average. baton runs it on the memory store and on the SQLite store (durable:
every step committed before the next begins, group commit across items). Baselines,
measured in the same run: the same steps as plain Python calls, and plain Python
committing each step to SQLite. The last line printed is one JSON object of every figure.

    python bench/engine.py [--items N] [--concurrency N] [--memory-items N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from baton import Engine, ItemSpec, MemoryStore, Playbook, SQLiteStore, Store
from baton.agents.python import PythonAgent
from baton.config.calls import FunctionCall
from baton.config.playbook import AgentSlot
from baton.config.sections import PolicyModel
from baton.core.records import Assignment, Candidate
from baton.review.policy import PolicyReviewer, PolicyReviewerConfig
from baton.verify.python import PythonVerifier

STEPS_PER_ITEM = 6  # plan, do, review, verify (+ refine, do, review, verify on half)


def on_loop(name: str, fn: Any) -> FunctionCall:
    """A function called on the event loop (offload: false): the cheapest call there is."""
    return FunctionCall(f"bench:{name}", (), fn, "loop", 600.0)


def playbook(concurrency: int) -> Playbook:
    def do(task: Assignment) -> str:
        return "done"

    def check(attempt: Candidate) -> bool:
        return not (attempt.inputs["refine"] and attempt.attempt == 1)

    return Playbook.build(
        "noop",
        # the no-op agent may run as many attempts at once as the engine has items in flight:
        # the bench measures the engine, not an agent's concurrency limit
        agents={"worker": AgentSlot(PythonAgent("worker", on_loop("do", do)), concurrency)},
        reviewers={
            "reviewer": PolicyReviewer("reviewer", PolicyReviewerConfig(checks_passed=False))
        },
        verifiers={"check": PythonVerifier("check", on_loop("check", check), threshold=None)},
        policy=PolicyModel(),
    )


def specs(n: int, prefix: str = "item-") -> list[ItemSpec]:
    return [
        ItemSpec(id=f"{prefix}{i}", objective="noop", inputs={"refine": i % 2 == 1})
        for i in range(n)
    ]


async def run_baton(
    store: Store, n: int, concurrency: int, prefix: str = "item-"
) -> dict[str, Any]:
    book = playbook(concurrency)
    engine = Engine(store, book, concurrency=concurrency, poll_interval=0.001)
    ids = [i for i, _ in await engine.submit(book, specs(n, prefix))]
    gc.collect()
    started = time.perf_counter()
    await engine.run(ids)
    seconds = time.perf_counter() - started
    latencies = []
    for item_id in ids:
        events = await store.load(item_id)
        scoped = next(e.at for e in events if e.kind == "item.scoped")
        accepted = next(e.at for e in events if e.kind == "item.accepted")
        latencies.append(accepted - scoped)
    latencies.sort()
    assert all(e.kind == "item.accepted" for e in [(await store.load(i))[-1] for i in ids])
    return {
        "items": n,
        "seconds": seconds,
        "steps_per_s": n * STEPS_PER_ITEM / seconds,
        "item_p50_ms": latencies[len(latencies) // 2] * 1000,
        "item_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def run_plain(n: int) -> dict[str, Any]:
    """The same loop as plain calls, with its state kept in a list per item."""
    log: dict[int, list[tuple[str, Any]]] = {}

    def plan(i: int) -> None:
        log[i] = [("plan", None)]

    def do(i: int, attempt: int) -> str:
        log[i].append(("do", attempt))
        return "done"

    def review(i: int, output: str) -> bool:
        log[i].append(("review", output))
        return True

    def verify(i: int, attempt: int) -> bool:
        ok = not (i % 2 == 1 and attempt == 1)
        log[i].append(("verify", ok))
        return ok

    def refine(i: int) -> None:
        log[i].append(("refine", None))

    started = time.perf_counter()
    for i in range(n):
        plan(i)
        attempt = 1
        while True:
            output = do(i, attempt)
            review(i, output)
            if verify(i, attempt):
                break
            refine(i)
            attempt += 1
    seconds = time.perf_counter() - started
    return {"items": n, "seconds": seconds, "steps_per_s": n * STEPS_PER_ITEM / seconds}


def run_plain_sqlite(n: int, path: Path) -> dict[str, Any]:
    """Plain Python committing each step to SQLite (WAL, synchronous=NORMAL)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE steps (item INTEGER, seq INTEGER, step TEXT, data TEXT, "
        "PRIMARY KEY (item, seq))"
    )

    def record(i: int, seq: int, step: str, data: Any) -> None:
        db.execute("INSERT INTO steps VALUES (?, ?, ?, ?)", (i, seq, step, json.dumps(data)))

    started = time.perf_counter()
    for i in range(n):
        seq = 0
        record(i, seq := seq + 1, "plan", None)
        attempt = 1
        while True:
            record(i, seq := seq + 1, "do", {"attempt": attempt, "output": "done"})
            record(i, seq := seq + 1, "review", {"decision": "approve"})
            ok = not (i % 2 == 1 and attempt == 1)
            record(i, seq := seq + 1, "verify", {"passed": ok})
            if ok:
                break
            record(i, seq := seq + 1, "refine", None)
            attempt += 1
    seconds = time.perf_counter() - started
    db.close()
    return {"items": n, "seconds": seconds, "steps_per_s": n * STEPS_PER_ITEM / seconds}


async def traced_memory(
    store_kind: str, n: int, concurrency: int, folder: Path
) -> tuple[float, float]:
    """Python memory (MiB per 100,000 items) still held after the run, and at its peak."""
    tracemalloc.start()
    store: Store = MemoryStore() if store_kind == "memory" else SQLiteStore(folder / "mem.db")
    await run_baton(store, n, concurrency)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    await store.close()
    scale = 100_000 / n / 2**20
    return held * scale, peak * scale


def memory_per_100k(n: int, concurrency: int) -> dict[str, float]:
    """Each store measured in its own process (tracemalloc slows it, so not in the timed runs).
    The memory store keeps every event in memory; with SQLite the engine keeps little."""
    out = {}
    for kind in ("memory", "sqlite"):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-only",
                kind,
                "--items",
                str(n),
                "--concurrency",
                str(concurrency),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        held, peak = json.loads(child.stdout.strip().splitlines()[-1])
        out[f"{kind}_held_mib_per_100k_items"] = held
        out[f"{kind}_peak_mib_per_100k_items"] = peak
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--memory-items", type=int, default=20_000)
    parser.add_argument("--memory-only", choices=["memory", "sqlite"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        with tempfile.TemporaryDirectory() as tmp:
            figures = asyncio.run(
                traced_memory(args.memory_only, args.items, args.concurrency, Path(tmp))
            )
            print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = run_plain(args.items)
        plain_sqlite = run_plain_sqlite(args.items, folder / "plain.db")
        memory = asyncio.run(run_baton(MemoryStore(), args.items, args.concurrency))

        async def on_sqlite() -> dict[str, Any]:
            store = SQLiteStore(folder / "baton.db")
            try:
                return await run_baton(store, args.items, args.concurrency)
            finally:
                await store.close()

        durable = asyncio.run(on_sqlite())
    memory_use = memory_per_100k(args.memory_items, args.concurrency)

    rows = [
        ("plain Python calls", plain),
        ("plain Python + SQLite commit per step", plain_sqlite),
        ("baton, memory store", memory),
        ("baton, SQLite store (durable)", durable),
    ]
    print(
        f"no-op loop, {args.items} items x {STEPS_PER_ITEM} steps, concurrency {args.concurrency}"
    )
    print(f"{'run':42} {'steps/s':>12} {'item p50 ms':>12} {'item p99 ms':>12}")
    for label, r in rows:
        p50 = f"{r['item_p50_ms']:.2f}" if "item_p50_ms" in r else "-"
        p99 = f"{r['item_p99_ms']:.2f}" if "item_p99_ms" in r else "-"
        print(f"{label:42} {r['steps_per_s']:12,.0f} {p50:>12} {p99:>12}")
    ratios = {
        "memory_vs_plain": memory["steps_per_s"] / plain["steps_per_s"],
        "sqlite_vs_plain_sqlite": durable["steps_per_s"] / plain_sqlite["steps_per_s"],
    }
    print(f"baton memory / plain Python: {ratios['memory_vs_plain']:.4f}")
    print(f"baton SQLite / plain Python + SQLite: {ratios['sqlite_vs_plain_sqlite']:.2f}")
    targets = {"memory_steps_per_s": 50_000, "sqlite_steps_per_s": 10_000}
    memory_target, sqlite_target = targets["memory_steps_per_s"], targets["sqlite_steps_per_s"]
    print(f"targets: memory >= {memory_target:,} steps/s, SQLite >= {sqlite_target:,}")
    print(
        "Python memory per 100,000 finished items (held after the run / peak): "
        f"memory store {memory_use['memory_held_mib_per_100k_items']:.0f} / "
        f"{memory_use['memory_peak_mib_per_100k_items']:.0f} MiB (it keeps every event), "
        f"SQLite store {memory_use['sqlite_held_mib_per_100k_items']:.1f} / "
        f"{memory_use['sqlite_peak_mib_per_100k_items']:.0f} MiB"
    )
    figures = {
        "bench": "engine",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "plain": plain,
        "plain_sqlite": plain_sqlite,
        "memory": memory,
        "sqlite": durable,
        "ratios": ratios,
        "targets": targets,
        "memory_use": memory_use,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
