"""The python agent: a `module:function` called with the Assignment, its return value as the result."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from baton.agents.python import PythonAgent, PythonAgentConfig
from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AgentResult, Assignment, AwaitHuman, Usage
from baton.errors import AgentError

_names = itertools.count()

MODULE = """
import asyncio
import threading

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
    for offload in (True, False):
        result = await agent(tmp_path, module, function, offload=offload).run(task())
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
