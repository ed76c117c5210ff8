"""Code work on real git repositories: each attempt in its own worktree, the change as a diff,
verified by the project's tests in the worktree, refined with the failures, applied once
accepted; bad repositories, bases and conflicts are clear errors that change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import repos
from tests.conftest import Baton
from tests.repos import git

CALC = """\
def average(values):
    return sum(values) / (len(values) + 1)
"""

TEST_CALC = """\
from calc import average


def test_average():
    assert average([2, 4, 6]) == 4


def test_single():
    assert average([5]) == 5
"""

# a coding agent that gets it wrong first, then fixes it with the failing test in its feedback
FIXER = """\
import json, os, pathlib, subprocess
task = json.loads(pathlib.Path(os.environ["BATON_TASK_FILE"]).read_text())
feedback = " ".join(f["message"] for f in task["feedback"])
if not feedback:
    body = "def average(values):\\n    return sum(values) / max(len(values) - 1, 1)\\n"
else:
    assert "test_average" in feedback, feedback  # it was told which test failed
    body = "def average(values):\\n    return sum(values) / len(values)\\n"
pathlib.Path("calc.py").write_text(body)
if os.environ.get("COMMIT_ITSELF"):
    subprocess.run(["git", "commit", "-qam", "fix average"], check=True)
print("edited calc.py")
"""

OUTSIDER = """\
import pathlib
pathlib.Path("calc.py").write_text("def average(values):\\n    return sum(values) / len(values)\\n")
pathlib.Path("test_calc.py").write_text("def test_nothing():\\n    pass\\n")
print("made the tests pass my way")
"""

PLAYBOOK = """\
name: fix
agents:
  fixer:
    kind: command
    command: [{python}, "{{playbook_dir}}/{agent}"]
    timeout: 60
    env: [PATH, HOME, COMMIT_ITSELF]
verifiers:
  tests:
    kind: command
    command: [{python}, -m, pytest, -q, -p, no:cacheprovider]
    timeout: 120
workspace:
  repo: repo
  paths: ["calc.py"]
{extra}
budget:
  attempts: 3
