"""Running a child process for agents and verifiers: scrubbed environment, timeout, and the
whole process tree killed when time runs out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ._util import clip

OUTPUT_LIMIT = 20_000


@dataclass(frozen=True)
class Finished:
    code: int | None
    stdout: str
    stderr: str
    timed_out: bool

    def tail(self, limit: int = 4000) -> str:
        text = self.stderr.strip() or self.stdout.strip()
        return clip(text, limit) if text else "(no output)"


def command_line(
    command: str | list[str], base_dir: Path, cwd: Path, *, shell: bool = False
) -> list[str]:
    """argv from a playbook's command ({playbook_dir} filled in); ValueError if unusable."""
    if shell:
        text = command if isinstance(command, str) else shlex.join(command)
        argv = ["/bin/sh", "-c", text]
    else:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv or not argv[-1].strip():
        raise ValueError("command is empty")
    argv = [a.replace("{playbook_dir}", str(base_dir)) for a in argv]
    if not shell:
        find_executable(argv[0], cwd)
    return argv


def allowed_env(
    names: list[str], environ: Mapping[str, str], fixed: Mapping[str, str]
) -> dict[str, str]:
    """The environment a child gets: only the named variables, plus fixed values."""
    env = {k: environ[k] for k in names if k in environ}
    env.update(fixed)
    return env


def find_executable(name: str, cwd: Path) -> str:
    """The executable's path; ValueError naming it when it cannot be found."""
    if os.sep in name:
        path = Path(name) if Path(name).is_absolute() else cwd / name
        if path.exists():
            return str(path)
        raise ValueError(f"command not found: {name} (no such file in {cwd})")
    found = shutil.which(name)
    if found is None:
        raise ValueError(f"command not found: {name} (not on PATH)")
    return found


async def run_process(
    argv: list[str], *, cwd: Path, env: dict[str, str], stdin: str, timeout: float
) -> Finished:
    """Run to completion or kill its whole process group at `timeout`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return Finished(None, "", f"could not start {argv[0]}: {exc}", False)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = await proc.communicate()
        return Finished(None, _text(out), _text(err), True)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return Finished(proc.returncode, _text(out), _text(err), False)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
