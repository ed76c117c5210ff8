"""The python agent: a `module:function` called with the Assignment, its return value as the result."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from baton.agents.python import PythonAgent, PythonAgentConfig
from baton.config.call_process import ChildTraceback, FunctionRaised
from baton.config.loading import load_playbook
from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AgentResult, Assignment, AwaitHuman, Usage
from baton.errors import AgentError, PlaybookError

_names = itertools.count()

MODULE = """
import asyncio
import os
import signal
import threading
import time

from baton.core.records import AgentResult, AwaitHuman, Usage


def text(task):
    return "did " + task.objective


def mapping(task):
    return {"item": task.item_id, "attempt": task.attempt}


def sequence(task):
    return [1, "two", None]


def result(task):
    return AgentResult(text="r", usage=Usage(prompt_tokens=3, seconds=9.5))


def human(task):
    return AwaitHuman("please do " + task.objective)


async def coroutine(task):
    await asyncio.sleep(0)
    return "async " + task.objective


def thread(task):
    return str(threading.get_ident())


def number(task):
    return 42


def unserialisable(task):
    return {"when": object()}


def boom(task):
    raise RuntimeError("the model is down")


def pid(task):
    return str(os.getpid())


def chatty(task):
    print("noise on stdout")
    return "the answer"


release = threading.Event()


def stuck(task):
    release.wait(30)  # the test releases it
    return "late"


def sleeper(task):
    # its pid where the test finds it, then a side effect that must never land once stopped
    folder = task.inputs["folder"]
    with open(os.path.join(folder, "started"), "w") as file:
        file.write(str(os.getpid()))
    time.sleep(60)
    with open(os.path.join(folder, "marker"), "w") as file:
        file.write("the side effect")
    return "finished"


async def slow_coroutine(task):
    await asyncio.sleep(60)


def blocking(task):
    time.sleep(0.3)
    return "blocked the loop"


def own_timeout(task):
    raise TimeoutError("the socket timed out")


def exits(task):
    os._exit(7)


def killed(task):
    os.kill(os.getpid(), signal.SIGKILL)


