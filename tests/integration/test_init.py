"""`baton init` writes a playbook a user can run at once, from each template, with the real
command; a folder that has any of its files gets an error and nothing is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Baton


def test_the_basic_template_runs_as_written(tmp_path: Path, baton: Baton) -> None:
    made = baton("init", "contacts", check=True)
    lines = made.stdout.splitlines()
    assert lines[1].startswith("next:")
    assert lines[2:] == [
        "  cd contacts",
        "  baton validate playbook.yaml items.jsonl",
        "  baton run playbook.yaml items.jsonl",
    ]
    folder = tmp_path / "contacts"
    assert sorted(p.name for p in folder.iterdir()) == [
        "clean.py",
        "contact.schema.json",
        "items.jsonl",
        "playbook.yaml",
    ]
    assert baton("validate", "contacts/playbook.yaml", "contacts/items.jsonl").returncode == 0
    run = baton("run", "contacts/playbook.yaml", "contacts/items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr
    counts = json.loads(baton("status", "--json", "--all", check=True).stdout)["counts"]
    assert counts == {"accepted": 3}


def test_nothing_is_overwritten(tmp_path: Path, baton: Baton) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "playbook.yaml").write_text("name: mine\n")
    refused = baton("init", "mine")
    assert refused.returncode == 2
    assert "playbook.yaml exist(s) already; nothing was written" in refused.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["playbook.yaml"]
    assert (tmp_path / "mine" / "playbook.yaml").read_text() == "name: mine\n"


def test_the_code_template_makes_its_repository_and_its_change_applies(
    tmp_path: Path, baton: Baton
) -> None:
    made = baton("init", "work", "--template", "code", check=True)
    assert "made work/repo a git repository" in made.stdout
    run = baton("run", "work/playbook.yaml", "work/items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "+def count_words(" in baton("show", "rename-count", check=True).stdout
    baton("apply", "rename-count", check=True)
    assert "def count_words(" in (tmp_path / "work/repo/wordcount.py").read_text()


@pytest.mark.timeout(600)
def test_the_model_template_runs_on_the_packaged_model(tmp_path: Path, baton: Baton) -> None:
    if os.environ.get("CI") != "true":
        pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (baton[llama])")
    baton("init", "notes", "--template", "model", check=True)
    run = baton("run", "notes/playbook.yaml", "notes/items.jsonl", "--no-live", timeout=540)
    assert run.returncode in (0, 3), run.stdout + run.stderr  # a 135M model may not manage
    statuses = json.loads(baton("status", "--all", "--json", check=True).stdout)["counts"]
    assert sum(statuses.values()) == 2 and set(statuses) <= {"accepted", "escalated"}
    events = [
        json.loads(line) for line in baton("events", "--json", check=True).stdout.splitlines()
    ]
    finished = [e for e in events if e["kind"] == "attempt.finished"]
    assert finished and all(e["data"]["usage"]["completion_tokens"] > 0 for e in finished)
    assert {"schema", "short"} <= {
        e["data"]["verifier"] for e in events if e["kind"] == "check.recorded"
    }


def test_the_next_steps_say_how_to_reach_the_command(tmp_path: Path, baton: Baton) -> None:
    import subprocess
    import sys

    from tests.conftest import baton_env

    here = Path(sys.executable).parent
    env = baton_env(tmp_path)
    off = {
        **env,
        "PATH": os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != here),
    }
    out = subprocess.run(
        [sys.executable, "-m", "baton", "init", "a"],
        cwd=tmp_path,
        env=off,
        capture_output=True,
        text=True,
    )
    if (here / "activate").exists():
        assert f"next: `source {here / 'activate'}` first (or run {here / 'baton'})" in out.stdout
    on = {**env, "PATH": os.pathsep.join([str(here), env["PATH"]])}
    out = subprocess.run(
        [sys.executable, "-m", "baton", "init", "b"],
        cwd=tmp_path,
        env=on,
        capture_output=True,
        text=True,
    )
    assert out.stdout.splitlines()[1] == "next:"
