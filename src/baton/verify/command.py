"""Verify with a command: its exit code decides, its output is the evidence."""

from __future__ import annotations

import shlex
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..config.plugin import BuildContext, VerifierConfig
from ..core.records import Candidate, CheckResult
from ..core.text import clip
from ..system.processes import OUTPUT_LIMIT, allowed_env, command_line, run_process

DEFAULT_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV"]


class CommandVerifierConfig(VerifierConfig):
    kind: Literal["command"] = "command"
    command: str | list[str]
    shell: bool = False
    cwd: str | None = None
    timeout: float = Field(300.0, gt=0)
    env: list[str] = Field(default_factory=lambda: list(DEFAULT_ENV))
    set_env: dict[str, str] = Field(default_factory=dict)
    success_codes: list[int] = Field(default_factory=lambda: [0])

    def build(self, name: str, ctx: BuildContext) -> CommandVerifier:
        cwd = ctx.path(self.cwd) if self.cwd else None
        argv = command_line(self.command, ctx.base_dir, cwd or ctx.base_dir, shell=self.shell)
        env = allowed_env(self.env, ctx.environ, self.set_env)
        return CommandVerifier(name, argv, env, cwd, ctx.base_dir, self)

    def describe(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        command = self.command if isinstance(self.command, str) else shlex.join(self.command)
        return {
            "kind": self.kind,
            "description": self.description or f"`{command}` exits with {self.success_codes}",
        }


class CommandVerifier:
    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        cwd: Path | None,
        base: Path,
        config: CommandVerifierConfig,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.base = base
        self.config = config

    async def verify(self, candidate: Candidate) -> CheckResult:
        cwd = self.cwd or candidate.workdir or self.base
        with tempfile.TemporaryDirectory(prefix="baton-check-") as scratch:
            output_file = Path(scratch) / "output.txt"
            output_file.write_text(candidate.text, encoding="utf-8")
            values = {"{output_file}": str(output_file), "{workdir}": str(candidate.workdir or cwd)}
            argv = [_fill(a, values) for a in self.argv]
            env = dict(
                self.env,
                BATON_OUTPUT_FILE=str(output_file),
                BATON_ITEM_ID=candidate.item_id,
                BATON_ATTEMPT=str(candidate.attempt),
            )
            if candidate.workdir:
                env["BATON_WORKDIR"] = str(candidate.workdir)
            started = time.perf_counter()
            done = await run_process(
                argv, cwd=Path(cwd), env=env, stdin=candidate.text, timeout=self.config.timeout
            )
            seconds = time.perf_counter() - started
        output = clip((done.stdout + done.stderr).strip(), OUTPUT_LIMIT) or "(no output)"
        line = shlex.join(argv)
        if done.timed_out:
            return CheckResult(
                False, f"$ {line}\ntimed out after {self.config.timeout:g}s (killed)\n{output}"
            )
        passed = done.code in self.config.success_codes
        return CheckResult(passed, f"$ {line}\nexit code {done.code} in {seconds:.2f}s\n{output}")


def _fill(arg: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        arg = arg.replace(key, value)
    return arg