class Odd(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def odd(task):
    raise Odd("one", "two")


def local_value(task):
    return lambda: None


class Caller:
    async def __call__(self, task):
        return "called"


caller = Caller()
not_a_function = 3
"""


def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton")


def task(**kw: object) -> Assignment:
    return Assignment(**{"item_id": "it-1", "attempt": 2, "objective": "the work", **kw})  # type: ignore[arg-type]


@pytest.fixture
def module(tmp_path: Path) -> str:
    """A fresh module of agent functions in tmp_path/lib; returns its (unique) name."""
    name = f"baton_test_agents_{next(_names)}"
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / f"{name}.py").write_text(MODULE)
    return name


def agent(tmp_path: Path, module: str, function: str, **kw: object) -> PythonAgent:
    config = PythonAgentConfig(function=f"{module}:{function}", path=["lib"], **kw)  # type: ignore[arg-type]
    return config.build("py", ctx(tmp_path))


def test_registered_as_the_python_kind() -> None:
    assert kinds("baton.agents").found["python"] is PythonAgentConfig


@pytest.mark.parametrize(
    ("function", "text", "data"),
    [
        ("text", "did the work", None),
        ("mapping", '{"item":"it-1","attempt":2}', {"item": "it-1", "attempt": 2}),
        ("sequence", '[1,"two",null]', [1, "two", None]),
        ("coroutine", "async the work", None),
        ("caller", "called", None),
    ],
)
async def test_return_values_become_results(
    tmp_path: Path, module: str, function: str, text: str, data: object
) -> None:
    for where in ({"offload": True}, {"offload": False}, {"isolate": "process"}):
        result = await agent(tmp_path, module, function, **where).run(task())
        assert isinstance(result, AgentResult)
        assert (result.text, result.data) == (text, data)


async def test_results_and_requests_for_a_person_pass_through(tmp_path: Path, module: str) -> None:
    result = await agent(tmp_path, module, "result").run(task())
    assert result == AgentResult(text="r", usage=Usage(prompt_tokens=3, seconds=9.5))
    human = await agent(tmp_path, module, "human").run(task())
    assert human == AwaitHuman("please do the work")


async def test_offload_runs_sync_functions_in_a_worker_thread(tmp_path: Path, module: str) -> None:
    here = str(threading.get_ident())
    offloaded = await agent(tmp_path, module, "thread").run(task())
    inline = await agent(tmp_path, module, "thread", offload=False).run(task())
    assert isinstance(offloaded, AgentResult) and isinstance(inline, AgentResult)
    assert offloaded.text != here
    assert inline.text == here


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("number", "returned int; expected str, dict, list, AgentResult or AwaitHuman"),
        ("unserialisable", "returned data that is not JSON"),
    ],
)
async def test_unusable_return_values_are_agent_errors(
    tmp_path: Path, module: str, function: str, message: str
) -> None:
    with pytest.raises(AgentError, match=message):
        await agent(tmp_path, module, function).run(task())


async def test_the_function_s_own_exception_propagates(tmp_path: Path, module: str) -> None:
    # the engine records it (with its traceback) as a failed attempt
    with pytest.raises(RuntimeError, match="the model is down"):
        await agent(tmp_path, module, "boom").run(task())


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("no_such_module_xyz:run", "cannot import 'no_such_module_xyz': ModuleNotFoundError"),
        ("{module}:missing", "has no attribute 'missing'"),
        ("{module}:not_a_function", "is not callable"),
        ("{module}", "expected 'module:function'"),
    ],
)
def test_build_errors_are_value_errors(
    tmp_path: Path, module: str, function: str, message: str
) -> None:
    config = PythonAgentConfig(function=function.format(module=module), path=["lib"])
    with pytest.raises(ValueError, match=message):
        config.build("py", ctx(tmp_path))


def test_path_is_relative_to_the_playbook_folder(tmp_path: Path, module: str) -> None:
    # without the lib folder on sys.path the module cannot be found
    with pytest.raises(ValueError, match="cannot import"):
        PythonAgentConfig(function=f"{module}:text", path=["elsewhere"]).build("py", ctx(tmp_path))
    built = PythonAgentConfig(function=f"{module}:text", path=[str(tmp_path / "lib")])
    assert built.build("py", ctx(tmp_path / "other")).name == "py"


def test_two_playbooks_with_modules_of_one_name_each_get_their_own(tmp_path: Path) -> None:
    from baton.config.callables import import_callable

    for name, answer in (("one", "first"), ("two", "second")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "samename_helper.py").write_text(f"def f():\n    return {answer!r}\n")
    first = import_callable("samename_helper:f", [tmp_path / "one"])
    second = import_callable("samename_helper:f", [tmp_path / "two"])
    assert (first(), second()) == ("first", "second")
    assert import_callable("samename_helper:f", [tmp_path / "one"])() == "first"


# --- timeouts, and where a function runs ----------------------------------------------------


def test_defaults_and_bad_values() -> None:
    config = PythonAgentConfig(function="m:f")
    assert (config.timeout, config.isolate, config.offload) == (600.0, "thread", True)
    with pytest.raises(ValidationError, match="greater than 0"):
        PythonAgentConfig(function="m:f", timeout=0)
    with pytest.raises(ValidationError, match="'thread' or 'process'"):
        PythonAgentConfig(function="m:f", isolate="fork")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="offload: false runs the function on the event"):
        PythonAgentConfig(function="m:f", offload=False, isolate="process")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("timeout: 0", "pb.yaml:6: agents.a.timeout: Input should be greater than 0, got 0"),
        ("timeout: -5", "pb.yaml:6: agents.a.timeout: Input should be greater than 0"),
        ("isolate: fork", "pb.yaml:6: agents.a.isolate: Input should be 'thread' or 'process'"),
        (
            "offload: false\nisolate: process",
            "pb.yaml:3: agents.a: offload: false runs the function on the event loop, "
            "isolate: process in a child process: choose one",
        ),
    ],
)
def test_bad_values_are_refused_at_load_with_file_line_and_field(
    tmp_path: Path, module: str, fields: str, expected: str
) -> None:
    lines = ["name: p", "agents:", "  a:", "    kind: python", f"    function: {module}:text"]
    lines += [f"    {field}" for field in fields.split("\n")] + ["    path: [lib]"]
    text = "\n".join(lines) + "\n"
    (tmp_path / "pb.yaml").write_text(text)
    with pytest.raises(PlaybookError) as caught:
        load_playbook(tmp_path / "pb.yaml")
    assert expected in str(caught.value)


async def test_a_process_call_runs_in_a_child_of_its_own(tmp_path: Path, module: str) -> None:
    child = await agent(tmp_path, module, "pid", isolate="process").run(task())
    assert isinstance(child, AgentResult) and child.text != str(os.getpid())
    # what the function prints does not get mixed into its answer
    chatty = await agent(tmp_path, module, "chatty", isolate="process").run(task())
    assert isinstance(chatty, AgentResult) and chatty.text == "the answer"


async def test_a_child_s_exception_is_raised_here_with_its_traceback(
    tmp_path: Path, module: str
) -> None:
    with pytest.raises(RuntimeError, match="the model is down") as caught:
        await agent(tmp_path, module, "boom", isolate="process").run(task())
    cause = caught.value.__cause__
    assert isinstance(cause, ChildTraceback)
    assert f"{module}.py" in str(cause) and 'raise RuntimeError("the model is down")' in str(cause)
    # a class that cannot be rebuilt from its pickle: its name and message
    with pytest.raises(FunctionRaised, match=rf"{module}\.Odd: one and two"):
        await agent(tmp_path, module, "odd", isolate="process").run(task())


@pytest.mark.parametrize(
    ("function", "how"), [("exits", "exit code 7"), ("killed", "killed by SIGKILL")]
)
async def test_a_child_that_dies_is_an_agent_error_naming_how(
    tmp_path: Path, module: str, function: str, how: str
) -> None:
    with pytest.raises(AgentError, match=rf"its process ended without an answer \({how}\)"):
        await agent(tmp_path, module, function, isolate="process").run(task())


async def test_what_cannot_be_pickled_is_a_clear_error(tmp_path: Path, module: str) -> None:
    with pytest.raises(AgentError, match="it returned function, which cannot be pickled"):
        await agent(tmp_path, module, "local_value", isolate="process").run(task())
    odd_input = task(inputs={"handle": threading.Lock()})
    with pytest.raises(AgentError, match="cannot hand the Assignment to a child process"):
        await agent(tmp_path, module, "text", isolate="process").run(odd_input)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def started(folder: Path) -> int:
    """The pid the sleeper wrote once it began."""
    for _ in range(3000):
        if (folder / "started").exists() and (folder / "started").read_text():
            return int((folder / "started").read_text())
        await asyncio.sleep(0.01)
    raise AssertionError("the function never started")


async def test_a_process_call_past_its_timeout_is_killed(tmp_path: Path, module: str) -> None:
    sleeper = agent(tmp_path, module, "sleeper", isolate="process", timeout=3)
    with pytest.raises(AgentError) as caught:
        await sleeper.run(task(inputs={"folder": str(tmp_path)}))
    assert str(caught.value) == f"{module}:sleeper did not return within 3s: its process was killed"
    assert gone(await started(tmp_path)) and not (tmp_path / "marker").exists()


async def test_a_cancelled_process_call_is_killed_before_the_cancellation_ends(
    tmp_path: Path, module: str
) -> None:
    sleeper = agent(tmp_path, module, "sleeper", isolate="process")
    running = asyncio.ensure_future(sleeper.run(task(inputs={"folder": str(tmp_path)})))
    pid = await started(tmp_path)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert running.cancelled()
    assert gone(pid) and not (tmp_path / "marker").exists()


async def test_a_thread_past_its_timeout_is_left_running_and_the_error_says_so(
    tmp_path: Path, module: str
) -> None:
    stuck = agent(tmp_path, module, "stuck", timeout=0.2)
    try:
        with pytest.raises(AgentError) as caught:
            await stuck.run(task())
        assert str(caught.value) == (
            f"{module}:stuck did not return within 0.2s: it is still running in its thread: "
            "a thread cannot be interrupted (isolate: process has the function killed)"
        )
    finally:
        stuck.call.fn.__globals__["release"].set()


async def test_a_cancelled_thread_call_warns_that_the_thread_goes_on(
    tmp_path: Path, module: str, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = agent(tmp_path, module, "stuck")
    running = asyncio.ensure_future(stuck.run(task()))
    await asyncio.sleep(0.05)
    try:
        with caplog.at_level(logging.WARNING, logger="baton.calls"):
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    finally:
        stuck.call.fn.__globals__["release"].set()
    assert running.cancelled()
    assert f"{module}:stuck was stopped but goes on running in its thread" in caplog.text


async def test_a_coroutine_past_its_timeout_is_cancelled(tmp_path: Path, module: str) -> None:
    with pytest.raises(
        AgentError, match=r"slow_coroutine did not return within 0.2s: it was cancelled"
    ):
        await agent(tmp_path, module, "slow_coroutine", timeout=0.2).run(task())


async def test_a_function_on_the_event_loop_past_its_timeout_fails_after_it_returns(
    tmp_path: Path, module: str
) -> None:
    inline = agent(tmp_path, module, "blocking", offload=False, timeout=0.05)
    with pytest.raises(AgentError, match=r"past its timeout of 0.05s; offload: false runs it on"):
        await inline.run(task())


async def test_the_function_s_own_timeout_error_is_not_taken_for_the_timeout(
    tmp_path: Path, module: str
) -> None:
    for where in ({}, {"isolate": "process"}):
        with pytest.raises(TimeoutError, match="the socket timed out"):
            await agent(tmp_path, module, "own_timeout", **where).run(task())


async def test_a_child_imports_the_playbook_s_own_module_of_a_shared_name(tmp_path: Path) -> None:
    for name, answer in (("one", "first"), ("two", "second")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "samename_child.py").write_text(f"def f(task):\n    return {answer!r}\n")
    answers = []
    for name in ("one", "two", "one"):
        config = PythonAgentConfig(function="samename_child:f", path=[name], isolate="process")
        result = await config.build("py", ctx(tmp_path)).run(task())
        assert isinstance(result, AgentResult)
        answers.append(result.text)
    assert answers == ["first", "second", "first"]
