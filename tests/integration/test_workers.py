"""Many `baton worker` processes on one Redis: every item done exactly once, a worker killed
with -9 mid-attempt, Redis itself killed and restarted mid-run, a live tail of them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Baton, baton_env, spawn_baton
from tests.redis_server import start_redis_server

PLAYBOOK = """\
name: jobs
agents:
  worker:
    kind: python
    function: job:work
    concurrency: 8
verifiers:
  says-done:
    kind: contains
    text: done
budget:
  attempts: 3
"""

# the agent writes a line when it starts and another when it finishes: the files are the
# ground truth that events are compared with (a worker killed mid-attempt never finishes)
JOB = """\
import os, time

def work(task):
    with open("started.log", "a") as log:
        log.write(f"{task.item_id} {task.attempt} {os.getpid()}\\n")
    time.sleep(task.inputs.get("seconds", 0.05))
    with open("finished.log", "a") as log:
        log.write(f"{task.item_id} {task.attempt} {os.getpid()}\\n")
    return f"done {task.item_id}"
"""


def write_project(folder: Path, n: int, seconds: float = 0.05) -> list[str]:
    (folder / "playbook.yaml").write_text(PLAYBOOK)
    (folder / "job.py").write_text(textwrap.dedent(JOB))
    ids = [f"job-{i:03d}" for i in range(n)]
    lines = [
        json.dumps({"id": i, "objective": "a job", "inputs": {"seconds": seconds}}) for i in ids
    ]
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n")
    return ids


def lines(folder: Path, name: str) -> list[str]:
    path = folder / name
    return path.read_text().splitlines() if path.exists() else []


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not check():
        if time.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def accepted_count(baton: Baton, url: str) -> int:
    out = baton("--store", url, "status", "--json")
    if out.returncode != 0:
        return -1
    return int(json.loads(out.stdout)["counts"].get("accepted", 0))


def stop(workers: list[subprocess.Popen[str]]) -> list[str]:
    """Ctrl-C each worker; their stderr."""
    errs = []
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGINT)
    for w in workers:
        _, err = w.communicate(timeout=60)
        errs.append(err)
    return errs


def events_by_kind(baton: Baton, url: str) -> dict[str, Counter[str]]:
    out = baton("--store", url, "events", "--json", check=True).stdout
    by_kind: dict[str, Counter[str]] = {}
    for line in out.splitlines():
        e = json.loads(line)
        by_kind.setdefault(e["kind"], Counter())[e["log"]] += 1
    return by_kind


def assert_exactly_once(folder: Path, by_kind: dict[str, Counter[str]], ids: list[str]) -> None:
    """Each item submitted and accepted once; every attempt on record matches a real run."""
    assert by_kind["item.submitted"] == Counter({i: 1 for i in ids})
    assert by_kind["item.accepted"] == Counter({i: 1 for i in ids})
    started = Counter(line.split()[0] for line in lines(folder, "started.log"))
    finished = Counter(line.split()[0] for line in lines(folder, "finished.log"))
    assert finished == by_kind["attempt.finished"]
    abandoned = by_kind.get("attempt.abandoned", Counter())
    for i in ids:
        assert by_kind["attempt.started"][i] == by_kind["attempt.finished"][i] + abandoned[i]
        # every run is on record; a record without a run is an attempt a kill cut off before
        # the agent began (recorded as abandoned)
        assert by_kind["attempt.started"][i] - abandoned[i] <= started[i]
        assert started[i] <= by_kind["attempt.started"][i]
    # a finished attempt is one real run: no step ran twice
    runs = Counter((line.split()[0], line.split()[1]) for line in lines(folder, "finished.log"))
    assert max(runs.values()) == 1


def start_workers(folder: Path, url: str, n: int, *extra: str) -> list[subprocess.Popen[str]]:
    workers = [
        spawn_baton(folder, "--store", url, "worker", "playbook.yaml", "-c", "8", *extra)
        for _ in range(n)
    ]
    for w in workers:  # each says it is waiting for work once its store is open
        assert w.stderr is not None
        line = w.stderr.readline()
        assert "waiting for work" in line, line
    return workers


@pytest.mark.slow
def test_three_workers_finish_200_items_exactly_once_and_a_tail_sees_them_all(
    tmp_path: Path, baton: Baton, redis_store_url: str
) -> None:
    ids = write_project(tmp_path, 200)
    url = redis_store_url
    tail_out = (tmp_path / "tail.jsonl").open("w")  # a file: a pipe nobody reads would fill
    tail = subprocess.Popen(
        [sys.executable, "-m", "baton", "--store", url, "events", "--follow", "--json"],
        cwd=tmp_path,
        env=baton_env(tmp_path),
        stdout=tail_out,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        workers = start_workers(tmp_path, url, 3)
        try:
            baton("--store", url, "submit", "playbook.yaml", "items.jsonl", check=True)
            wait_until(lambda: accepted_count(baton, url) == 200, 120, "200 accepted items")
        finally:
            errs = stop(workers)
        assert all(w.returncode == 0 for w in workers), errs  # a graceful stop
        # an idle worker's Ctrl-C: nothing to resume, its items are the others' now
        assert all("stopped; the items it held are back in the queue" in e for e in errs)
        by_kind = events_by_kind(baton, url)
        assert_exactly_once(tmp_path, by_kind, ids)
        pids = {line.split()[2] for line in lines(tmp_path, "finished.log")}
        assert len(pids) == 3, "every worker took a share of the work"
        total = sum(sum(c.values()) for c in by_kind.values())
        time.sleep(1.5)  # let the tail catch up with the last events
        os.killpg(tail.pid, signal.SIGINT)
        _, err = tail.communicate(timeout=30)
        assert tail.returncode == 0, err
    finally:
        if tail.poll() is None:  # a failure above must not leave the tail running
            os.killpg(tail.pid, signal.SIGKILL)
            tail.wait(10)
        tail_out.close()
    seen = [json.loads(line) for line in lines(tmp_path, "tail.jsonl")]
    assert [e["position"] for e in seen] == list(range(1, total + 1))  # all, in order, once
    assert sum(1 for e in seen if e["kind"] == "item.accepted") == 200
    assert baton("--store", url, "audit", "verify").returncode == 0


@pytest.mark.slow
def test_a_worker_killed_mid_attempt_leaves_its_items_to_the_others(
    tmp_path: Path, baton: Baton, redis_store_url: str
) -> None:
    ids = write_project(tmp_path, 60, seconds=0.3)
    url = redis_store_url
    workers = start_workers(tmp_path, url, 3, "--lease", "2")
    try:
        baton("--store", url, "submit", "playbook.yaml", "items.jsonl", check=True)
        victim = workers[0]
        wait_until(
            lambda: (
                sum(str(victim.pid) == line.split()[2] for line in lines(tmp_path, "started.log"))
                >= 10
            ),
            60,
            "the first worker to be busy",
        )
        os.killpg(victim.pid, signal.SIGKILL)  # mid-attempt: its jobs sleep 0.3 s
        victim.wait(10)
        cut_off = {
            line.split()[0]
            for line in lines(tmp_path, "started.log")
            if line.split()[2] == str(victim.pid)
        } - {
            line.split()[0]
            for line in lines(tmp_path, "finished.log")
            if line.split()[2] == str(victim.pid)
        }
        assert cut_off, "the kill should land while the worker has attempts in flight"
        wait_until(lambda: accepted_count(baton, url) == 60, 120, "60 accepted items")
    finally:
        stop(workers[1:])
    by_kind = events_by_kind(baton, url)
    assert_exactly_once(tmp_path, by_kind, ids)
    abandoned = by_kind["attempt.abandoned"]
    # the attempts the kill cut off (and any it cut off before the agent began), nothing else:
    # at most one per item, at most as many as the victim ran at once
    assert cut_off <= set(abandoned)
    assert all(n == 1 for n in abandoned.values())
    assert len(abandoned) <= 8


@pytest.mark.slow
def test_workers_ride_out_a_redis_restart_and_lose_nothing(tmp_path: Path, baton: Baton) -> None:
    server = start_redis_server(tmp_path / "redis")
    url = server.url
    ids = write_project(tmp_path, 80, seconds=0.1)
    try:
        workers = start_workers(tmp_path, url, 2)
        try:
            baton("--store", url, "submit", "playbook.yaml", "items.jsonl", check=True)
            wait_until(lambda: len(lines(tmp_path, "finished.log")) >= 20, 60, "some work done")
            server.kill()  # SIGKILL: only what the append-only file holds survives
            time.sleep(1.5)
            server.start()
            wait_until(lambda: accepted_count(baton, url) == 80, 120, "80 accepted items")
        finally:
            errs = stop(workers)
        assert any("is unreachable" in e for e in errs), errs
        assert any("is back after" in e for e in errs), errs
        by_kind = events_by_kind(baton, url)
        assert_exactly_once(tmp_path, by_kind, ids)
        assert not by_kind.get("attempt.abandoned"), "no worker died: nothing was abandoned"
        assert baton("--store", url, "audit", "verify").returncode == 0
    finally:
        server.kill()
