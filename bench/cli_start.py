"""How fast the `baton` command starts: `baton --version`, `baton --help` and `baton status`
(against a temporary SQLite store holding a few items), beside `python -c pass` measured in
the same run. Each run is a fresh process; the commands take turns, so a slow moment of a
shared machine falls on all of them. Prints the median wall time of each, its ratio to the
bare interpreter, and, last, one JSON object of every figure.

    python bench/cli_start.py [--runs N] [--items N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENT = """\
def work(task):
    return {"done": task.objective}
"""

PLAYBOOK = """\
name: start
agents:
  worker:
    kind: python
    function: agent:work
"""


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds from starting the process to its exit."""
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command")
    parser.add_argument("--items", type=int, default=5, help="items in the store")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "BATON_STORE": str(folder / ".baton" / "baton.db")}
        env.pop("BATON_CONFIG", None)
        (folder / "agent.py").write_text(AGENT)
        (folder / "playbook.yaml").write_text(PLAYBOOK)
        items = "".join(json.dumps({"objective": f"item {n}"}) + "\n" for n in range(opts.items))
        (folder / "items.jsonl").write_text(items)
        baton = [sys.executable, "-m", "baton"]
        subprocess.run(
            [*baton, "submit", "playbook.yaml", "items.jsonl"],
            cwd=folder,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "baton --version": [*baton, "--version"],
            "baton --help": [*baton, "--help"],
            "baton status": [*baton, "status"],
        }
        for args in cases.values():  # once each first: compiled bytecode, a warm file cache
            timed(args, folder, env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(opts.runs):
            for name, args in cases.items():
                times[name].append(timed(args, folder, env))
    medians = {name: statistics.median(found) for name, found in times.items()}
    bare = medians["python -c pass"]
    print(f"{opts.runs} runs each, {opts.items} items in the store; median wall time:")
    for name, median in medians.items():
        print(f"  {name:<16} {median * 1000:7.1f} ms  {median / bare:5.1f}x python -c pass")
    figures = {
        "runs": opts.runs,
        "items": opts.items,
        "median_ms": {name: round(m * 1000, 1) for name, m in medians.items()},
        "ratio_to_python": {name: round(m / bare, 2) for name, m in medians.items()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
