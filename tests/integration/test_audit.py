"""`baton audit`: a log cut short or removed (not only an edited one) is found, on a real
SQLite file and on Redis, through the real CLI and the API; checkpoints are written where
work ends (a run, a worker) and survive export and import."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from baton import open_store
from baton.api import create_app
from tests.conftest import ON_EVERY_STORE, REDIS_URL, Baton, Spawn
from tests.integration.test_cli import write_project

HEAD = re.compile(r"checkpoint (\d+): (\d+) logs, (\d+) events, head ([0-9a-f]{64})")


def run_items(baton: Baton) -> None:
    """Items a (2 events fewer than b) and b run to acceptance: the run ends in a checkpoint."""
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr


def log_length(baton: Baton, log: str) -> int:
    lines = baton("events", "--item", log, "--json", check=True).stdout.splitlines()
    return len(lines)


def audit_events(baton: Baton) -> list[dict[str, object]]:
    lines = baton("events", "--item", "audit", "--json", check=True).stdout.splitlines()
    return [json.loads(line) for line in lines]


class Tamper:
    """Deletes what an attacker with the store's files (or its Redis) would: behind baton's
    back, with sqlite3 or the redis client."""

    def __init__(self, store: str) -> None:
        self.store = store

    def _redis(self):  # type: ignore[no-untyped-def]
        import redis

        prefix = parse_qs(urlparse(self.store).query)["prefix"][0]
        return redis.Redis.from_url(REDIS_URL), prefix

    def drop_last_event(self, log: str) -> None:
        if self.store.startswith("redis"):
            client, p = self._redis()
            client.rpop(f"{p}log:{log}")
            client.close()
            return
        db = sqlite3.connect(self.store)
        db.execute(
            "DELETE FROM events WHERE log = ? AND seq = (SELECT max(seq) FROM events "
            "WHERE log = ?)",
            (log, log),
        )
        db.commit()
        db.close()

    def drop_log(self, log: str, row: bool = True) -> None:
        if self.store.startswith("redis"):
            client, p = self._redis()
            client.delete(f"{p}log:{log}")
            if row:
                client.hdel(f"{p}items", log)
                client.hdel(f"{p}where", log)
                client.zrem(f"{p}created", log)
                for status in client.smembers(f"{p}statuses"):
                    client.srem(f"{p}status:{status.decode()}", log)
            client.close()
            return
        db = sqlite3.connect(self.store)
        db.execute("DELETE FROM events WHERE log = ?", (log,))
        if row:
            db.execute("DELETE FROM items WHERE item_id = ?", (log,))
        db.commit()
        db.close()


@ON_EVERY_STORE
def test_a_deleted_last_event_is_found_by_the_checkpoint_and_the_index_row(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    run_items(baton)
    (checkpoint,) = audit_events(baton)  # the run ended with one
    assert checkpoint["kind"] == "audit.checkpoint"
    data = checkpoint["data"]
    assert isinstance(data, dict) and data["full"] is True
    assert str(data["by"]).startswith("engine:")
    length = log_length(baton, "b")
    assert data["heads"]["b"][0] == length
    ok = baton("audit", "verify", check=True).stdout
    assert "every log reaches its recorded head; checkpoint 1" in ok
    assert "0 event(s) since" in ok

    Tamper(baton_store).drop_last_event("b")
    audit = baton("audit", "verify")
    assert audit.returncode == 1, audit.stdout
    head = data["heads"]["b"][1]
    assert (
        f"MISMATCH: log b ends at seq {length - 1} but checkpoint 1 recorded seq {length} "
        f"(hash {head[:16]}...)" in audit.stdout
    )
    assert f"log b ends at seq {length - 1} but its index row says version {length}" in (
        audit.stdout
    )


@ON_EVERY_STORE
def test_a_whole_log_deleted_with_its_index_row_is_found(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    run_items(baton)
    length = log_length(baton, "a")
    Tamper(baton_store).drop_log("a")
    assert json.loads(baton("status", "--all", "--json", check=True).stdout)["counts"] == {
        "accepted": 1
    }  # no trace of it left anywhere but in the checkpoint
    audit = baton("audit", "verify")
    assert audit.returncode == 1, audit.stdout
    assert f"MISMATCH: log a is gone but checkpoint 1 recorded seq {length}" in audit.stdout


@ON_EVERY_STORE
def test_a_tail_cut_before_any_checkpoint_is_found_by_the_index_row(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    baton("submit", "playbook.yaml", "items.jsonl", check=True)  # no checkpoint yet
    assert audit_events(baton) == []
    uncovered = baton("audit", "verify", check=True).stdout
    assert "no checkpoint yet: `baton audit checkpoint` covers the 2 event(s)" in uncovered
    Tamper(baton_store).drop_log("a", row=False)
    audit = baton("audit", "verify")
    assert audit.returncode == 1
    assert "MISMATCH: log a is gone but its index row says version 1" in audit.stdout


@ON_EVERY_STORE
def test_the_audit_logs_own_tail_is_held_to_a_noted_head(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    run_items(baton)
    same = baton("audit", "checkpoint", check=True).stdout
    assert "(nothing changed since it)" in same and HEAD.search(same)
    baton("agents", "pause", "cleaner", "-m", "audit week", check=True)
    written = baton("audit", "checkpoint", check=True).stdout
    found = HEAD.search(written)
    assert found is not None and "nothing changed" not in written, written
    number, logs, events, noted = found.groups()
    assert (number, logs) == ("2", "3")  # a, b and the fleet log
    assert int(events) == log_length(baton, "a") + log_length(baton, "b") + 1
    assert baton("audit", "verify", "--expect", noted).returncode == 0

    Tamper(baton_store).drop_last_event("audit")  # checkpoint 2 goes, and the fleet head
    assert baton("audit", "verify").returncode == 0  # what is left still holds
    audit = baton("audit", "verify", "--expect", noted)
    assert audit.returncode == 1
    assert f"the audit log holds no checkpoint {noted} (1 checkpoint(s)" in audit.stdout
    bad = baton("audit", "verify", "--expect", "12ab")
    assert bad.returncode == 2 and "--expect: '12ab' is not a checkpoint hash" in bad.stderr


@ON_EVERY_STORE
def test_the_api_reports_the_same_findings(tmp_path: Path, baton: Baton, baton_store: str) -> None:
    write_project(tmp_path)
    run_items(baton)
    noted = HEAD.search(baton("audit", "checkpoint", check=True).stdout)
    assert noted is not None
    Tamper(baton_store).drop_last_event("b")
    length = log_length(baton, "b")

    async def go() -> dict[str, object]:
        store = open_store(baton_store)
        app = create_app(store, [], local_user="ann")
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                answer = await c.get("/api/audit", params={"expect": noted.group(4)})
                assert answer.status_code == 200, answer.text
                bad = await c.get("/api/audit", params={"expect": "nope"})
                assert bad.status_code == 422 and "expect" in bad.text
                return dict(answer.json())
        finally:
            await store.close()

    found = asyncio.run(go())
    assert found["ok"] is False and found["broken"] == []
    assert found["checkpoint"]["number"] == 1  # type: ignore[index]
    assert found["checkpoint"]["hash"] == noted.group(4)  # type: ignore[index]
    problems = [(f["log"], f["seq"]) for f in found["findings"]]  # type: ignore[attr-defined]
    assert problems == [("b", length + 1), ("b", length + 1)]  # the checkpoint, the row


def test_a_worker_writes_checkpoints_as_it_goes_and_when_it_stops(
    tmp_path: Path, baton: Baton, spawn: Spawn
) -> None:
    write_project(tmp_path)
    worker = spawn("worker", "playbook.yaml", "--checkpoint-every", "1")
    try:
        baton("submit", "playbook.yaml", "items.jsonl", check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            covered = baton("audit", "verify", check=True).stdout
            if "0 event(s) since" in covered and "checkpoint" in covered:
                statuses = json.loads(baton("status", "--all", "--json", check=True).stdout)
                if statuses["counts"] == {"accepted": 2}:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"the worker's checkpoints never caught up: {covered}")
        baton("agents", "pause", "cleaner", check=True)  # a change the stop must cover
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, out + err
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    checkpoints = audit_events(baton)
    assert all(str(c["data"]["by"]).startswith("engine:") for c in checkpoints)  # type: ignore[index]
    assert "fleet" in checkpoints[-1]["data"]["heads"]  # type: ignore[index,operator]
    assert "0 event(s) since" in baton("audit", "verify", check=True).stdout


def test_checkpoints_stay_valid_through_export_and_import(tmp_path: Path, baton: Baton) -> None:
    write_project(tmp_path)
    run_items(baton)
    export = baton("export", check=True).stdout
    (tmp_path / "history.jsonl").write_text(export)

    # into an empty store: the same positions, the checkpoint holds as it is
    empty = str(tmp_path / "empty.db")
    baton("--store", empty, "import", str(tmp_path / "history.jsonl"), check=True)
    assert "checkpoint 1" in baton("--store", empty, "audit", "verify", check=True).stdout
    Tamper(empty).drop_log("b")
    cut = baton("--store", empty, "audit", "verify")
    assert cut.returncode == 1 and "MISMATCH: log b is gone but checkpoint 1" in cut.stdout

    # after other work: positions move, so the next checkpoint is taken in full
    shifted = str(tmp_path / "shifted.db")
    baton("--store", shifted, "agents", "pause", "someone", check=True)
    baton("--store", shifted, "import", str(tmp_path / "history.jsonl"), check=True)
    assert baton("--store", shifted, "audit", "verify").returncode == 0
    baton("--store", shifted, "audit", "checkpoint", check=True)
    lines = baton("--store", shifted, "events", "--item", "audit", "--json", check=True)
    second = json.loads(lines.stdout.splitlines()[-1])
    assert second["seq"] == 2 and second["data"]["full"] is True
    assert set(second["data"]["heads"]) == {"a", "b", "fleet"}
    Tamper(shifted).drop_last_event("a")
    assert "MISMATCH: log a ends at seq" in baton("--store", shifted, "audit", "verify").stdout

    # into a store with checkpoints of its own: they stay, a new one covers what came in
    own = str(tmp_path / "own.db")
    baton("--store", own, "agents", "pause", "someone", check=True)
    baton("--store", own, "audit", "checkpoint", check=True)
    merged = baton("--store", own, "import", str(tmp_path / "history.jsonl"), check=True)
    assert "the store keeps its own audit checkpoints" in merged.stderr
    assert baton("--store", own, "audit", "verify").returncode == 0
    Tamper(own).drop_log("b")
    assert (
        "MISMATCH: log b is gone but checkpoint 2"
        in baton("--store", own, "audit", "verify").stdout
    )

    # an export cut short behind its checkpoint's back is refused, and imports nothing
    rows = export.splitlines(keepends=True)
    last_of_b = max(i for i, r in enumerate(rows) if json.loads(r)["log"] == "b")
    (tmp_path / "cut.jsonl").write_text("".join(rows[:last_of_b] + rows[last_of_b + 1 :]))
    refused = baton("--store", str(tmp_path / "new.db"), "import", str(tmp_path / "cut.jsonl"))
    assert refused.returncode == 2
    assert (
        "log b: log b ends at seq" in refused.stderr and "checkpoint 1 recorded" in refused.stderr
    )
    assert not (tmp_path / "new.db").exists()
