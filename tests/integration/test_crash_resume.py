"""kill -9 a real `baton run` mid-attempt; the resumed run finishes every item exactly once."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Baton, spawn_baton

ITEMS = 12

PLAYBOOK = """\
name: crashy
agents:
  slow:
    kind: command
    command: [{python}, agent.py]
    timeout: 30
verifiers:
  says-done:
    kind: contains
    text: done
budget:
  attempts: 3
"""

AGENT = """\
import os, sys, time
item, attempt = os.environ["BATON_ITEM_ID"], os.environ["BATON_ATTEMPT"]
with open("started.log", "a") as log:
    log.write(f"{item} {attempt}\\n")
time.sleep(0.4)
print(f"done {item}")
"""


def started_lines(folder: Path) -> list[str]:
    log = folder / "started.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.slow
def test_kill_9_mid_attempt_then_resume_finishes_each_item_exactly_once(
    tmp_path: Path, baton: Baton
) -> None:
    import sys

    (tmp_path / "playbook.yaml").write_text(PLAYBOOK.format(python=json.dumps(sys.executable)))
    (tmp_path / "agent.py").write_text(textwrap.dedent(AGENT))
    (tmp_path / "items.jsonl").write_text(
        "".join(
            json.dumps({"id": f"job-{i:02d}", "objective": f"job {i}"}) + "\n" for i in range(ITEMS)
        )
    )

    first = spawn_baton(tmp_path, "run", "playbook.yaml", "items.jsonl", "-c", "4", "--no-live")
    deadline = time.time() + 60
    while len(started_lines(tmp_path)) < 6 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # mid-attempt: agents are inside their 0.4 s of work
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    assert first.returncode == -signal.SIGKILL
    killed_at = len(started_lines(tmp_path))
    assert 0 < killed_at < ITEMS + 4, "the kill should land while items are still in flight"

    second = baton("run", "playbook.yaml", "items.jsonl", "-c", "4", "--no-live", timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already submitted: resuming" in second.stderr

    events = [
        json.loads(line) for line in baton("events", "--json", check=True).stdout.splitlines()
    ]
    by_kind: dict[str, Counter[str]] = {}
    for e in events:
        by_kind.setdefault(e["kind"], Counter())[e["log"]] += 1
    ids = [f"job-{i:02d}" for i in range(ITEMS)]
    # every item accepted exactly once, submitted exactly once
    assert all(by_kind["item.accepted"][i] == 1 for i in ids)
    assert all(by_kind["item.submitted"][i] == 1 for i in ids)
    # every attempt that ran is on record, and every record has its run: none lost, none doubled
    starts = Counter(line.split()[0] for line in started_lines(tmp_path))
    assert starts == by_kind["attempt.started"]
    # attempts cut off by the kill were recorded as abandoned, never counted as finished
    abandoned = by_kind.get("attempt.abandoned", Counter())
    assert sum(abandoned.values()) >= 1
    for i in ids:
        assert by_kind["attempt.started"][i] == by_kind["attempt.finished"][i] + abandoned[i]
    assert baton("audit", "verify").returncode == 0


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_carries_on_without_waiting(
    tmp_path: Path, baton: Baton
) -> None:
    import sys

    (tmp_path / "playbook.yaml").write_text(PLAYBOOK.format(python=json.dumps(sys.executable)))
    (tmp_path / "agent.py").write_text(textwrap.dedent(AGENT))
    (tmp_path / "items.jsonl").write_text(
        "".join(
            json.dumps({"id": f"job-{i:02d}", "objective": f"job {i}"}) + "\n" for i in range(8)
        )
    )
    first = spawn_baton(tmp_path, "run", "playbook.yaml", "items.jsonl", "-c", "2", "--no-live")
    deadline = time.time() + 60
    while len(started_lines(tmp_path)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130
    assert "Ctrl-C: the run is stopping: no new work; attempts in flight have up to 25 s" in err
    assert "interrupted: run `baton resume` to carry on where this stopped" in err
    # the attempts in flight at the Ctrl-C finished and were recorded; none was cut off
    stopped = [
        json.loads(line) for line in baton("events", "--json", check=True).stdout.splitlines()
    ]
    assert not [e for e in stopped if e["kind"] == "attempt.abandoned"]
    assert len([e for e in stopped if e["kind"] == "attempt.finished"]) == len(
        started_lines(tmp_path)
    )

    started = time.time()
    resumed = baton("resume", "--no-live", timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert time.time() - started < 20, "released leases: no waiting for them to expire"
    events = [
        json.loads(line) for line in baton("events", "--json", check=True).stdout.splitlines()
    ]
    accepted = Counter(e["log"] for e in events if e["kind"] == "item.accepted")
    assert accepted == Counter({f"job-{i:02d}": 1 for i in range(8)})
