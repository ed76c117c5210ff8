"""`baton audit verify` incremental from verify checkpoints and `--full`, through the real
CLI and the API, on a real SQLite file and on Redis; the events are edited behind baton's
back, as someone with the store's files (or its Redis) would."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import orjson

from baton import open_store
from baton.api import create_app
from tests.conftest import ON_EVERY_STORE, REDIS_URL, Baton
from tests.integration.test_audit import log_length, run_items
from tests.integration.test_cli import write_project

MARK = re.compile(r"verify checkpoint (\d+), digest ([0-9a-f]{64})")


def edit(
    store: str,
    log: str,
    seq: int,
    *,
    data: dict[str, object] | None = None,
    hash: str | None = None,
) -> None:
    """Change one event's data or stored hash in place."""
    if store.startswith("redis"):
        import redis

        prefix = parse_qs(urlparse(store).query)["prefix"][0]
        client = redis.Redis.from_url(REDIS_URL)
        key = f"{prefix}log:{log}"
        position, _, body = client.lindex(key, seq - 1).partition(b"\t")
        event = orjson.loads(body)
        event.update({"data": data} if data is not None else {"hash": hash})
        client.lset(key, seq - 1, position + b"\t" + orjson.dumps(event))
        client.close()
        return
    db = sqlite3.connect(store)
    if data is not None:
        db.execute(
            "UPDATE events SET data = ? WHERE log = ? AND seq = ?", (orjson.dumps(data), log, seq)
        )
    else:
        db.execute("UPDATE events SET hash = ? WHERE log = ? AND seq = ?", (hash, log, seq))
    db.commit()
    db.close()


def mark_of(stdout: str) -> tuple[int, str]:
    found = MARK.search(stdout)
    assert found is not None, stdout
    return int(found.group(1)), found.group(2)


@ON_EVERY_STORE
def test_a_checkpoint_is_written_then_reused_and_an_edit_after_it_is_found(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    run_items(baton)
    first = baton("audit", "verify", check=True).stdout
    assert "verified in full (no verify checkpoint yet)" in first
    number, digest = mark_of(first)
    again = baton("audit", "verify", check=True).stdout
    assert re.search(rf"\d+ event\(s\) re-hashed from verify checkpoint {number}", again), again
    assert mark_of(again) == (number, digest)  # nothing changed: none written

    baton("agents", "pause", "cleaner", "-m", "after the checkpoint", check=True)
    edit(baton_store, "fleet", 1, data={"agent": "someone else"})
    found = baton("audit", "verify")
    assert found.returncode == 1
    assert "BROKEN: log fleet at event #1: content does not match its hash" in found.stdout
    assert "re-hashed from verify checkpoint" in found.stdout  # incremental, and found it


@ON_EVERY_STORE
def test_a_changed_head_before_the_checkpoint_is_found_and_an_old_edit_needs_full(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    run_items(baton)
    baton("audit", "verify", check=True)
    length = log_length(baton, "b")

    # the documented trade-off: an edit before the head that leaves the hashes is only
    # found by --full (this test edits an old event, so it asks for --full)
    edit(baton_store, "a", 1, data={"spec": {}})
    assert baton("audit", "verify").returncode == 0
    full = baton("audit", "verify", "--full")
    assert full.returncode == 1 and "verified in full" in full.stdout
    assert "BROKEN: log a at event #1: content does not match its hash" in full.stdout

    edit(baton_store, "b", length, hash="0" * 64)  # the head itself: found incrementally
    found = baton("audit", "verify")
    assert found.returncode == 1 and "re-hashed from verify checkpoint" in found.stdout
    assert f"log b has another event at seq {length} (hash 0000000000000000...)" in found.stdout
    # a log that did not change is held to its head's hash (one read for every log), not
    # re-hashed: --full recomputes the head from its content too
    assert "BROKEN: log b" not in found.stdout
    full = baton("audit", "verify", "--full")
    assert f"BROKEN: log b at event #{length}: content does not match its hash" in full.stdout


@ON_EVERY_STORE
def test_the_api_verifies_incrementally_or_in_full(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    write_project(tmp_path)
    run_items(baton)
    number, digest = mark_of(baton("audit", "verify", check=True).stdout)
    edit(baton_store, "a", 1, data={"spec": {}})

    async def go() -> tuple[dict[str, object], dict[str, object], int]:
        store = open_store(baton_store)
        app = create_app(store, [], local_user="ann")
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                quick = (await c.get("/api/audit")).json()
                full = (await c.get("/api/audit", params={"full": "true"})).json()
                bad = await c.get("/api/audit", params={"full": "maybe"})
                return quick, full, bad.status_code
        finally:
            await store.close()

    quick, full, bad = asyncio.run(go())
    assert quick["ok"] is True and quick["full"] is False
    assert quick["verified"] == {
        "number": number,
        "digest": digest,
        "through": quick["verified"]["through"],
    }  # type: ignore[index]
    assert full["ok"] is False and full["full"] is True
    assert [(b["log"], b["seq"]) for b in full["broken"]] == [("a", 1)]  # type: ignore[union-attr,index]
    assert bad == 422
