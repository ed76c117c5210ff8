"""Taking over a crashed worker's items: real `baton worker` processes, killed with -9, on
SQLite and on Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ON_EVERY_STORE, Spawn
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
