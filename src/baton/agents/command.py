"""Any executable as the agent: the prompt goes in on stdin, an argument or a file; the
output comes from stdout or a file. CLI coding agents (claude -p, codex exec, aider
--message, llm) plug in through this by configuration, or by naming a ready-made preset
(presets.yaml, shipped with baton); a field the playbook gives overrides the preset's."""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from ..config.plugin import AgentConfig, BuildContext
from ..config.prompts import render_task
from ..core.records import AgentResult, Assignment, AwaitHuman, Usage
from ..core.text import extract_json
from ..errors import AgentError
from ..system.processes import Finished, allowed_env, command_line, run_process

DEFAULT_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER"]

# one pass over each argument, so a prompt that happens to contain "{output_file}" stays as is
_PLACEHOLDER = re.compile(r"\{(prompt|prompt_file|output_file)\}")

# keys of a preset that document it and are not configuration
PRESET_NOTES = frozenset({"docs", "secret"})


@cache
def presets() -> dict[str, dict[str, Any]]:
    """The ready-made configurations by name, as presets.yaml (shipped with baton) gives them."""
    text = resources.files("baton.agents").joinpath("presets.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text))


def preset_fields(name: str) -> dict[str, Any]:
    """A preset's configuration fields (its notes left out); KeyError if there is none."""
    return {k: v for k, v in presets()[name].items() if k not in PRESET_NOTES}


class CommandAgentConfig(AgentConfig):
    kind: Literal["command"] = "command"
    preset: str | None = Field(
        None, description="a ready-made configuration (claude-code, codex, ...); fields given win"
    )
    command: str | list[str] = Field(description="argv, or a string split like a shell does")
    prompt_via: Literal["stdin", "arg", "file"] = "stdin"
    output_from: Literal["stdout", "file"] = "stdout"
    output_file: str = Field("output.txt", description="relative to the working directory")
    parse_json: bool = False
    timeout: float = Field(600.0, gt=0)
    env: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENV), description="variables passed through"
    )
    set_env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = Field(None, description="default: the attempt's workdir, else the playbook's")
    success_codes: list[int] = Field(default_factory=lambda: [0])
    prompt_template: str | None = Field(None, description="template file (playbook-relative)")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """The preset's fields under the ones given (a field given replaces the preset's)."""
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        name = data["preset"]
        if not isinstance(name, str) or name not in presets():
            # the preset field itself is the error; a command it would have given is not
            # reported missing as well
            return {"command": [], **data}
        return {**preset_fields(name), **data}

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str | None) -> str | None:
        if name is not None and name not in presets():
            raise ValueError(f"unknown preset {name!r} (known: {', '.join(sorted(presets()))})")
        return name

    def build(self, name: str, ctx: BuildContext) -> CommandAgent:
        cwd = ctx.path(self.cwd) if self.cwd else ctx.base_dir
        if not cwd.is_dir():
            raise ValueError(f"cwd {cwd} is not a directory")
        try:
            argv = command_line(self.command, ctx.base_dir, cwd)
        except ValueError as exc:
            if self.preset and str(exc).startswith("command not found"):
                docs = presets()[self.preset].get("docs", "its documentation")
                raise ValueError(f"{exc}; preset {self.preset} needs it: {docs}") from None
            raise
        if os.sep in argv[0] and not Path(argv[0]).is_absolute():
            # checked relative to cwd above; an attempt may run in its own workdir
            argv[0] = str(cwd / argv[0])
        template = ctx.template(self.prompt_template)
        env = allowed_env([*self.env, *self.secrets], ctx.environ, self.set_env)
        return CommandAgent(name, self, argv, env, cwd, template)


class CommandAgent:
    """Runs the command once per attempt; a bad exit or a timeout is an AgentError."""

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
        self.names_output_file = any("{output_file}" in a for a in argv)
        # attempts that share a directory and a fixed output file take turns with it
        self._shared_output = asyncio.Lock()

    async def run(self, assignment: Assignment) -> AgentResult | AwaitHuman:
        c = self.config
        own_dir = bool(assignment.workdir and not c.cwd)
        if c.output_from == "file" and not own_dir and not self.names_output_file:
            async with self._shared_output:
                return await self._run(assignment, own_dir)
        return await self._run(assignment, own_dir)

    async def _run(self, assignment: Assignment, own_dir: bool) -> AgentResult:
        c = self.config
        cwd = assignment.workdir if own_dir and assignment.workdir else self.cwd
        prompt = render_task(assignment, self.template)
        with tempfile.TemporaryDirectory(prefix="baton-") as scratch:
            # a command told where to write ({output_file}) writes into this attempt's own
            # scratch folder unless the attempt has a workdir of its own
            output_file = (
                Path(scratch) / Path(c.output_file).name
                if self.names_output_file and not own_dir
                else Path(cwd) / c.output_file
            )
            task_file = Path(scratch) / "task.json"
            task_file.write_text(
                json.dumps(assignment.to_dict(), ensure_ascii=False), encoding="utf-8"
            )
            prompt_file = Path(scratch) / "prompt.txt"
            values = {
                "prompt": prompt,
                "prompt_file": str(prompt_file),
                "output_file": str(output_file),
            }
            argv = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], a) for a in self.argv]
            if c.prompt_via == "arg" and not any("{prompt}" in a for a in self.argv):
                argv.append(prompt)
            if c.prompt_via == "file":
                prompt_file.write_text(prompt, encoding="utf-8")
                if not any("{prompt_file}" in a for a in self.argv):
                    argv.append(str(prompt_file))
            if c.output_from == "file":
                # a file left by an earlier attempt must not pass for this attempt's output
                output_file.unlink(missing_ok=True)
            env = dict(self.env)
            env.update(
                BATON_ITEM_ID=assignment.item_id,
                BATON_ATTEMPT=str(assignment.attempt),
                BATON_TASK_FILE=str(task_file),
                BATON_OUTPUT_FILE=str(output_file),
            )
            if assignment.workdir:
                env["BATON_WORKDIR"] = str(assignment.workdir)
            started = time.perf_counter()
            done = await run_process(
                argv,
                cwd=Path(cwd),
                env=env,
                stdin=prompt if c.prompt_via == "stdin" else "",
                timeout=c.timeout,
            )
            seconds = time.perf_counter() - started
            program = Path(argv[0]).name
            text = self._output(program, done, output_file)
        data = _json_or_none(text) if c.parse_json else None
        return AgentResult(text=text, data=data, exit_code=done.code, usage=Usage(seconds=seconds))

    def _output(self, program: str, done: Finished, output_file: Path) -> str:
        c = self.config
        if done.timed_out:
            raise AgentError(
                f"{program} timed out after {c.timeout:g}s and was killed\n{done.tail()}"
            )
        if done.code is None:
            raise AgentError(f"{program} did not start: {done.tail()}")
        if done.code not in c.success_codes:
            raise AgentError(f"{program} exited with code {done.code}\n{done.tail()}")
        if c.output_from == "stdout":
            return done.stdout
        try:
            return output_file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise AgentError(
                f"{program} exited with code {done.code} but wrote no output file "
                f"{output_file}: {exc.strerror or exc}"
            ) from None


def _json_or_none(text: str) -> object:
    # output that is not JSON stays text: the verifiers judge it
    try:
        return extract_json(text)
    except ValueError:
        return None
