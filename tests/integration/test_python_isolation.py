"""A python agent that runs too long, on a real engine and a SQLite file: with
`isolate: process` its child is killed when the attempt's timeout passes, when the item's
wall-clock budget runs out, when a person stops the agent (`agents pause --stop`) and when
the engine halts (`Engine.stop(0)`), before the attempt is recorded, so the side effect it
would have had afterwards never lands. In a thread (the default) the timeout fails the
attempt but the thread runs on: the error says so, and the side effect does land."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from baton.config.loading import load_playbook
from baton.config.playbook import Playbook
from baton.core import events as ev
from baton.runtime.engine import Engine
from baton.services import actions
from baton.store import SQLiteStore
from baton.testing import item

# the agent writes its pid where the test finds it, sleeps, then has a side effect (the
# marker file) that must not land once its attempt was stopped
JOB = """\
import os, time

def work(task):
    folder = task.inputs["folder"]
    with open(os.path.join(folder, "started"), "w") as file:
        file.write(str(os.getpid()))
    time.sleep(task.inputs.get("seconds", 60))
    with open(os.path.join(folder, "marker"), "w") as file:
        file.write("the side effect")
    return "done"
"""


def playbook(folder: Path, agent: str, budget: str = "") -> Playbook:
    (folder / "job.py").write_text(JOB)
    text = "name: slow\nagents:\n  worker:\n    kind: python\n    function: job:work\n"
    text += "".join(f"    {line}\n" for line in agent.splitlines())
    text += "budget:\n  attempts: 1\n" + "".join(f"  {line}\n" for line in budget.splitlines())
    (folder / "playbook.yaml").write_text(text)
    return load_playbook(folder / "playbook.yaml")


async def until(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "gave up waiting"
        await asyncio.sleep(0.02)


def started(folder: Path) -> bool:
    return (folder / "started").exists() and bool((folder / "started").read_text())


def gone(pid: int) -> bool:
    """No such process, or one that has ended and waits to be reaped (a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


async def run(
    tmp_path: Path,
    book: Playbook,
    seconds: float = 60,
    meanwhile: Callable[[Engine, SQLiteStore], Awaitable[None]] | None = None,
) -> list[ev.Event]:
    """Run one item of `book` to its end (doing `meanwhile` once its agent has begun);
    its events."""
    work = tmp_path / "work"
    work.mkdir()
    store = SQLiteStore(tmp_path / "baton.db")
    try:
        engine = Engine(store, book, poll_interval=0.02, state_dir=tmp_path / ".baton")
        spec = item("be slow", id="slow", inputs={"folder": str(work), "seconds": seconds})
        await engine.submit(book, [spec])
        running = asyncio.create_task(engine.run(["slow"]))
        if meanwhile is not None:
            await until(lambda: started(work) or running.done())
            await meanwhile(engine, store)
        await asyncio.wait_for(running, 60)
        return await store.load("slow")
    finally:
        await store.close()


def one(events: list[ev.Event], kind: str) -> dict[str, object]:
    (found,) = [e.data for e in events if e.kind == kind]
    return found


def assert_killed(tmp_path: Path) -> None:
    """The child began, is gone, and its side effect never landed (nor can it now)."""
    work = tmp_path / "work"
    assert started(work), "the function had begun"
    assert gone(int((work / "started").read_text()))
    assert not (work / "marker").exists()


async def test_a_process_past_its_timeout_is_killed_and_the_attempt_fails(tmp_path: Path) -> None:
    book = playbook(tmp_path, "isolate: process\ntimeout: 3")
    events = await run(tmp_path, book)
    failed = one(events, ev.ATTEMPT_FAILED)
    assert failed["error"] == "job:work did not return within 3s: its process was killed"
    assert events[-1].kind == ev.ITEM_ESCALATED  # its one attempt is spent
    assert_killed(tmp_path)


async def test_a_halted_engine_kills_the_process_before_it_records_the_attempt(
    tmp_path: Path,
) -> None:
    book = playbook(tmp_path, "isolate: process")

    async def halt(engine: Engine, store: SQLiteStore) -> None:
        engine.stop(0, "asked to stop at once")

    events = await run(tmp_path, book, meanwhile=halt)
    abandoned = one(events, ev.ATTEMPT_ABANDONED)
    assert str(abandoned["reason"]).endswith("stopped before it finished: asked to stop at once")
    assert_killed(tmp_path)


async def test_a_person_s_stop_kills_the_process(tmp_path: Path) -> None:
    book = playbook(tmp_path, "isolate: process")

    async def stop(engine: Engine, store: SQLiteStore) -> None:
        await actions.set_paused(store, "worker", True, "ops", "runaway", stop=True)

    events = await run(tmp_path, book, meanwhile=stop)
    failed = one(events, ev.ATTEMPT_FAILED)
    assert failed["error"] == "stopped by human:ops (agents pause --stop): runaway"
    assert_killed(tmp_path)


async def test_the_item_s_time_budget_kills_the_process(tmp_path: Path) -> None:
    book = playbook(tmp_path, "isolate: process", budget="wall_seconds: 4")
    events = await run(tmp_path, book)
    failed = one(events, ev.ATTEMPT_FAILED)
    assert str(failed["error"]).startswith("stopped: the item's time budget ran out after")
    assert_killed(tmp_path)


@pytest.mark.parametrize("isolate", ["", "isolate: thread"])
async def test_a_thread_past_its_timeout_fails_the_attempt_but_runs_on(
    tmp_path: Path, isolate: str
) -> None:
    book = playbook(tmp_path, f"{isolate}\ntimeout: 0.5".strip())
    events = await run(tmp_path, book, seconds=1.5)
    failed = one(events, ev.ATTEMPT_FAILED)
    assert failed["error"] == (
        "job:work did not return within 0.5s: it is still running in its thread: "
        "a thread cannot be interrupted (isolate: process has the function killed)"
    )
    # the limit the error names: the thread goes on, and its side effect lands later
    await until(lambda: (tmp_path / "work" / "marker").exists())


CALLER = """\
import asyncio, sys
from pathlib import Path
from baton.agents.python import PythonAgentConfig
from baton.config.plugin import BuildContext
from baton.core.records import Assignment

folder = Path(sys.argv[1])
config = PythonAgentConfig(function="job:work", isolate="process")
agent = config.build("worker", BuildContext(base_dir=folder, state_dir=folder / ".baton"))
task = Assignment(item_id="x", attempt=1, objective="o", inputs={"folder": str(folder / "work")})
asyncio.run(agent.run(task))
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
async def test_a_child_ends_when_baton_s_process_is_killed(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "work").mkdir()
    (tmp_path / "caller.py").write_text(textwrap.dedent(CALLER))
    caller = subprocess.Popen([sys.executable, str(tmp_path / "caller.py"), str(tmp_path)])
    try:
        await until(lambda: started(tmp_path / "work") or caller.poll() is not None)
        assert caller.poll() is None, "the caller ended before its function began"
        caller.send_signal(signal.SIGKILL)  # no cleanup of any kind runs in baton's process
        caller.wait()
        pid = int((tmp_path / "work" / "started").read_text())
        await until(lambda: gone(pid))  # its stdin closed: it killed itself
        assert not (tmp_path / "work" / "marker").exists()
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()


def test_baton_run_does_not_wait_for_a_thread_that_outlived_its_timeout(tmp_path: Path) -> None:
    """The thread runs on (it cannot be interrupted), but on a daemon thread of its own:
    `baton run` reports the failed attempt and exits instead of waiting 600 s for it."""
    playbook(tmp_path, "timeout: 1")
    (tmp_path / "work").mkdir()
    inputs = {"folder": str(tmp_path / "work"), "seconds": 600}
    (tmp_path / "items.jsonl").write_text(
        '{"id": "slow", "objective": "be slow", "inputs": ' + json.dumps(inputs) + "}\n"
    )
    env = {**os.environ, "BATON_STORE": str(tmp_path / "baton.db")}
    done = subprocess.run(
        [sys.executable, "-m", "baton", "run", "playbook.yaml", "items.jsonl", "--no-live"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # the old code waited the whole 600 s for the thread
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "did not return within 1s: it is still running in its thread" in " ".join(
        (done.stdout + done.stderr).split()
    )
    assert started(tmp_path / "work") and not (tmp_path / "work" / "marker").exists()
