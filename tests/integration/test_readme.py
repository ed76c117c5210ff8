"""The README, walked as a newcomer walks it: every command of its Quick start, Examples,
Code work, control-plane and retention sections, in order, in a fresh folder, with the
real installed `baton` command. A command's comment may say what it prints (`prints: TEXT`) and its exit
code (`exit N`, else 0); a README edit that breaks the walk breaks this test."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTIONS = (
    "## Quick start",
    "## Examples",
    "## Code work",
    "## The control plane",
    "## Retention",
)
PORT = "8765"  # the README's; the walk serves on a free one instead


@dataclass(frozen=True)
class Step:
    section: str
    command: str
    exit: int = 0
    prints: str = ""


def steps() -> list[Step]:
    text = README.read_text(encoding="utf-8")
    found: list[Step] = []
    for heading in SECTIONS:
        start = text.index("\n" + heading)
        end = text.find("\n## ", start + 1)
        section = text[start : end if end != -1 else None]
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
            for line in block.splitlines():
                command, _, comment = line.partition("  #")
                if not command.strip():
                    continue
                code = re.search(r"\bexit (\d+)", comment)
                prints = re.search(r"prints: (.*)$", comment)
                found.append(
                    Step(
                        heading,
                        command.strip(),
                        int(code.group(1)) if code else 0,
                        prints.group(1).strip() if prints else "",
                    )
                )
    return found


def test_the_readme_has_a_walk() -> None:
    walk = steps()
    assert {s.section for s in walk} == set(SECTIONS)
    assert len(walk) >= 20


def test_the_quick_start_shows_the_playbook_baton_init_writes() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Quick start")
    shown = re.search(r"```yaml\n(.*?)```", text[start:], re.DOTALL)
    assert shown is not None
    template = ROOT / "src" / "baton" / "templates" / "basic" / "playbook.yaml"
    assert shown.group(1) == template.read_text(encoding="utf-8")


@pytest.mark.timeout(900)
def test_the_readme_walk_works_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["COLUMNS"] = "200"
    assert shutil.which("baton", path=env["PATH"]), "the installed command"
    cwd = tmp_path
    background: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for n, step in enumerate(steps()):
            command = step.command.replace(PORT, port)
            prints = step.prints.replace(PORT, port)
            where = f"README {step.section}, step {n}: {step.command}"
            if command.startswith("cd "):
                cwd = (cwd / command[3:].strip()).resolve()
                continue
            if command.startswith("kill %"):
                proc, _ = background.pop()
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
                continue
            if command.endswith("&"):
                log = tmp_path / f"background-{n}.log"
                with log.open("wb") as out:
                    proc = subprocess.Popen(
                        ["bash", "-c", command.removesuffix("&").strip()],
                        cwd=cwd,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                background.append((proc, log))
                deadline = time.monotonic() + 60
                while prints and prints not in log.read_text(errors="replace"):
                    assert proc.poll() is None, f"{where} exited:\n{log.read_text()}"
                    assert time.monotonic() < deadline, f"{where}: no {prints!r}"
                    time.sleep(0.2)
                continue
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            said = done.stdout + done.stderr
            assert done.returncode == step.exit, f"{where} exited {done.returncode}:\n{said}"
            assert prints in said, f"{where} does not print {prints!r}:\n{said}"
    finally:
        for proc, _ in background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
