"""The on-device model edits files: a real git repository, the packaged SmolLM2-135M with
`edits: {mode: files}`, the project's tests as the check, through `baton run`.

The 135M model is far too small to be relied on to fix the bug, so this asserts the
machinery, not the fix: each attempt either finished with a recorded change inside the
allowed paths (and the tests ran on it) or failed with a clear reason, the item reached an
outcome, and the user's checkout was never touched. The allowed paths are every .py file
so that the small model's edits (it likes to rewrite the test too) get recorded and checked,
not only refused."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from baton.system.worktrees import allowed
from tests import repos
from tests.conftest import Baton
from tests.repos import git

if os.environ.get("CI") != "true":
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (baton[llama])")

CALC = "def add(a, b):\n    return a - b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"

PLAYBOOK = """\
name: edit
agents:
  coder:
    kind: llama
    structured: true
    max_tokens: 256
    n_ctx: 2048
    threads: 1   # llama.cpp's threads spin: on a busy 2-core machine, one is fastest
    seed: 2
    edits:
      mode: files
      context: ["calc.py", "test_calc.py"]
verifiers:
  tests:
    kind: command
    command: [{python}, -m, pytest, -q, -p, no:cacheprovider]
    timeout: 60
workspace:
  repo: repo
  paths: ["*.py"]
budget:
  attempts: 2
"""

# every way an attempt of an editing model may fail, each saying why
CLEAR_REASONS = re.compile(
    r"^(the model's answer is not the files to write: .+"
    r"|the model may not write .+: .+"
    r"|the model's answer writes .+ twice"
    r"|change refused: .+"
    r"|model \S+ gave an empty answer .+)",
    re.DOTALL,
)


def make_repo(folder: Path) -> Path:
    return repos.make_repo(folder, {"calc.py": CALC, "test_calc.py": TEST_CALC}, "add() subtracts")


@pytest.mark.slow
def test_the_on_device_model_edits_files_in_its_worktree(tmp_path: Path, baton: Baton) -> None:
    repo = make_repo(tmp_path)
    head = git(repo, "rev-parse", "HEAD")
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK.format(python=json.dumps(sys.executable)))
    item = {"id": "fix-add", "objective": "Fix add() in calc.py: it must return a + b."}
    (tmp_path / "items.jsonl").write_text(json.dumps(item) + "\n")

    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live", timeout=240)
    assert run.returncode in (0, 3), run.stdout + run.stderr  # accepted, or escalated

    log = json.loads(baton("show", "fix-add", "--json", check=True).stdout)
    started = [e["data"] for e in log if e["kind"] == "attempt.started"]
    ended = [e for e in log if e["kind"] in ("attempt.finished", "attempt.failed")]
    assert 1 <= len(started) <= 2 and len(ended) == len(started)
    checked = {e["data"]["attempt"] for e in log if e["kind"] == "check.recorded"}
    for event in ended:
        data = event["data"]
        assert data["usage"]["prompt_tokens"] > 100, "the model was asked, with the files"
        if event["kind"] == "attempt.finished":
            output = data["output"]
            change = output["change"]
            changed = sorted(f["path"] for f in change["files"])
            assert change["base"] == head and changed, output
            assert all(allowed(path, ("*.py",)) for path in changed), changed
            assert output["text"].startswith("wrote "), output["text"]
            assert sorted(output["files"]) == changed, "what it wrote is the recorded change"
            assert data["attempt"] in checked, "the tests ran on the change"
        else:
            assert CLEAR_REASONS.match(data["error"]), data["error"]
    if len(started) == 2:  # the second attempt was told what went wrong with the first
        assert started[1]["task"]["feedback"], started[1]
    assert log[-1]["kind"] in ("item.accepted", "item.escalated"), log[-1]

    # the user's checkout never moved
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "calc.py").read_text() == CALC