"""


def make_repo(folder: Path) -> Path:
    return repos.make_repo(folder, {"calc.py": CALC, "test_calc.py": TEST_CALC}, "calc with a bug")


def project(folder: Path, agent: str = "fixer.py", extra: str = "") -> Path:
    repo = make_repo(folder)
    (folder / "fixer.py").write_text(FIXER)
    (folder / "outsider.py").write_text(OUTSIDER)
    book = PLAYBOOK.format(python=json.dumps(sys.executable), agent=agent, extra=extra)
    (folder / "playbook.yaml").write_text(book)
    (folder / "items.jsonl").write_text(
        json.dumps({"id": "fix-average", "objective": "make average() right"}) + "\n"
    )
    return repo


def events(baton: Baton, item: str) -> list[dict]:
    out = baton("show", item, "--json", check=True).stdout
    return list(json.loads(out))


def test_attempts_work_in_worktrees_are_refined_by_test_failures_and_applied(
    tmp_path: Path, baton: Baton
) -> None:
    repo = project(tmp_path)
    head = git(repo, "rev-parse", "HEAD")
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr

    log = events(baton, "fix-average")
    finished = [e for e in log if e["kind"] == "attempt.finished"]
    assert len(finished) == 2  # wrong first, right after the feedback
    first, second = (e["data"]["output"]["change"] for e in finished)
    assert first["base"] == second["base"] == head
    assert first["branch"] == "baton/fix-average/1" and second["branch"] == "baton/fix-average/2"
    assert [f["path"] for f in second["files"]] == ["calc.py"]
    assert "+    return sum(values) / len(values)" in second["diff"]
    checks = [e["data"] for e in log if e["kind"] == "check.recorded"]
    assert [c["passed"] for c in checks] == [False, True]
    assert "test_average" in checks[0]["evidence"]  # the failing part, as evidence
    feedback = next(e for e in log if e["kind"] == "feedback.created")["data"]["feedback"]
    assert "test_average" in feedback[0]["message"]
    started = [e["data"]["task"]["workdir"] for e in log if e["kind"] == "attempt.started"]
    assert len(set(started)) == 2 and all(".baton/worktrees/fix-average/" in w for w in started)

    # the user's checkout never moved; worktrees are gone; the accepted branch stays
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "calc.py").read_text() == CALC
    assert not any(Path(w).exists() for w in started)
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert git(repo, "branch", "--list", "baton/*").split() == ["baton/fix-average/2"]

    shown = baton("show", "fix-average", check=True).stdout
    assert "change of attempt 2" in shown and "return sum(values) / len(values)" in shown

    # a patch file, a branch, then the checkout itself; again: a conflict, nothing changed
    patch = baton("apply", "fix-average", "--patch", "fix.diff", check=True)
    assert "patch written to fix.diff" in patch.stdout
    assert (tmp_path / "fix.diff").read_text() == second["diff"]
    branch = baton("apply", "fix-average", "--branch", "fix/average", check=True)
    assert "branch fix/average" in branch.stdout
    assert "len(values)" in git(repo, "show", "fix/average:calc.py")
    applied = baton("apply", "fix-average", check=True)
    assert "applied to the working tree" in applied.stdout
    assert "return sum(values) / len(values)" in (repo / "calc.py").read_text()
    assert git(repo, "rev-parse", "HEAD") == head  # applied, not committed
    before = (repo / "calc.py").read_text()
    again = baton("apply", "fix-average")
    assert again.returncode == 1
    assert (
        "does not apply to the checkout" in again.stderr and "nothing was changed" in again.stderr
    )
    assert (repo / "calc.py").read_text() == before
    recorded = [e["data"] for e in events(baton, "fix-average") if e["kind"] == "change.applied"]
    assert [r["how"] for r in recorded] == ["patch", "branch", "checkout"]
    assert all(r["by"] == "human:tester" for r in recorded)
    assert baton("audit", "verify").returncode == 0


def test_a_change_outside_the_allowed_paths_fails_the_attempt(tmp_path: Path, baton: Baton) -> None:
    project(tmp_path, agent="outsider.py")
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 3
    log = events(baton, "fix-average")
    failed = [e["data"] for e in log if e["kind"] == "attempt.failed"]
    assert len(failed) == 3
    assert "outside the allowed paths (calc.py): test_calc.py" in failed[0]["error"]
    assert [f["path"] for f in failed[0]["change"]["files"]] == ["calc.py", "test_calc.py"]
    assert log[-1]["kind"] == "item.escalated"


def test_an_agent_that_commits_itself_and_on_accept_branch(tmp_path: Path, baton: Baton) -> None:
    repo = project(tmp_path, extra="  on_accept: branch")
    proc = subprocess.run(
        [sys.executable, "-m", "baton", "run", "playbook.yaml", "items.jsonl", "--no-live"],
        cwd=tmp_path,
        env={**_env(tmp_path), "COMMIT_ITSELF": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = events(baton, "fix-average")
    change = [e for e in log if e["kind"] == "attempt.finished"][-1]["data"]["output"]["change"]
    assert "len(values)" in change["diff"]  # committed by the agent, still the attempt's change
    assert log[-1]["kind"] == "change.applied" and log[-1]["data"]["how"] == "branch"
    assert "len(values)" in git(repo, "show", "baton/accepted/fix-average:calc.py")
    assert git(repo, "status", "--porcelain") == ""


def _env(folder: Path) -> dict[str, str]:
    from tests.conftest import baton_env

    return baton_env(folder)


@pytest.mark.parametrize(
    ("workspace", "expected"),
    [
        ("  repo: not-a-repo", "workspace.repo: {path}/not-a-repo is not a git repository"),
        ("  repo: missing", "workspace.repo: {path}/missing: no such folder"),
        ("  repo: repo\n  base: nope", "workspace.base: base 'nope' is not a commit in"),
        ("  repo: repo\n  copy: .", "workspace: Value error, name either copy"),
    ],
)
def test_bad_repositories_and_bases_are_refused_at_load(
    tmp_path: Path, baton: Baton, workspace: str, expected: str
) -> None:
    make_repo(tmp_path)
    (tmp_path / "not-a-repo").mkdir()
    book = textwrap.dedent(
        """\
        name: fix
        agents:
          a: {kind: command, command: [true]}
        workspace:
        """
    )
    (tmp_path / "playbook.yaml").write_text(book + workspace + "\n")
    out = baton("validate", "playbook.yaml")
    assert out.returncode == 2
    assert expected.format(path=tmp_path).replace("Value error, ", "") in out.stderr
    assert "playbook.yaml:" in out.stderr


def test_a_dirty_checkout_is_refused_as_a_base_and_nothing_runs(
    tmp_path: Path, baton: Baton
) -> None:
    repo = project(tmp_path)
    (repo / "calc.py").write_text(CALC + "# work in progress\n")
    out = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert out.returncode == 2
    assert "has uncommitted changes (calc.py): commit or stash them" in out.stderr
    assert not (tmp_path / ".baton").exists()
    assert (repo / "calc.py").read_text() == CALC + "# work in progress\n"


RIGHT = """\
import pathlib, time
time.sleep(0.3)  # slower than the fixer: the race is won on the gates, not on speed
pathlib.Path("calc.py").write_text("def average(values):\\n    return sum(values) / len(values)\\n")
print("fixed average")
"""


def test_best_of_n_runs_attempts_in_parallel_worktrees_and_the_first_to_pass_wins(
    tmp_path: Path, baton: Baton
) -> None:
    repo = project(tmp_path)
    (tmp_path / "right.py").write_text(RIGHT)
    book = (tmp_path / "playbook.yaml").read_text()
    book = book.replace(
        "verifiers:",
        "  right:\n    kind: command\n"
        f'    command: [{json.dumps(sys.executable)}, "{{playbook_dir}}/right.py"]\n'
        "fanout:\n  agents: [fixer, right]\nverifiers:",
    )
    (tmp_path / "playbook.yaml").write_text(book)
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr
    log = events(baton, "fix-average")
    started = [e["data"] for e in log if e["kind"] == "attempt.started"]
    assert [(s["attempt"], s["agent"], s["round"]) for s in started] == [
        (1, "fixer", 1),
        (2, "right", 1),
    ]
    assert started[0]["task"]["workdir"] != started[1]["task"]["workdir"]
    checks = {
        e["data"]["attempt"]: e["data"]["passed"] for e in log if e["kind"] == "check.recorded"
    }
    assert checks == {1: False, 2: True}
    assert log[-1]["kind"] == "item.accepted" and log[-1]["data"]["agent"] == "right"
    assert git(repo, "branch", "--list", "baton/*").split() == ["baton/fix-average/2"]
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert git(repo, "status", "--porcelain") == ""


def test_keep_worktrees_leaves_every_attempts_worktree_for_debugging(
    tmp_path: Path, baton: Baton
) -> None:
    repo = project(tmp_path)
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live", "--keep-worktrees")
    assert run.returncode == 0, run.stdout + run.stderr
    kept = sorted(p.name for p in (tmp_path / ".baton/worktrees/fix-average").iterdir())
    assert kept == ["1", "2"]
    assert len(git(repo, "worktree", "list").splitlines()) == 3
    assert "len(values)" in (tmp_path / ".baton/worktrees/fix-average/2/calc.py").read_text()
