"""The command starts fast: `baton --version` and `baton --help` import no command's module
and none of the heavy libraries, `baton status` only what reading a store needs. Checked by
what the real command imports (a subprocess), never by timings: bench/cli_start.py measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from baton.cli import COMMANDS
from tests.conftest import baton_env
from tests.integration.test_cli import write_project

# `python -m baton ARGS`, then the names of every module it imported, to the file argv[1]
# (at exit: after the command's own sys.exit)
RUN = (
    "import atexit, json, runpy, sys; out = sys.argv[1]; "
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules)))); "
    "sys.argv = ['baton', *sys.argv[2:]]; runpy.run_module('baton', run_name='__main__')"
)

HEAVY = [
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic_core",
    "llama_cpp",
    "httpx",
    "openai",
    "yaml",
    "jinja2",
    "jsonschema",
    "redis",
    "prometheus_client",
    "pygments",
]
"""Libraries no start-up should pay for (a command that needs one imports it itself)."""


def imported(
    folder: Path, *args: str, code: int = 0
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the real command in `folder`; what it printed, and every module it imported."""
    modules = folder / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(modules), *args],
        cwd=folder,
        env=baton_env(folder),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == code, proc.stderr
    return proc, set(json.loads(modules.read_text()))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["--help"], 0), ([], 2)])
def test_version_and_help_import_no_command_and_no_heavy_library(
    tmp_path: Path, args: list[str], code: int
) -> None:
    _, modules = imported(tmp_path, *args, code=code)
    assert heavy(modules) == []
    ours = sorted(m for m in modules if m.startswith("baton."))
    assert ours == ["baton.cli", "baton.cli.app", "baton.cli.settings", "baton.errors"]
    for library in ("rich", "asyncio", "sqlite3", "importlib.metadata", "logging"):
        assert library not in modules


def test_help_lists_every_command_with_its_help(tmp_path: Path) -> None:
    proc, _ = imported(tmp_path, "--help")
    listed = proc.stdout.split("Commands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("  ")]
    assert names == sorted(COMMANDS)
    for name, entry in COMMANDS.items():
        first_words = " ".join(entry.help.split()[:2])
        assert f"  {name} " in listed and first_words in listed, name


def test_status_reads_the_store_without_the_engine_or_playbooks(tmp_path: Path) -> None:
    write_project(tmp_path)
    submitted = subprocess.run(
        [sys.executable, "-m", "baton", "submit", "playbook.yaml", "items.jsonl"],
        cwd=tmp_path,
        env=baton_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    proc, modules = imported(tmp_path, "status")
    assert "open items" in proc.stdout
    assert heavy(modules) == []
    for module in (
        "baton.runtime.engine",
        "baton.config.loading",
        "baton.config.plugin",
        "baton.agents",
        "baton.services.metrics",
        "baton.cli.run",
        "baton.cli.live",
        "baton.cli.people",
        "baton.store.redis",  # a SQLite store opens no other backend
        "baton.store.memory",  # nor the memory store (baton.store imports on first use)
    ):
        assert module not in modules


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    _, modules = imported(tmp_path, "config")
    commands = {f"baton.cli.{e.target.split(':')[0]}" for e in COMMANDS.values()}
    assert sorted(commands & modules) == ["baton.cli.inspect"]
