"""Running git for code work: one async call that raises GitError with git's own message,
and a synchronous probe for validating a playbook or an item when it is loaded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import RuntimeFailure
from .processes import run_process

TIMEOUT = 120.0
# what git needs and nothing of the user's environment beyond it; commits made by baton
# carry baton's identity, whatever the user's configuration says
_ENV_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
_IDENTITY = {
    "GIT_AUTHOR_NAME": "baton",
    "GIT_AUTHOR_EMAIL": "baton@localhost",
    "GIT_COMMITTER_NAME": "baton",
    "GIT_COMMITTER_EMAIL": "baton@localhost",
    "GIT_TERMINAL_PROMPT": "0",
}


class GitError(RuntimeFailure):
    """A git command failed; the message is git's own, with the command."""


def _env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _ENV_NAMES if k in os.environ}
    env.update(_IDENTITY)
    return env


async def git(*args: str, cwd: Path, stdin: str = "", check: bool = True) -> str:
    """Run `git ARGS` in `cwd`; its stdout. A non-zero exit raises GitError (with check)."""
    done = await run_process(["git", *args], cwd=cwd, env=_env(), stdin=stdin, timeout=TIMEOUT)
    if done.timed_out:
        raise GitError(f"git {args[0]} timed out after {TIMEOUT:g}s in {cwd}")
    if done.code is None:
        raise GitError(f"git could not be started: {done.tail()}")
    if check and done.code != 0:
        raise GitError(f"git {' '.join(args[:2])} failed in {cwd}: {done.tail()}")
    return done.stdout


def probe(*args: str, cwd: Path) -> tuple[int, str]:
    """A quick synchronous git query (exit code, output) for validating input at load time."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        return 127, "git is not installed (not on PATH)"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    if done.returncode != 0:
        return done.returncode, done.stderr.strip()
    return 0, done.stdout.rstrip("\n")  # leading spaces mean something in `status`
