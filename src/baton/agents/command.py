"""Any executable as the agent: the prompt goes in on stdin, an argument or a file; the
output comes from stdout or a file. CLI coding agents (claude -p, codex exec, aider
--message, llm) plug in through this by configuration."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from .._util import extract_json
from ..errors import AgentError
from ..plugins import AgentConfig, BuildContext
from ..process import allowed_env, command_line, run_process
from ..prompts import render_task
from ..records import AgentResult, AwaitHuman, Task, Usage

DEFAULT_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER"]


class CommandAgentConfig(AgentConfig):
    kind: Literal["command"] = "command"
    command: str | list[str]
    prompt_via: Literal["stdin", "arg", "file"] = "stdin"
    output_from: Literal["stdout", "file"] = "stdout"
    output_file: str = "output.txt"
    parse_json: bool = False
    timeout: float = Field(600.0, gt=0)
    env: list[str] = Field(default_factory=lambda: list(DEFAULT_ENV))
    set_env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    success_codes: list[int] = Field(default_factory=lambda: [0])
    prompt_template: str | None = None

    def build(self, name: str, ctx: BuildContext) -> CommandAgent:
        cwd = ctx.path(self.cwd) if self.cwd else ctx.base_dir
        argv = command_line(self.command, ctx.base_dir, cwd)
        template = ctx.path(self.prompt_template).read_text() if self.prompt_template else None
        env = allowed_env([*self.env, *self.secrets], ctx.environ, self.set_env)
        return CommandAgent(name, self, argv, env, cwd, template)


class CommandAgent:
    def __init__(
        self,
        name: str,
        config: CommandAgentConfig,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        template: str | None,
    ) -> None:
        self.name = name
        self.config = config
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.template = template

    async def run(self, task: Task) -> AgentResult | AwaitHuman:
        c = self.config
        cwd = task.workdir if (task.workdir and not c.cwd) else self.cwd
        prompt = render_task(task, self.template)
        with tempfile.TemporaryDirectory(prefix="baton-") as scratch:
            task_file = Path(scratch) / "task.json"
            task_file.write_text(json.dumps(task.to_dict(), ensure_ascii=False))
            prompt_file = Path(scratch) / "prompt.txt"
            output_file = Path(cwd) / c.output_file
            values = {
                "prompt": prompt,
                "prompt_file": str(prompt_file),
                "output_file": str(output_file),
            }
            argv = [_fill(a, values) for a in self.argv]
            if c.prompt_via == "arg" and not any("{prompt}" in a for a in self.argv):
                argv.append(prompt)
            if c.prompt_via == "file":
                prompt_file.write_text(prompt)
                if not any("{prompt_file}" in a for a in self.argv):
                    argv.append(str(prompt_file))
            env = dict(self.env)
            env.update(
                BATON_ITEM_ID=task.item_id,
                BATON_ATTEMPT=str(task.attempt),
                BATON_TASK_FILE=str(task_file),
                BATON_OUTPUT_FILE=str(output_file),
            )
            if task.workdir:
                env["BATON_WORKDIR"] = str(task.workdir)
            started = time.perf_counter()
            done = await run_process(
                argv,
                cwd=Path(cwd),
                env=env,
                stdin=prompt if c.prompt_via == "stdin" else "",
                timeout=c.timeout,
            )
            seconds = time.perf_counter() - started
        if done.timed_out:
            raise AgentError(
                f"{argv[0]} timed out after {c.timeout:g}s and was killed\n{done.tail()}"
            )
        if done.code not in c.success_codes:
            raise AgentError(f"{argv[0]} exited with code {done.code}\n{done.tail()}")
        if c.output_from == "file":
            try:
                text = output_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise AgentError(f"{argv[0]} wrote no output file {output_file}: {exc}") from None
        else:
            text = done.stdout
        data = _json_or_none(text) if c.parse_json else None
        return AgentResult(text=text, data=data, exit_code=done.code, usage=Usage(seconds=seconds))


def _fill(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def _json_or_none(text: str) -> object:
    try:
        return extract_json(text)
    except ValueError:
        return None
