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
from tests.conftest import ON_EVERY_STORE, Baton, Spawn, baton_env, spawn_baton
from tests.integration.test_workers import lines, stop, wait_until, write_project
from tests.redis_server import start_redis_server


def started_by(folder: Path, pid: int) -> list[str]:
    """The items a worker process began, in the order it began them."""
    return [line.split()[0] for line in lines(folder, "started.log") if line.split()[2] == str(pid)]


def finished_by(folder: Path, pid: int) -> set[str]:
    return {
        line.split()[0] for line in lines(folder, "finished.log") if line.split()[2] == str(pid)
    }


def ready(worker: subprocess.Popen[str]) -> str:
    """Wait for a spawned worker to say its store is open; its engine's name."""
    assert worker.stderr is not None
    line = worker.stderr.readline()
    assert "waiting for work" in line, line
    return line.split()[1]  # "worker OWNER on PLAYBOOKS: waiting for work ..."


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
    log.write(f"{item} {os.environ['BATON_ATTEMPT']} {os.getppid()} {os.getpid()}\\n")
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


# --- fencing: a worker that lost its lease while alive -----------------------------------
def start_slow_worker(
    spawn: Spawn, seconds: float, *args: str
) -> tuple[subprocess.Popen[str], str]:
    os.environ["SLOW_SECONDS"] = str(seconds)
    try:
        worker = spawn("worker", "playbook.yaml", *args)
    finally:
        del os.environ["SLOW_SECONDS"]
    return worker, ready(worker)


def assert_one_takeover(recorded: list[dict[str, Any]], old: str, new: str) -> None:
    """The takeover on record, with who and why; the cut attempt abandoned by the new
    holder, truthfully; one result, the new holder's; no false word of a dead process."""
    kinds = [e["kind"] for e in recorded]
    assert kinds.count("item.accepted") == 1
    started = [e["data"] for e in recorded if e["kind"] == "attempt.started"]
    assert [(d["attempt"], d["engine"]) for d in started] == [(1, old), (2, new)]
    (taken,) = [e["data"] for e in recorded if e["kind"] == "lease.taken_over"]
    assert taken == {"from": old, "by": new, "why": "lease expired", "attempts": [1]}
    (abandoned,) = [e["data"] for e in recorded if e["kind"] == "attempt.abandoned"]
    assert abandoned["attempt"] == 1
    assert abandoned["reason"].startswith(
        f"taken over by engine {new}: engine {old} stopped renewing its lease"
    )
    assert [e["data"]["attempt"] for e in recorded if e["kind"] == "attempt.finished"] == [2]


@ON_EVERY_STORE
@pytest.mark.slow
def test_a_paused_worker_loses_its_lease_and_records_nothing_for_the_item(
    tmp_path: Path, spawn: Spawn, baton: Baton
) -> None:
    """The classic fencing case: worker A stops (SIGSTOP: a long GC pause, a frozen VM)
    for longer than its lease while its agent runs; B takes the item over. When A wakes,
    it stops its agent and writes nothing: before, A recorded its late result over B's
    work, then "recovered" B's attempt as abandoned, and the two burned the budget."""
    slow_project(tmp_path, 1)
    a, owner_a = start_slow_worker(spawn, 60, "-c", "1", "--lease", "2")
    b: subprocess.Popen[str] | None = None
    try:
        baton("submit", "playbook.yaml", "items.jsonl", check=True)
        wait_until(lambda: len(lines(tmp_path, "started.log")) == 1, 60, "A's attempt running")
        os.kill(a.pid, signal.SIGSTOP)  # the engine only: its agent's process runs on
        time.sleep(3)  # past A's 2-second lease
        b, owner_b = start_slow_worker(spawn, 4, "-c", "1", "--lease", "2")
        wait_until(lambda: len(lines(tmp_path, "started.log")) == 2, 60, "B's attempt")
        os.kill(a.pid, signal.SIGCONT)
        wait_until(lambda: "accepted" in baton("status", "--json").stdout, 60, "B's result")
    finally:
        os.kill(a.pid, signal.SIGCONT)
        errs = stop([w for w in (a, b) if w is not None])
    assert_one_takeover(events(baton), owner_a, owner_b)
    assert f"engine {owner_a} lost its lease on job-00" in errs[0], errs[0]
    # A's agent was stopped when A found its lease gone (its process is no more)
    agent_a = int(lines(tmp_path, "started.log")[0].split()[3])
    with pytest.raises(ProcessLookupError):
        os.kill(agent_a, 0)


@pytest.mark.slow
def test_two_workers_through_a_redis_outage_longer_than_the_lease(tmp_path: Path) -> None:
    """The outage of the report: Redis (a server of the test's own) is down for twice the
    lease while worker A's agent runs, then back. Whichever worker holds the item after
    it, one engine's work is on record: the other writes nothing, and a takeover, if
    there was one, says who took the item from whom and why."""
    server = start_redis_server(tmp_path / "redis")
    url = server.url
    slow_project(tmp_path, 1)
    spawn: Spawn = lambda *args: spawn_baton(tmp_path, *args, store=url)  # noqa: E731
    workers: list[subprocess.Popen[str]] = []
    try:
        a, owner_a = start_slow_worker(spawn, 6, "-c", "1", "--lease", "2")
        workers.append(a)
        subprocess.run(
            [sys.executable, "-m", "baton", "submit", "playbook.yaml", "items.jsonl"],
            cwd=tmp_path,
            env=baton_env(tmp_path, url),
            check=True,
            capture_output=True,
        )
        wait_until(lambda: len(lines(tmp_path, "started.log")) == 1, 60, "A's attempt running")
        b, owner_b = start_slow_worker(spawn, 6, "-c", "1", "--lease", "2")
        workers.append(b)
        server.kill()
        time.sleep(4)  # twice the lease
        server.start()

        def accepted() -> bool:
            out = subprocess.run(
                [sys.executable, "-m", "baton", "status", "--json"],
                cwd=tmp_path,
                env=baton_env(tmp_path, url),
                capture_output=True,
                text=True,
            )
            return out.returncode == 0 and '"accepted": 1' in out.stdout

        wait_until(accepted, 120, "the item accepted")
        errs = stop(workers)
        out = subprocess.run(
            [sys.executable, "-m", "baton", "events", "--json"],
            cwd=tmp_path,
            env=baton_env(tmp_path, url),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
        server.kill()
    recorded = [json.loads(line) for line in out.splitlines()]
    kinds = [e["kind"] for e in recorded]
    assert kinds.count("item.accepted") == 1
    assert all("is unreachable" in e for e in errs), errs
    started = {
        e["data"]["attempt"]: e["data"]["engine"]
        for e in recorded
        if e["kind"] == "attempt.started"
    }
    if "lease.taken_over" in kinds:  # B claimed the item before A could renew
        assert_one_takeover(recorded, owner_a, owner_b)
        assert f"engine {owner_a} lost its lease on job-00" in errs[0], errs[0]
    else:  # A renewed first: its attempt went on, and nobody else wrote anything
        assert started == {1: owner_a}
        assert "attempt.abandoned" not in kinds
        assert "lost its lease" not in errs[0] + errs[1]
