"""Every example under examples/ runs offline, end to end, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Baton

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def outcomes(baton: Baton) -> dict[str, str]:
    status = json.loads(baton("status", "--all", "--json", check=True).stdout)
    return {row["item_id"]: row["status"] for row in status["items"]}


def test_cleanup(baton: Baton) -> None:
    run = baton(
        "run",
        str(EXAMPLES / "cleanup/playbook.yaml"),
        str(EXAMPLES / "cleanup/items.jsonl"),
        "--no-live",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(outcomes(baton).values()) == {"accepted"}
    assert "ACCEPTED (attempt 2 by thorough)" in baton("show", "contact-2", check=True).stdout
    figures = json.loads(baton("metrics", "--json", check=True).stdout)
    assert (figures["items"]["accepted"], figures["first_pass_yield"]) == (4, 0.5)


def test_script_fix(tmp_path: Path, baton: Baton) -> None:
    run = baton(
        "run",
        str(EXAMPLES / "script-fix/playbook.yaml"),
        str(EXAMPLES / "script-fix/items.jsonl"),
        "--no-live",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    workspace = tmp_path / ".baton/work/fix-wordcount/1"
    assert "def count_words(" in (workspace / "wordcount.py").read_text()
    assert "def count(" in (EXAMPLES / "script-fix/project/wordcount.py").read_text(), (
        "the original is untouched"
    )
    assert "Ran 2 tests" in baton("show", "fix-wordcount", check=True).stdout


def test_approval(baton: Baton) -> None:
    run = baton(
        "run",
        str(EXAMPLES / "approval/playbook.yaml"),
        str(EXAMPLES / "approval/items.yaml"),
        "--no-live",
        "--no-wait",
    )
    assert run.returncode == 3
    assert outcomes(baton) == {"v1.4.0": "accepted", "v2.0.0": "waiting_human"}
    baton("approve", "v2.0.0", "-m", "risk understood", check=True)
    assert baton("resume", "--no-live", "--no-wait").returncode == 3  # a second person is needed
    inbox = json.loads(baton("inbox", "--json", check=True).stdout)
    assert [(e["item"], e["reviewer"]) for e in inbox] == [("v2.0.0", "product-lead")]
    baton("approve", "v2.0.0", "-m", "reads well", check=True)
    assert baton("resume", "--no-live", "--no-wait").returncode == 0
    assert outcomes(baton)["v2.0.0"] == "accepted"


def test_code_change(tmp_path: Path, baton: Baton) -> None:
    import shutil
    import subprocess

    examples = tmp_path / "examples"  # a copy: the example makes its repository beside it
    for name in ("code-change", "script-fix"):
        shutil.copytree(EXAMPLES / name, examples / name)
    made = subprocess.run(
        ["bash", str(examples / "code-change/init-repo")], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    repo = examples / "code-change/repo"
    # the README runs the script-fix example first, in the same store: each example has
    # ids of its own, so this is a new item, not a "resume" of the other one's
    fixed = baton(
        "run",
        str(examples / "script-fix/playbook.yaml"),
        str(examples / "script-fix/items.jsonl"),
        "--no-live",
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    run = baton(
        "run",
        str(examples / "code-change/playbook.yaml"),
        str(examples / "code-change/items.jsonl"),
        "--no-live",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "already submitted" not in run.stderr
    shown = baton("show", "rename-count", check=True).stdout
    assert "+def count_words(text: str) -> int:" in shown and "Ran 2 tests" in shown
    assert "def count(" in (repo / "wordcount.py").read_text(), "untouched until applied"
    baton("apply", "rename-count", check=True)
    assert "def count_words(" in (repo / "wordcount.py").read_text()
