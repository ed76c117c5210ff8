"""Shared fixtures: running the real `baton` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Baton = Callable[..., subprocess.CompletedProcess[str]]


def baton_env(cwd: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["BATON_STORE"] = str(cwd / ".baton" / "baton.db")
    env["BATON_USER"] = "tester"
    env["COLUMNS"] = "200"
    env.pop("BATON_LOG", None)
    return env


@pytest.fixture
def baton(tmp_path: Path) -> Baton:
    """Run `python -m baton ARGS` in tmp_path; returns the completed process."""

    def run(
        *args: str, check: bool = False, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "baton", *args],
            cwd=tmp_path,
            env=baton_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"baton {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run


def spawn_baton(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """Start `baton ARGS` in the background (its own process group, so it can be killed whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "baton", *args],
        cwd=cwd,
        env=baton_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
