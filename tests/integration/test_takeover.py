"""Taking over a crashed worker's items: real `baton worker` processes, killed with -9, on
SQLite and on Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from baton.store import open_store
from tests.conftest import ON_EVERY_STORE, Baton, Spawn
from tests.integration.test_workers import lines, stop, wait_until, write_project


def started_by(folder: Path, pid: int) -> list[str]:
    """The items a worker process began, in the order it began them."""
    return [line.split()[0] for line in lines(folder, "started.log") if line.split()[2] == str(pid)]


def finished_by(folder: Path, pid: int) -> set[str]:
    return {
        line.split()[0] for line in lines(folder, "finished.log") if line.split()[2] == str(pid)
    }


def ready(worker: subprocess.Popen[str]) -> None:
    """Wait for a spawned worker to say its store is open."""
    assert worker.stderr is not None
    line = worker.stderr.readline()
    assert "waiting for work" in line, line


@ON_EVERY_STORE
@pytest.mark.slow
def test_a_crashed_workers_items_are_claimed_before_the_backlog(
    tmp_path: Path, spawn: Spawn, baton_store: str
) -> None:
    write_project(tmp_path, 40, seconds=1.5)
    first = spawn("worker", "playbook.yaml", "-c", "4", "--lease", "2")
    ready(first)
    submit = spawn("submit", "playbook.yaml", "items.jsonl")
    assert submit.wait(60) == 0, submit.communicate()
    wait_until(lambda: len(started_by(tmp_path, first.pid)) >= 4, 60, "four attempts running")
    os.killpg(first.pid, signal.SIGKILL)  # mid-attempt: each takes 1.5 s
    first.wait(10)
    cut = set(started_by(tmp_path, first.pid)) - finished_by(tmp_path, first.pid)
    assert cut, "the kill should land while attempts are in flight"
    time.sleep(3)  # let the dead worker's 2-second leases lapse (the store's clock decides)

    second = spawn("worker", "playbook.yaml", "-c", "4", "--lease", "2")
    try:
        ready(second)
        wait_until(lambda: len(started_by(tmp_path, second.pid)) >= 4, 60, "the second worker")
    finally:
        stop([second])
    # its first claim (four slots) took every cut item; before, 36 never-started items that
    # were older by their last update came first, and the cut ones waited behind them all
    first_claim = set(started_by(tmp_path, second.pid)[:4])
    assert cut <= first_claim, (cut, started_by(tmp_path, second.pid))


# --- stopping a worker: SIGTERM / Ctrl-C ---------------------------------------------------
SLOW_PLAYBOOK = """\
name: slow
agents:
  worker:
    kind: command
    command: [{python}, slow.py]
    timeout: 600
verifiers:
  says-done:
    kind: contains
    text: done
budget:
  attempts: 3
"""

# a command agent (a process the engine can stop); one line when it starts, one when done
SLOW = """\
import os, sys, time
item = os.environ["BATON_ITEM_ID"]
with open("started.log", "a") as log:
    log.write(f"{item} {os.environ['BATON_ATTEMPT']} {os.getppid()}\\n")
time.sleep(float(os.environ.get("SLOW_SECONDS", "2")))
with open("finished.log", "a") as log:
    log.write(f"{item} {os.environ['BATON_ATTEMPT']} {os.getppid()}\\n")
print(f"done {item}")
"""


def slow_project(folder: Path, n: int) -> None:
    (folder / "playbook.yaml").write_text(SLOW_PLAYBOOK.format(python=json.dumps(sys.executable)))
    (folder / "slow.py").write_text(SLOW)
    items = [json.dumps({"id": f"job-{i:02d}", "objective": "slow"}) for i in range(n)]
    (folder / "items.jsonl").write_text("\n".join(items) + "\n")


def events(baton: Baton) -> list[dict[str, Any]]:
    out = baton("events", "--json", check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def leases(store_url: str) -> dict[str, str | None]:
    """Who holds each item's lease, read from the store itself."""

    async def read() -> dict[str, str | None]:
        store = open_store(store_url)
        try:
            return {r.item_id: r.lease_owner for r in await store.query(limit=None)}
        finally:
            await store.close()

    return asyncio.run(read())


