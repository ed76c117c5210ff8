"""Presets end to end: a real playbook naming a preset runs through `baton run` on a git
repository, with a stand-in for the CLI (a small Python script of the same name, first on
PATH) that records how it was started and edits a file in its working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baton.agents.command import preset_fields, presets
from tests.conftest import Baton

# records argv, cwd, environment and stdin, reads any file named in argv (the prompt file),
# then does the work: an edit in its working directory, a summary on stdout
STAND_IN = """\
#!{python}
import json, os, pathlib, sys
stdin = sys.stdin.read()
files = {{a: pathlib.Path(a).read_text() for a in sys.argv[1:] if os.path.isfile(a)}}
record = {{"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "stdin": stdin,
          "files": files}}
pathlib.Path({record!r}).write_text(json.dumps(record))
pathlib.Path("greet.py").write_text("def greet(name):\\n    return f'hello, {{name}}'\\n")
print("greet.py now says hello")
"""

GREET = "def greet(name):\n    return 'hi'\n"

SECRET_VALUE = "sk-test-0123456789abcdef"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def project(folder: Path, name: str, secret: str) -> Path:
    repo = folder / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    (repo / "greet.py").write_text(GREET)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "greet")
    (folder / "playbook.yaml").write_text(
        f"""\
name: presets
agents:
  coder:
    kind: command
    preset: {name}
    secrets: [{secret}]
    timeout: 60
workspace:
  repo: repo
  paths: ["greet.py"]
budget:
  attempts: 1
"""
    )
    (folder / "items.jsonl").write_text(
        json.dumps({"id": "greet", "objective": "make greet() say hello to the name"}) + "\n"
    )
    return repo


@pytest.mark.parametrize("name", ["claude-code", "codex", "aider", "gemini", "openhands"])
def test_a_preset_runs_the_cli_in_the_worktree_with_only_its_variables(
    tmp_path: Path, baton: Baton, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    preset = preset_fields(name)
    secret = presets()[name]["secret"]
    program = preset["command"][0]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record_file = tmp_path / "record.json"
    stand_in = bindir / program
    stand_in.write_text(STAND_IN.format(python=sys.executable, record=str(record_file)))
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv(secret, SECRET_VALUE)
    monkeypatch.setenv("UNLISTED_SETTING", "must not leak")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repo = project(tmp_path, name, secret)
    head = git(repo, "rev-parse", "HEAD")

    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr

    got = json.loads(record_file.read_text())
    # argv: the preset's, with the prompt (the rendered task) where the preset puts it
    argv = got["argv"]
    assert Path(argv[0]).name == program
    assert len(argv) == len(preset["command"])
    prompt = None
    for given, template in zip(argv[1:], preset["command"][1:], strict=True):
        if "{prompt}" in template:
            before, after = template.split("{prompt}")
            assert given.startswith(before) and given.endswith(after)
            prompt = given[len(before) : len(given) - len(after)]
        elif template == "{prompt_file}":
            prompt = got["files"][given]
            assert Path(given).name == "prompt.txt"
        else:
            assert given == template
    assert prompt is not None and prompt.startswith("Objective:\nmake greet() say hello")
    assert got["stdin"] == ""  # the prompt went where the preset says, not on stdin too

    # it ran in the attempt's own worktree, not in the repository
    cwd = Path(got["cwd"])
    assert ".baton/worktrees/greet/" in cwd.as_posix()
    assert got["env"]["BATON_WORKDIR"] == got["cwd"]

    # only the preset's variables, the secret named in the playbook and baton's own
    env = got["env"]
    env.pop("LC_CTYPE", None)  # the interpreter may set it for itself
    assert env.pop(secret) == SECRET_VALUE
    assert "UNLISTED_SETTING" not in env
    baton_vars = {"BATON_ITEM_ID", "BATON_ATTEMPT", "BATON_TASK_FILE", "BATON_OUTPUT_FILE"}
    assert baton_vars | {"BATON_WORKDIR"} <= set(env)
    assert set(env) - baton_vars - {"BATON_WORKDIR"} <= set(preset["env"])
    assert env["PATH"].startswith(str(bindir)) and env["HOME"] == str(tmp_path / "home")
    assert env["BATON_ITEM_ID"] == "greet" and env["BATON_ATTEMPT"] == "1"

    # the output and the change were recorded; the secret was not
    shown = baton("show", "greet", "--json", check=True).stdout
    assert SECRET_VALUE not in shown
    log = json.loads(shown)
    finished = [e["data"] for e in log if e["kind"] == "attempt.finished"]
    assert len(finished) == 1
    output = finished[0]["output"]
    assert output["text"] == "greet.py now says hello\n"
    change = output["change"]
    assert change["base"] == head and [f["path"] for f in change["files"]] == ["greet.py"]
    assert "+    return f'hello, {name}'" in change["diff"]
    assert (repo / "greet.py").read_text() == GREET, "the user's checkout is untouched"
