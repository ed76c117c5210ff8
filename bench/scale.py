"""Reads at 1,000 to 100,000 items (1,000,000 with --million): does a read cost the same?

For each size, fills a SQLite store in a temporary folder (bench/fill.py: realistic finished
and open items, replayed from the engine's own event sequences), then runs every read
command as a user does, each a fresh process (`python -m baton` with BATON_STORE naming
the file), and times it (median of --repeat runs; a command slower than --budget seconds
runs fewer times) and takes its peak RSS (ru_maxrss from os.wait4, in a small launcher):
`status`, `show ID`, `inbox`, `metrics`, `metrics --json`, `audit verify` (incremental,
after a first verify), `audit verify --full`, `export` (its lines counted). `--version`
is measured too: the interpreter and baton's start alone, which every command pays.

Then it calls GET /api/items?limit=100 (the board's first page, with the counts),
/api/metrics, /metrics (Prometheus), /api/audit, /api/inbox and /api/items/{id}, each on a
`baton serve` of its own (a free loopback port; no token: the local user), --repeat times
over one keep-alive connection after a first call: the median time, and that server's
peak RSS (VmHWM) then, beside an idle server's.

Prints, per command, the time and RSS at each size, the ratio largest/smallest, and the
targets of issue 13 beside them (at 100,000 items: `metrics` and `/metrics` under 0.3 s and
100 MB, the board's first page under 50 ms, `status` under 0.3 s; printed, not asserted).
The last line is one JSON object of every figure.

    python bench/scale.py [--sizes 1000,10000,100000] [--million] [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baton.store.opener import open_store
from fill import fill

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS: dict[str, list[str]] = {
    "baton --version": ["--version"],
    "baton status": ["status"],
    "baton show ID": ["show", "{id}"],
    "baton inbox": ["inbox"],
    "baton metrics": ["metrics"],
    "baton metrics --json": ["metrics", "--json"],
    "baton audit verify": ["audit", "verify"],
    "baton audit verify --full": ["audit", "verify", "--full"],
    "baton export": ["export"],
}
CALLS: dict[str, str] = {
    "GET /api/items?limit=100": "/api/items?limit=100",
    "GET /api/metrics": "/api/metrics",
    "GET /metrics": "/metrics",
    "GET /api/audit": "/api/audit",
    "GET /api/inbox": "/api/inbox",
    "GET /api/items/{id}": "/api/items/{id}",
}
# issue 13's targets at 100,000 items on SQLite: (seconds, MB or None)
TARGETS: dict[str, tuple[float, float | None]] = {
    "baton status": (0.3, None),
    "baton metrics": (0.3, 100.0),
    "baton metrics --json": (0.3, 100.0),
    "GET /metrics": (0.3, 100.0),
    "GET /api/items?limit=100": (0.05, None),
}
TARGET_SIZE = 100_000


@dataclass
class Figure:
    """One command's (or call's) figures at each size: median seconds, RSS in MB."""

    seconds: dict[int, float] = field(default_factory=dict)
    rss_mb: dict[int, float] = field(default_factory=dict)
    runs: dict[int, int] = field(default_factory=dict)
    note: dict[int, str] = field(default_factory=dict)


def environment(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(
        BATON_STORE=str(store),
        PYTHONPATH=os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        COLUMNS="120",
    )
    return env


# Runs one command and reports on it. It is a fresh small process, so the command it forks
# starts from its few MB: a child forked from the bench itself would report the bench's own
# peak RSS (Linux keeps the parent's high-water mark across fork and exec).
LAUNCHER = """
import json, os, sys, time
r, w = os.pipe()
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.dup2(w, 1)
    os.close(w)
    os.execv(sys.argv[1], [sys.argv[1], "-m", "baton", *sys.argv[2:]])
