"""`baton export` / `baton import`: a history moves SQLite -> Redis -> SQLite, hashes intact,
and the work carries on where it moved to; a bad export changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Baton

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "approval"


@pytest.fixture
def history(tmp_path: Path, baton: Baton) -> Path:
    """The approval example run on the default SQLite store: one item accepted, one waiting."""
    shutil.copytree(EXAMPLE, tmp_path / "approval")
    run = baton("run", "approval/playbook.yaml", "approval/items.yaml", "--no-wait", "--no-live")
    assert run.returncode == 3, run.stdout + run.stderr  # v2.0.0 waits for a person
    baton("agents", "pause", "drafter", "-m", "audit week", check=True)  # the fleet log too
    baton("agents", "resume", "drafter", check=True)
    export = baton("export", check=True)
    (tmp_path / "pilot.jsonl").write_text(export.stdout)
    assert "exported" in export.stderr
    return tmp_path / "pilot.jsonl"


def test_a_history_moves_to_redis_and_back_with_hashes_intact(
    tmp_path: Path, baton: Baton, history: Path, redis_store_url: str
) -> None:
    url = redis_store_url
    imported = baton("--store", url, "import", str(history), check=True)
    assert "imported" in imported.stderr and "(2 items)" in imported.stderr
    # the same events, in the same order, at the same positions, with the same hashes
    assert baton("--store", url, "export", check=True).stdout == history.read_text()
    assert baton("--store", url, "audit", "verify").returncode == 0
    sqlite_status = json.loads(baton("status", "--all", "--json", check=True).stdout)
    redis_status = json.loads(baton("--store", url, "status", "--all", "--json", check=True).stdout)
    assert redis_status["counts"] == sqlite_status["counts"] == {"accepted": 1, "waiting_human": 1}
    assert [r["item_id"] for r in redis_status["items"]] == ["v1.4.0", "v2.0.0"]
    sqlite_metrics = json.loads(baton("metrics", "--json", check=True).stdout)
    redis_metrics = json.loads(baton("--store", url, "metrics", "--json", check=True).stdout)
    for figure in ("first_pass_yield", "items", "attempts_per_accepted", "agents"):
        assert redis_metrics[figure] == sqlite_metrics[figure], figure

    # the pilot goes on in the shared deployment: a person approves, a worker finishes
    inbox = json.loads(baton("--store", url, "inbox", "--json", check=True).stdout)
    assert [i["item"] for i in inbox] == ["v2.0.0"]
    for reviewer in ("auto", "product-lead"):  # two people's gates, one after the other
        baton("--store", url, "approve", "v2.0.0", "-m", f"ok from {reviewer}", check=True)
        resume = ("--store", url, "resume", "approval/playbook.yaml", "--no-live", "--no-wait")
        resumed = baton(*resume)
        assert resumed.returncode == (3 if reviewer == "auto" else 0), resumed.stdout
    assert "ACCEPTED" in resumed.stdout

    # and back to a new SQLite file: everything, the new decisions included
    again = baton("--store", url, "export", check=True).stdout
    (tmp_path / "shared.jsonl").write_text(again)
    back = str(tmp_path / "back.db")
    baton("--store", back, "import", str(tmp_path / "shared.jsonl"), check=True)
    assert baton("--store", back, "export", check=True).stdout == again
    assert baton("--store", back, "audit", "verify").returncode == 0
    assert json.loads(baton("--store", back, "status", "--json", check=True).stdout)["counts"] == {
        "accepted": 2
    }


def test_importing_again_finishes_a_cut_off_import_and_doubles_nothing(
    tmp_path: Path, baton: Baton, history: Path
) -> None:
    lines = history.read_text().splitlines(keepends=True)
    (tmp_path / "half.jsonl").write_text("".join(lines[: len(lines) // 2]))
    target = str(tmp_path / "target.db")
    baton("--store", target, "import", str(tmp_path / "half.jsonl"), check=True)
    whole = baton("--store", target, "import", str(history), check=True)
    assert f"({len(lines) // 2} were already there)" in whole.stderr
    assert baton("--store", target, "export", check=True).stdout == history.read_text()
    third = baton("--store", target, "import", str(history), check=True)
    assert "imported 0 events" in third.stderr


def test_a_bad_export_is_refused_whole_and_changes_nothing(
    tmp_path: Path, baton: Baton, history: Path
) -> None:
    lines = history.read_text().splitlines()
    target = tmp_path / "target.db"

    tampered = [json.loads(line) for line in lines]
    tampered[3]["data"]["sneaky"] = True
    (tmp_path / "tampered.jsonl").write_text("\n".join(json.dumps(e) for e in tampered))
    out = baton("--store", str(target), "import", str(tmp_path / "tampered.jsonl"))
    assert out.returncode == 2
    log, seq = tampered[3]["log"], tampered[3]["seq"]
    assert f"log {log}: seq {seq}: content does not match its hash" in out.stderr
    assert not target.exists()

    broken = [*lines[:2], '{"log": "x", "seq": "one"}', "not json", *lines[2:]]
    (tmp_path / "broken.jsonl").write_text("\n".join(broken))
    out = baton("--store", str(target), "import", str(tmp_path / "broken.jsonl"))
    assert out.returncode == 2
    assert "broken.jsonl:3: seq: expected an integer, got 'one'" in out.stderr
    assert "broken.jsonl:3: kind: expected a string, got None" in out.stderr
    assert "broken.jsonl:4: not JSON" in out.stderr
    assert not target.exists()

    # a target with another history for the same item: refused, the target untouched
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other)
    baton(
        "--store",
        str(target),
        "run",
        str(other / "playbook.yaml"),
        str(other / "items.yaml"),
        "--no-wait",
        "--no-live",
    )
    before = baton("--store", str(target), "export", check=True).stdout
    out = baton("--store", str(target), "import", str(history))
    assert out.returncode == 2
    assert "the target store already has a different history for it" in out.stderr
    assert baton("--store", str(target), "export", check=True).stdout == before

    assert baton("import", str(tmp_path / "missing.jsonl")).returncode == 2
