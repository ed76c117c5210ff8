"""Running a child process for agents and verifiers: scrubbed environment, timeout, and the
whole process tree killed when time runs out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.text import clip

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
    """Run to completion or kill its whole process group at `timeout`.

    Output read before a timeout is kept. After the kill, a process that left the group
    and still holds the pipes open is not waited for longer than DRAIN_SECONDS.
    """
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
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    readers = [
        asyncio.ensure_future(_drain(proc.stdout, out)),
        asyncio.ensure_future(_drain(proc.stderr, err)),
        asyncio.ensure_future(_feed(proc, stdin.encode())),
    ]
    finish = asyncio.ensure_future(_finish(proc, readers))
    try:
        done, _ = await asyncio.wait({finish}, timeout=timeout)
    except asyncio.CancelledError:
        _kill_group(proc)
        for task in (finish, *readers):
            task.cancel()
        raise
    if not done:
        _kill_group(proc)
        _, pending = await asyncio.wait(readers, timeout=DRAIN_SECONDS)
        for task in (finish, *pending):
            task.cancel()
        if pending:
            # something outside the group still holds the pipes: stop listening to them
            proc._transport.close()  # type: ignore[attr-defined]  # asyncio has no public way
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), DRAIN_SECONDS)
        return Finished(None, _text(out), _text(err), True)
    finish.result()
    return Finished(proc.returncode, _text(out), _text(err), False)


DRAIN_SECONDS = 2.0


async def _finish(
    proc: asyncio.subprocess.Process, readers: Sequence[asyncio.Future[None]]
) -> None:
    await asyncio.gather(*readers)
    await proc.wait()


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    # a child that exits without reading its input is not an error
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            proc.stdin.write(data)
            await proc.stdin.drain()
        proc.stdin.close()


async def _drain(stream: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await stream.read(65536):
        into += chunk


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    signal_group(proc.pid, signal.SIGKILL)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group that `pid` leads (a child started in a session of
    its own), if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _text(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", errors="replace")