os.close(w)
lines = 0
while chunk := os.read(r, 1 << 20):
    lines += chunk.count(b"\\n")
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"seconds": seconds, "rss_kb": usage.ru_maxrss, "lines": lines, "code": code}))
"""


def run_once(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds from start to exit, the command's peak RSS (MB), and its stdout's lines."""
    with tempfile.TemporaryFile() as errors:
        done = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, sys.executable, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            check=True,
        )
        report = json.loads(done.stdout)
        if report["code"] != 0:
            errors.seek(0)
            said = errors.read().decode(errors="replace")
            raise RuntimeError(f"baton {' '.join(args)} exited {report['code']}: {said}")
    return report["seconds"], report["rss_kb"] / 1024, report["lines"]


def measure(
    run: Callable[[], tuple[float, float]], repeat: int, budget: float
) -> tuple[float, float, int]:
    """Median seconds and greatest RSS of up to `repeat` runs (fewer past `budget` s)."""
    times: list[float] = []
    peaks: list[float] = []
    spent = 0.0
    while len(times) < repeat and (not times or spent + times[-1] <= budget):
        seconds, rss = run()
        times.append(seconds)
        peaks.append(rss)
        spent += seconds
    return statistics.median(times), max(peaks), len(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_of(pid: int) -> tuple[float, float]:
    """A live process's RSS now and its peak (VmHWM), in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@contextlib.contextmanager
def serving(cwd: Path, env: dict[str, str]) -> Iterator[tuple[httpx.Client, int]]:
    """A fresh `baton serve` on a free loopback port, answering: a client, its pid."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "baton", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600.0) as client:
            deadline = time.monotonic() + 60.0
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("baton serve did not answer /healthz within 60 s")
                time.sleep(0.1)
            yield client, server.pid
    finally:
        server.terminate()
        server.wait(30)


def measure_api(
    cwd: Path, env: dict[str, str], item: str, repeat: int, size: int, figures: dict[str, Figure]
) -> float:
    """Each call on a server of its own (so its RSS is the call's alone): the median time
    of `repeat` calls after a first one, and the server's peak RSS then. Returns the RSS
    of an idle server (after /healthz), in MB."""
    idle = 0.0
    for name, path in CALLS.items():
        url = path.format(id=item)
        with serving(cwd, env) as (client, pid):
            idle = max(idle, rss_of(pid)[1])

            def call(url: str = url, client: httpx.Client = client) -> tuple[float, float]:
                start = time.perf_counter()
                answer = client.get(url)
                seconds = time.perf_counter() - start
                answer.raise_for_status()
                return seconds, 0.0

            call()  # the first call of a route imports and warms what it needs
            seconds, _, runs = measure(call, repeat, 60.0)
            figure = figures.setdefault(name, Figure())
            figure.seconds[size], figure.runs[size] = seconds, runs
            figure.rss_mb[size] = rss_of(pid)[1]
    return idle


def pick_item(path: Path, items: int) -> str:
    """A finished item in the middle of the store with more than one attempt (`show`)."""

    async def find() -> str:
        store = open_store(f"sqlite:///{path}", create=False)
        try:
            middle = items // 2
            ids = [f"item-{i:07}" for i in range(middle, min(items, middle + 200))]
            rows = await store.query(item_ids=ids, limit=None)
            busy = [r for r in rows if r.attempts > 1 and r.status == "accepted"]
            return (busy or rows)[0].item_id
        finally:
            await store.close()

    return asyncio.run(find())


def run_size(
    size: int, repeat: int, budget: float, figures: dict[str, Figure], keep: Path | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=keep) as folder:
        cwd = Path(folder)
        path = cwd / "scale.db"

        async def filled() -> dict[str, Any]:
            store = open_store(f"sqlite:///{path}")
            try:
                return await fill(store, size, report=size >= 100_000)
            finally:
                await store.close()

        print(f"\n{size:,} items: filling {path}", flush=True)
        made = asyncio.run(filled())
        wal = Path(f"{path}-wal")
        made["bytes"] = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        print(
            f"  filled in {made['seconds']:.1f} s: {made['events']:,} events, "
            f"{made['bytes'] / 1e6:.0f} MB; counts {made['counts']}",
            flush=True,
        )
        item = pick_item(path, size)
        env = environment(path)
        run_once(["audit", "verify"], cwd, env)  # the first verify: then incremental ones
        for name, args in COMMANDS.items():
            argv = [a.format(id=item) for a in args]
            seen: list[int] = []

            def once(argv: list[str] = argv, seen: list[int] = seen) -> tuple[float, float]:
                seconds, rss, lines = run_once(argv, cwd, env)
                seen.append(lines)
                return seconds, rss

            seconds, rss, runs = measure(once, repeat, budget)
            figure = figures.setdefault(name, Figure())
            figure.seconds[size], figure.rss_mb[size], figure.runs[size] = seconds, rss, runs
            if name == "baton export":
                figure.note[size] = f"{seen[-1]:,} lines"
                assert seen[-1] >= made["events"], "export wrote fewer lines than events"
            print(f"  {name:<28} {seconds:8.3f} s {rss:7.1f} MB  ({runs} runs)", flush=True)
        idle = measure_api(cwd, env, item, max(repeat, 5), size, figures)
        for name in CALLS:
            f = figures[name]
            print(
                f"  {name:<28} {f.seconds[size] * 1000:8.1f} ms, server {f.rss_mb[size]:7.1f} MB",
                flush=True,
            )
        print(f"  an idle server: {idle:.1f} MB", flush=True)
        made["server_idle_mb"] = idle
        made["item"] = item
        return made


def ratio(values: dict[int, float]) -> float:
    sizes = sorted(values)
    return values[sizes[-1]] / values[sizes[0]] if values[sizes[0]] else float("nan")


def target_text(name: str, figure: Figure) -> str:
    if name not in TARGETS or TARGET_SIZE not in figure.seconds:
        return ""
    seconds, mb = TARGETS[name]
    ok = figure.seconds[TARGET_SIZE] <= seconds and (mb is None or figure.rss_mb[TARGET_SIZE] <= mb)
    limit = f"< {seconds * 1000:.0f} ms" if seconds < 1 else f"< {seconds} s"
    limit += f", < {mb:.0f} MB" if mb is not None else ""
    return f"{limit}: {'met' if ok else 'MISSED'}"


def table(sizes: list[int], figures: dict[str, Figure]) -> None:
    head = "".join(f"{s:>10,}" for s in sizes)
    print(f"\n{'time (median)':<28}{head}{'ratio':>8}   target at {TARGET_SIZE:,}")
    for name, f in figures.items():
        api = name.startswith("GET ")
        cells = "".join(
            f"{f.seconds[s] * 1000:>8.1f}ms" if api else f"{f.seconds[s]:>9.3f}s" for s in sizes
        )
        print(f"{name:<28}{cells}{ratio(f.seconds):>8.2f}   {target_text(name, f)}")
    print(f"\n{'peak RSS (MB; API: server)':<28}{head}{'ratio':>8}")
    for name, f in figures.items():
        cells = "".join(f"{f.rss_mb[s]:>10.1f}" for s in sizes)
        print(f"{name:<28}{cells}{ratio(f.rss_mb):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated")
    parser.add_argument("--million", action="store_true", help="add 1,000,000 items")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="seconds a command's runs may take in all"
    )
    parser.add_argument("--keep", type=Path, help="make the temporary stores under this folder")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if args.million:
        sizes = sorted({*sizes, 1_000_000})
    figures: dict[str, Figure] = {}
    fills = {size: run_size(size, args.repeat, args.budget, figures, args.keep) for size in sizes}
    table(sizes, figures)
    out = {
        "sizes": sizes,
        "fill": {str(s): {k: v for k, v in f.items() if k != "counts"} for s, f in fills.items()},
        "figures": {
            name: {
                "seconds": {str(s): v for s, v in f.seconds.items()},
                "rss_mb": {str(s): v for s, v in f.rss_mb.items()},
                "runs": {str(s): v for s, v in f.runs.items()},
                "ratio_seconds": ratio(f.seconds),
                "ratio_rss": ratio(f.rss_mb),
                "target": target_text(name, f),
            }
            for name, f in figures.items()
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
