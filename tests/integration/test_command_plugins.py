"""The command agent and command verifier against real processes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from baton.agents.command import CommandAgentConfig
from baton.config.plugin import BuildContext
from baton.core.records import Assignment, BudgetLeft, Candidate
from baton.errors import AgentError
from baton.verify.command import CommandVerifierConfig

PY = sys.executable


def ctx(tmp_path: Path, **env: str) -> BuildContext:
    return BuildContext(
        base_dir=tmp_path, state_dir=tmp_path / ".baton", environ={"PATH": "/usr/bin:/bin", **env}
    )


def task(**kw: object) -> Assignment:
    base: dict[str, object] = {
        "item_id": "it",
        "attempt": 2,
        "objective": "say hello",
        "inputs": {"who": "ada"},
        "budget": BudgetLeft(attempts=1),
    }
    base.update(kw)
    return Assignment(**base)  # type: ignore[arg-type]


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize("via", ["stdin", "arg", "file"])
async def test_prompt_reaches_the_command_each_way(tmp_path: Path, via: str) -> None:
    echo = script(
        tmp_path,
        "echo.py",
        "import sys\n"
        f"via = {via!r}\n"
        "if via == 'stdin': text = sys.stdin.read()\n"
        "elif via == 'arg': text = sys.argv[-1]\n"
        "else: text = open(sys.argv[-1]).read()\n"
        "print('GOT:' + text.splitlines()[1])\n",
    )
    agent = CommandAgentConfig(command=[PY, echo], prompt_via=via).build("echo", ctx(tmp_path))  # type: ignore[arg-type]
    result = await agent.run(task())
    assert result.text.strip() == "GOT:say hello"
    assert result.exit_code == 0 and result.usage.seconds > 0


async def test_output_file_json_env_allow_list_and_task_file(tmp_path: Path) -> None:
    body = (
        "import json, os\n"
        "task = json.load(open(os.environ['BATON_TASK_FILE']))\n"
        "out = {'who': task['inputs']['who'], 'attempt': os.environ['BATON_ATTEMPT'],\n"
        "       'secret': os.environ.get('API_KEY'), 'leak': os.environ.get('NOT_LISTED')}\n"
        "open(os.environ['BATON_OUTPUT_FILE'], 'w').write('```json\\n' + json.dumps(out) + '\\n```')\n"
    )
    agent = CommandAgentConfig(
        command=[PY, script(tmp_path, "w.py", body)],
        output_from="file",
        parse_json=True,
        secrets=["API_KEY"],
    ).build("w", ctx(tmp_path, API_KEY="k-123", NOT_LISTED="nope"))
    result = await agent.run(task())
    assert result.data == {"who": "ada", "attempt": "2", "secret": "k-123", "leak": None}


async def test_non_zero_exit_is_an_agent_error_with_code_and_stderr(tmp_path: Path) -> None:
    fail = script(
        tmp_path,
        "fail.py",
        "import sys\nsys.stderr.write('cannot find config.toml')\nsys.exit(3)\n",
    )
    agent = CommandAgentConfig(command=[PY, fail]).build("f", ctx(tmp_path))
    with pytest.raises(AgentError, match=r"exited with code 3\ncannot find config.toml"):
        await agent.run(task())


async def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    child = script(
        tmp_path, "child.py", f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').write('x')\n"
    )
    body = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, {child!r}])\ntime.sleep(30)\n"
    agent = CommandAgentConfig(command=[PY, script(tmp_path, "hang.py", body)], timeout=0.5).build(
        "h", ctx(tmp_path)
    )
    started = time.monotonic()
    with pytest.raises(AgentError, match=r"timed out after 0\.5s"):
        await agent.run(task())
    assert time.monotonic() - started < 5
    time.sleep(3.5)
    assert not marker.exists(), "the grandchild was killed with its group"


def test_missing_executable_is_a_build_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="command not found: no-such-agent-xyz"):
        CommandAgentConfig(command="no-such-agent-xyz -p").build("x", ctx(tmp_path))
    with pytest.raises(ValueError, match="command not found: no-such-verifier"):
        CommandVerifierConfig(command=["no-such-verifier"]).build("v", ctx(tmp_path))


def view(text: str, workdir: Path | None = None) -> Candidate:
    return Candidate(
        item_id="it", attempt=1, agent="a", objective="o", inputs={}, text=text, workdir=workdir
    )


async def test_command_verifier_passes_fails_and_keeps_evidence(tmp_path: Path) -> None:
    check = script(
        tmp_path,
        "check.py",
        "import os, sys\n"
        "piped = sys.stdin.read()\n"
        "filed = open(os.environ['BATON_OUTPUT_FILE']).read()\n"
        "assert piped == filed\n"
        "print('cwd=' + os.getcwd())\n"
        "sys.exit(0 if 'good' in piped else 1)\n",
    )
    work = tmp_path / "work"
    work.mkdir()
    verifier = CommandVerifierConfig(command=[PY, check]).build("v", ctx(tmp_path))
    ok = await verifier.verify(view("good output", workdir=work))
    assert ok.passed and f"cwd={work}" in ok.evidence and "exit code 0" in ok.evidence
    bad = await verifier.verify(view("bad output"))
    assert not bad.passed and "exit code 1" in bad.evidence and f"cwd={tmp_path}" in bad.evidence


async def test_command_verifier_timeout_is_a_failed_check(tmp_path: Path) -> None:
    verifier = CommandVerifierConfig(
        command=[PY, "-c", "import time; time.sleep(30)"], timeout=0.3
    ).build("v", ctx(tmp_path))
    result = await verifier.verify(view("x"))
    assert not result.passed and "timed out after 0.3s" in result.evidence


async def test_command_verifier_env_is_an_allow_list(tmp_path: Path) -> None:
    verifier = CommandVerifierConfig(
        command=[
            PY,
            "-c",
            "import os, json; print(json.dumps([os.environ.get('A'), os.environ.get('B')]))",
        ],
        env=["PATH", "A"],
    ).build("v", ctx(tmp_path, A="1", B="2"))
    result = await verifier.verify(view("x"))
    assert json.dumps(["1", None]) in result.evidence