@ON_EVERY_STORE
@pytest.mark.slow
def test_sigterm_lets_attempts_in_flight_finish_then_gives_the_items_back(
    tmp_path: Path, spawn: Spawn, baton: Baton, baton_store: str
) -> None:
    slow_project(tmp_path, 10)
    worker = spawn("worker", "playbook.yaml", "-c", "3", "--lease", "120")
    ready(worker)
    baton("submit", "playbook.yaml", "items.jsonl", check=True)
    wait_until(lambda: len(lines(tmp_path, "started.log")) >= 3, 60, "three attempts running")
    began = {line.split()[0] for line in lines(tmp_path, "started.log")}
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "SIGTERM: the worker is stopping: no new work; attempts in flight have up to 25 s" in err
    assert "stopped; the items it held are back in the queue" in err
    # the three attempts in flight finished (on record), and nothing new began
    assert {line.split()[0] for line in lines(tmp_path, "finished.log")} == began
    assert {line.split()[0] for line in lines(tmp_path, "started.log")} == began
    recorded = events(baton)
    assert not [e for e in recorded if e["kind"] == "attempt.abandoned"]
    assert {e["log"] for e in recorded if e["kind"] == "attempt.finished"} == began
    # no lease kept (a 120 s lease would have held the items for two minutes)
    assert all(owner is None for owner in leases(baton_store).values())


@ON_EVERY_STORE
@pytest.mark.slow
def test_the_grace_running_out_stops_attempts_on_record_and_exits_0(
    tmp_path: Path, spawn: Spawn, baton: Baton, baton_store: str
) -> None:
    slow_project(tmp_path, 4)
    os.environ["SLOW_SECONDS"] = "600"
    try:
        worker = spawn("worker", "playbook.yaml", "-c", "2", "--lease", "120", "--grace", "1")
    finally:
        del os.environ["SLOW_SECONDS"]
    ready(worker)
    baton("submit", "playbook.yaml", "items.jsonl", check=True)
    wait_until(lambda: len(lines(tmp_path, "started.log")) >= 2, 60, "two attempts running")
    time.sleep(0.3)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    abandoned = [e for e in events(baton) if e["kind"] == "attempt.abandoned"]
    assert len(abandoned) == 2
    for e in abandoned:
        assert e["data"]["reason"].endswith("its grace of 1 s ran out (SIGTERM)"), e
        assert e["data"]["reason"].startswith("engine ")
    assert not lines(tmp_path, "finished.log"), "the agents' processes were stopped"
    assert all(owner is None for owner in leases(baton_store).values())


@pytest.mark.slow
def test_a_second_signal_stops_at_once(
    tmp_path: Path, spawn: Spawn, baton: Baton, baton_store: str
) -> None:
    slow_project(tmp_path, 2)
    os.environ["SLOW_SECONDS"] = "600"
    try:
        worker = spawn("worker", "playbook.yaml", "-c", "2", "--lease", "120")
    finally:
        del os.environ["SLOW_SECONDS"]
    ready(worker)
    baton("submit", "playbook.yaml", "items.jsonl", check=True)
    wait_until(lambda: len(lines(tmp_path, "started.log")) >= 2, 60, "two attempts running")
    time.sleep(0.3)
    worker.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert worker.poll() is None, "the first signal waits for the attempts (25 s grace)"
    worker.send_signal(signal.SIGINT)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 130, err
    assert "Ctrl-C again: the worker stops at once" in err
    abandoned = [e for e in events(baton) if e["kind"] == "attempt.abandoned"]
    assert [e["data"]["reason"].split(": ", 1)[1] for e in abandoned] == [
        "asked to stop at once (SIGINT again)"
    ] * 2
    assert all(owner is None for owner in leases(baton_store).values())
