"""The command agent against real processes (small python scripts run with sys.executable)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from baton.agents.command import CommandAgent, CommandAgentConfig
from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AgentResult, Assignment, BudgetLeft
from baton.errors import AgentError

PY = sys.executable


def ctx(tmp_path: Path, **env: str) -> BuildContext:
    return BuildContext(
        base_dir=tmp_path,
        state_dir=tmp_path / ".baton",
        environ={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )


def task(**kw: object) -> Assignment:
    base: dict[str, object] = {
        "item_id": "it-9",
        "attempt": 2,
        "objective": "say hello",
        "inputs": {"who": "ada"},
        "acceptance": ({"name": "greets", "kind": "contains", "description": "says hello"},),
        "feedback": ({"source": "verifier:greets", "kind": "check", "message": "no hello"},),
        "budget": BudgetLeft(attempts=2),
    }
    return Assignment(**{**base, **kw})  # type: ignore[arg-type]


def script(tmp_path: Path, body: str, name: str = "agent.py") -> str:
    path = tmp_path / name
    path.write_text(body)
    return str(path)


def build(tmp_path: Path, command: list[str], **kw: object) -> CommandAgent:
    environ = kw.pop("environ", {})
    return CommandAgentConfig(command=command, **kw).build("cmd", ctx(tmp_path, **environ))  # type: ignore[arg-type]


async def run(agent: CommandAgent, t: Assignment | None = None) -> AgentResult:
    result = await agent.run(t or task())
    assert isinstance(result, AgentResult)
    return result


ECHO = "import sys\nsys.stdout.write(sys.stdin.read())\n"


def test_registered_as_the_command_kind() -> None:
    assert kinds("baton.agents").found["command"] is CommandAgentConfig


async def test_prompt_via_stdin_is_the_rendered_task(tmp_path: Path) -> None:
    result = await run(build(tmp_path, [PY, script(tmp_path, ECHO)]))
    prompt = result.text
    assert prompt.startswith("Objective:\nsay hello\n")
    assert '"who": "ada"' in prompt
    assert "- greets (contains): says hello" in prompt
    assert "- verifier:greets: no hello" in prompt
    assert (result.exit_code, result.data) == (0, None)
    assert result.usage.seconds > 0


async def test_first_attempt_feedback_is_none(tmp_path: Path) -> None:
    result = await run(build(tmp_path, [PY, script(tmp_path, ECHO)]), task(feedback=()))
    assert "none: this is the first attempt" in result.text


async def test_prompt_via_arg_appended_or_at_the_placeholder(tmp_path: Path) -> None:
    show = script(tmp_path, "import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    appended = await run(build(tmp_path, [PY, show, "-p"], prompt_via="arg"))
    args = json.loads(appended.text)
    assert args[0] == "-p" and args[1].startswith("Objective:\nsay hello")
    placed = await run(build(tmp_path, [PY, show, "--message={prompt}", "-q"], prompt_via="arg"))
    args = json.loads(placed.text)
    assert args[0].startswith("--message=Objective:") and args[1] == "-q"


async def test_a_string_command_is_split_like_a_shell(tmp_path: Path) -> None:
    show = script(tmp_path, "import json, sys\nprint(json.dumps(sys.argv[1:]))\n", "show me.py")
    agent = CommandAgentConfig(command=f"'{PY}' '{show}' --flag 'two words'").build(
        "cmd", ctx(tmp_path)
    )
    assert json.loads((await run(agent)).text) == ["--flag", "two words"]


async def test_prompt_via_file_appended_or_at_the_placeholder(tmp_path: Path) -> None:
    read = script(
        tmp_path,
        "import sys\npath = sys.argv[-1].removeprefix('--file=')\nprint(open(path).read())\n",
    )
    appended = await run(build(tmp_path, [PY, read], prompt_via="file"))
    assert appended.text.startswith("Objective:\nsay hello")
    placed = await run(build(tmp_path, [PY, read, "--file={prompt_file}"], prompt_via="file"))
    assert placed.text.startswith("Objective:\nsay hello")


async def test_placeholders_inside_the_prompt_are_left_alone(tmp_path: Path) -> None:
    show = script(tmp_path, "import sys\nprint(sys.argv[1])\n")
    agent = build(tmp_path, [PY, show, "{prompt}"], prompt_via="arg")
    result = await run(agent, task(objective="write to {output_file} and {prompt_file}"))
    assert "write to {output_file} and {prompt_file}" in result.text


async def test_output_from_the_file_named_by_the_placeholder(tmp_path: Path) -> None:
    write = script(
        tmp_path,
        "import os, sys\n"
        "assert sys.argv[1] == os.environ['BATON_OUTPUT_FILE']\n"
        "open(sys.argv[1], 'w').write('from the file')\n"
        "print('from stdout')\n",
    )
    agent = build(tmp_path, [PY, write, "{output_file}"], output_from="file", output_file="o.txt")
    assert (await run(agent)).text == "from the file"
    # without a workdir of its own, each attempt writes into its own scratch folder
    assert not (tmp_path / "o.txt").exists()
    workdir = tmp_path / "attempt-2"
    workdir.mkdir()
    assert (await run(agent, task(workdir=str(workdir)))).text == "from the file"
    assert (workdir / "o.txt").read_text() == "from the file"


async def test_concurrent_attempts_never_read_each_others_output_file(tmp_path: Path) -> None:
    # a slow write to a fixed file in a shared folder: attempts take turns with the file
    fixed = script(
        tmp_path,
        "import os, time\n"
        "f = open('out.txt', 'w')\n"
        "f.write(os.environ['BATON_ITEM_ID']); f.flush(); time.sleep(0.3)\n"
        "f.write('!'); f.close()\n",
        "fixed.py",
    )
    named = script(
        tmp_path,
        "import os, sys, time\n"
        "time.sleep(0.3)\n"
        "open(sys.argv[1], 'w').write(os.environ['BATON_ITEM_ID'])\n",
        "named.py",
    )
    for agent in (
        build(tmp_path, [PY, fixed], output_from="file", output_file="out.txt"),
        build(tmp_path, [PY, named, "{output_file}"], output_from="file", output_file="out.txt"),
    ):
        results = await asyncio.gather(*(run(agent, task(item_id=f"it-{i}")) for i in range(4)))
        texts = [r.text.rstrip("!") for r in results]
        assert texts == [f"it-{i}" for i in range(4)]


async def test_a_stale_output_file_is_not_taken_for_new_output(tmp_path: Path) -> None:
    (tmp_path / "output.txt").write_text("left by attempt 1")
    agent = build(
        tmp_path, [PY, script(tmp_path, "print('forgot the file')\n")], output_from="file"
    )
    with pytest.raises(AgentError, match="exited with code 0 but wrote no output file"):
        await run(agent)


@pytest.mark.parametrize(
    ("output", "data"),
    [
        ('{"answer": 42}', {"answer": 42}),
        ("[1, 2]\n", [1, 2]),
        ('Done.\n```json\n{"answer": 42}\n```\n', {"answer": 42}),
        ("not json at all", None),
        ('{"answer": 42', None),
    ],
)
async def test_parse_json(tmp_path: Path, output: str, data: object) -> None:
    emit = script(tmp_path, f"import sys\nsys.stdout.write({output!r})\n")
    result = await run(build(tmp_path, [PY, emit], parse_json=True))
    assert (result.text, result.data) == (output, data)
    unparsed = await run(build(tmp_path, [PY, emit]))
    assert unparsed.data is None


async def test_environment_is_an_allow_list(tmp_path: Path) -> None:
    dump = script(tmp_path, "import json, os\nprint(json.dumps(dict(os.environ)))\n")
    agent = build(
        tmp_path,
        [PY, dump],
        env=["PATH", "LISTED"],
        secrets=["API_KEY"],
        set_env={"MODE": "fast"},
        environ={"LISTED": "yes", "API_KEY": "sk-123", "UNLISTED": "leak", "HOME": "/root"},
    )
    env = json.loads((await run(agent)).text)
    env.pop("LC_CTYPE", None)  # the interpreter may set it for itself
    assert env.pop("LISTED") == "yes"
    assert env.pop("API_KEY") == "sk-123"
    assert env.pop("MODE") == "fast"
    assert env.pop("BATON_ITEM_ID") == "it-9"
    assert env.pop("BATON_ATTEMPT") == "2"
    assert env.pop("BATON_TASK_FILE") and env.pop("BATON_OUTPUT_FILE") and env.pop("PATH")
    assert env == {}, "nothing else gets through (no UNLISTED, no HOME, no BATON_WORKDIR)"


async def test_the_task_file_holds_the_whole_task(tmp_path: Path) -> None:
    copy = script(
        tmp_path, "import os\nprint(open(os.environ['BATON_TASK_FILE'], encoding='utf-8').read())\n"
    )
    t = task(inputs={"who": "Zoë"}, tags=("docs",))
    result = await run(build(tmp_path, [PY, copy]), t)
    assert json.loads(result.text) == t.to_dict()


async def test_runs_in_the_attempt_workdir_unless_cwd_is_set(tmp_path: Path) -> None:
    where = script(tmp_path, "import os\nprint(os.getcwd(), os.environ.get('BATON_WORKDIR'))\n")
    work = tmp_path / "work" / "it-9" / "2"
    work.mkdir(parents=True)
    (tmp_path / "fixed").mkdir()
    default = await run(build(tmp_path, [PY, where]), task(workdir=work))
    assert default.text.split() == [str(work), str(work)]
    plain = await run(build(tmp_path, [PY, where]))
    assert plain.text.split() == [str(tmp_path), "None"]
    fixed = await run(build(tmp_path, [PY, where], cwd="fixed"), task(workdir=work))
    assert fixed.text.split() == [str(tmp_path / "fixed"), str(work)]


async def test_a_relative_script_path_is_found_from_any_workdir(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "tool"
    tool.write_text(f"#!{PY}\nprint('tool ran')\n")
    tool.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    result = await run(build(tmp_path, ["bin/tool"]), task(workdir=work))
    assert result.text == "tool ran\n"


async def test_a_prompt_template_file(tmp_path: Path) -> None:
    (tmp_path / "prompt.md").write_text("Do: $objective (attempt $attempt) $unknown")
    result = await run(build(tmp_path, [PY, script(tmp_path, ECHO)], prompt_template="prompt.md"))
    assert result.text == "Do: say hello (attempt 2) $unknown"


async def test_success_codes(tmp_path: Path) -> None:
    exit3 = script(tmp_path, "import sys\nprint('partial')\nsys.exit(3)\n")
    result = await run(build(tmp_path, [PY, exit3], success_codes=[0, 3]))
    assert (result.text, result.exit_code) == ("partial\n", 3)


async def test_a_bad_exit_is_an_agent_error_with_code_and_stderr_tail(tmp_path: Path) -> None:
    fail = script(
        tmp_path,
        "import sys\nprint('x' * 100)\nsys.stderr.write('noise\\n' * 5000 + 'cannot find config.toml')\n"
        "sys.exit(3)\n",
    )
    with pytest.raises(AgentError) as e:
        await run(build(tmp_path, [PY, fail]))
    message = str(e.value)
    assert message.startswith(f"{Path(PY).name} exited with code 3\n")
    assert message.endswith("cannot find config.toml")
    assert "xxx" not in message, "stdout is shown only when stderr is empty"
    assert len(message) < 4_500, "the stderr tail is bounded"


async def test_a_bad_exit_without_stderr_shows_stdout(tmp_path: Path) -> None:
    fail = script(tmp_path, "import sys\nprint('usage: agent TASK')\nsys.exit(2)\n")
    with pytest.raises(AgentError, match=r"exited with code 2\nusage: agent TASK"):
        await run(build(tmp_path, [PY, fail]))


async def test_timeout_kills_the_process_tree_promptly(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild-alive"
    child = script(
        tmp_path,
        f"import time\ntime.sleep(2)\nopen({str(marker)!r}, 'w').write('x')\n",
        "child.py",
    )
    hang = script(
        tmp_path,
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {child!r}])\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n",
    )
    started = time.monotonic()
    with pytest.raises(AgentError, match=r"timed out after 0\.5s and was killed"):
        await run(build(tmp_path, [PY, hang], timeout=0.5))
    assert time.monotonic() - started < 5
    time.sleep(2.5)
    assert not marker.exists(), "the grandchild died with its process group"


async def test_timeout_keeps_the_output_so_far(tmp_path: Path) -> None:
    hang = script(tmp_path, "import time\nprint('halfway there', flush=True)\ntime.sleep(60)\n")
    with pytest.raises(AgentError, match=r"timed out after 1s and was killed\nhalfway there"):
        await run(build(tmp_path, [PY, hang], timeout=1))


async def test_a_process_that_left_the_group_cannot_hold_the_agent_open(tmp_path: Path) -> None:
    # the escaped process keeps stdout open; after the kill baton stops waiting for it
    pid_file = tmp_path / "escaped.pid"
    hang = script(
        tmp_path,
        "import os, subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "print('forked', flush=True)\n"
        "time.sleep(60)\n",
    )
    try:
        with pytest.raises(AgentError, match=r"timed out after 0\.5s and was killed\nforked"):
            await asyncio.wait_for(run(build(tmp_path, [PY, hang], timeout=0.5)), 30)
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"command": "no-such-agent-xyz -p"}, "command not found: no-such-agent-xyz"),
        ({"command": ["./missing.sh"]}, r"command not found: \./missing\.sh"),
        ({"command": "   "}, "command is empty"),
        ({"command": [PY], "cwd": "nowhere"}, "cwd .*nowhere is not a directory"),
        ({"command": [PY], "prompt_template": "nope.md"}, "cannot read prompt_template .*nope.md"),
    ],
)
def test_configuration_that_cannot_work_fails_at_build(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CommandAgentConfig(**config).build("cmd", ctx(tmp_path))  # type: ignore[arg-type]


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        CommandAgentConfig(command=[PY], timeout=0)
