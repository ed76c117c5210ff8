"""Submit throughput through the API with and without live-stream (SSE) listeners.

A real `baton serve` (uvicorn on loopback, a SQLite store in a temp dir) and a real
`baton worker` run a playbook whose python agent needs no model. The bench POSTs items
(one per request, a few requests at a time) and measures items/s submitted (every POST
answered) and done (every item accepted), and the server's CPU seconds per item, with no
listener (the baseline, measured in the same run) and with `--listeners` SSE
clients reading continuously, each reconnecting from its Last-Event-ID when its stream
ends, as a browser's EventSource does. The listeners run in a process of their own, so
their work does not share the server's event loop. The two alternate, round after round;
a ratio is the median of the rounds' (a shared machine's noise hits both of a pair). The
last line printed is one JSON object of every figure.

    python bench/sse.py [--items N] [--listeners N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PLAYBOOK = """\
name: bench
agents:
  writer:
    kind: python
    function: writer:write
"""
TARGET = 0.70  # submit throughput with the listeners, as a share of none


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the listeners' process --------------------------------------------------------------
async def listen(url: str, clients: int) -> None:
    """`clients` SSE streams read continuously; 'ready' on stdout once each has begun; the
    totals as JSON on stdout once stdin closes."""
    totals = {"bytes": 0, "ended": 0, "connects": 0}
    begun = 0
    ready = asyncio.Event()
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)

    async def one(http: httpx.AsyncClient) -> None:
        nonlocal begun
        last = b""
        first = True
        while True:
            headers = {"Last-Event-ID": last.decode()} if last else {}
            totals["connects"] += 1
            async with http.stream("GET", "/api/stream", headers=headers) as answer:
                tail = b""
                async for chunk in answer.aiter_raw():
                    if first:
                        first = False
                        begun += 1
                        if begun == clients:
                            ready.set()
                    totals["bytes"] += len(chunk)
                    seen = tail + chunk
                    at = seen.rfind(b"\nid: ")  # the newest id whose line is whole
                    end = seen.find(b"\n", at + 5) if at >= 0 else -1
                    if end > 0:
                        last = seen[at + 5 : end]
                    if b"event: ended" in seen:
                        totals["ended"] += 1
                    tail = seen[-64:]

    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as http:
        tasks = [asyncio.create_task(one(http)) for _ in range(clients)]
        await ready.wait()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(totals), flush=True)


# --- the server, the worker, the submits ------------------------------------------------
def start(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "baton", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def submit(url: str, first: int, n: int, at_once: int) -> tuple[float, float]:
    """POST items first..first+n-1 (one a request, `at_once` requests in flight); seconds
    until every POST is answered, and until every item is accepted."""
    numbers = iter(range(first, first + n))

    async def poster(http: httpx.AsyncClient) -> None:
        for k in numbers:
            body = {"playbook": "bench", "items": [{"id": f"i{k}", "objective": f"note {k}"}]}
            answer = await http.post("/api/items", json=body)
            answer.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        began = time.perf_counter()
        await asyncio.gather(*(poster(http) for _ in range(at_once)))
        submitted = time.perf_counter() - began
        while True:
            page = (await http.get("/api/items", params={"limit": 1})).json()
            if page["counts"].get("accepted", 0) >= first + n:
                return submitted, time.perf_counter() - began
            await asyncio.sleep(0.05)


def scenario(items: int, listeners: int, at_once: int) -> dict[str, Any]:
    """One server and worker on a new store; `listeners` SSE clients; `items` submitted."""
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        folder = Path(tmp)
        (folder / "writer.py").write_text("def write(task):\n    return 'done'\n")
        (folder / "playbook.yaml").write_text(PLAYBOOK)
        env = {**os.environ, "BATON_STORE": str(folder / ".baton" / "baton.db")}
        env["BATON_USER"] = "bench"
        env.pop("BATON_LOG", None)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start(folder, env, "serve", "playbook.yaml", "--port", str(port))
        worker = start(folder, env, "worker", "playbook.yaml", "-c", "16")
        crowd: subprocess.Popen[str] | None = None
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise SystemExit(f"baton serve did not answer: {server.stderr}")
            warm = max(20, items // 10)
            asyncio.run(submit(url, 0, warm, at_once))  # imports, caches, the worker's pace
            if listeners:
                crowd = subprocess.Popen(
                    [sys.executable, __file__, "--listen", url, "--listeners", str(listeners)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert crowd.stdout is not None and crowd.stdin is not None
                if crowd.stdout.readline().strip() != "ready":
                    raise SystemExit("the listeners did not start")
            cpu = cpu_seconds(server.pid)
            submitted, done = asyncio.run(submit(url, warm, items, at_once))
            cpu = cpu_seconds(server.pid) - cpu
            totals: dict[str, int] = {}
            if crowd is not None:
                assert crowd.stdout is not None and crowd.stdin is not None
                crowd.stdin.close()
                totals = json.loads(crowd.stdout.readline())
                crowd.wait(30)
        finally:
            if crowd is not None and crowd.poll() is None:
                crowd.kill()
            stop(worker)
            stop(server)
    return {
        "listeners": listeners,
        "items": items,
        "submitted_per_s": round(items / submitted, 1),
        "done_per_s": round(items / done, 1),
        "server_cpu_ms_per_item": round(1000 * cpu / items, 3),
        "streams_ended": totals.get("ended", 0),
        "stream_connects": totals.get("connects", 0),
        "stream_mb": round(totals.get("bytes", 0) / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--at-once", type=int, default=8, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3, help="each scenario, alternating")
    parser.add_argument("--listen", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen:
        asyncio.run(listen(args.listen, args.listeners))
        return
    runs: dict[int, list[dict[str, Any]]] = {0: [], args.listeners: []}
    for r in range(args.rounds):
        for listeners in runs:
            print(f"round {r + 1}: {listeners} listeners...", file=sys.stderr, flush=True)
            runs[listeners].append(scenario(args.items, listeners, args.at_once))

    def median_ratio(figure: str) -> float:  # each round's pair measured back to back
        pairs = zip(runs[args.listeners], runs[0], strict=True)
        return statistics.median(crowd[figure] / max(base[figure], 1e-9) for crowd, base in pairs)

    best = {k: max(v, key=lambda run: run["submitted_per_s"]) for k, v in runs.items()}
    base, crowd = best[0], best[args.listeners]
    ratio = median_ratio("submitted_per_s")
    done_ratio = median_ratio("done_per_s")
    cpu_ratio = median_ratio("server_cpu_ms_per_item")
    print(f"best of {args.rounds} rounds each; ratios: the median of each round's pair")
    print(f"{'listeners':>10} {'submitted/s':>12} {'done/s':>8} {'server cpu ms/item':>19}")
    for run in (base, crowd):
        print(
            f"{run['listeners']:>10} {run['submitted_per_s']:>12} {run['done_per_s']:>8} "
            f"{run['server_cpu_ms_per_item']:>19}"
        )
    print(
        f"with {args.listeners} listeners: submit {ratio:.2f}x, done {done_ratio:.2f}x, server "
        f"CPU per item {cpu_ratio:.2f}x of none (target: submit >= {TARGET:.2f}x)"
    )
    figures = {
        "bench": "sse",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "baseline": base,
        "listening": crowd,
        "all_runs": runs,
        "submit_ratio": round(ratio, 3),
        "done_ratio": round(done_ratio, 3),
        "server_cpu_ratio": round(cpu_ratio, 3),
        "target_submit_ratio": TARGET,
        "passed": ratio >= TARGET,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
