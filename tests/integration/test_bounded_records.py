"""Bounded records: an agent printing megabytes gets small events, its output whole in the
blob store beside the log (a folder next to the SQLite file; keys on Redis), and `show`,
`blob`, the API and export/import deal in it. The real CLI on a real store."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

from baton import load_playbook
from baton.api.app import create_app
from baton.core.bounds import is_ref
from baton.runtime.recording import hydrate, load_state
from baton.store import open_store
from tests.conftest import ON_EVERY_STORE, Baton

LINES = 200_000  # "line 000000 of the output\n": 5.2 MB
LOUD = f"""\
import sys
for i in range({LINES}):
    sys.stdout.write(f"line {{i:06d}} of the output\\n")
"""
CHECKS = f"""\
def whole(candidate):
    lines = candidate.text.splitlines()
    ok = len(lines) == {LINES} and lines[-1] == "line {LINES - 1:06d} of the output"
    return ok, f"{{len(lines)}} lines, the last: {{lines[-1]!r}}"
"""
PLAYBOOK = f"""\
name: loud
agents:
  loud:
    kind: command
    command: [{json.dumps(sys.executable)}, loud.py]
    cwd: .
verifiers:
  whole:
    kind: python
    function: checks:whole
reviewers:
  auto:
    kind: policy
    checks_passed: true
    max_risk: low
policy:
  order: [verify, review]
budget:
  attempts: 1
"""


def project(folder: Path) -> None:
    (folder / "loud.py").write_text(LOUD)
    (folder / "checks.py").write_text(CHECKS)
    (folder / "playbook.yaml").write_text(PLAYBOOK)
    (folder / "items.jsonl").write_text(json.dumps({"id": "big", "objective": "talk a lot"}))


def expected() -> bytes:
    return "".join(f"line {i:06d} of the output\n" for i in range(LINES)).encode()


@ON_EVERY_STORE
async def test_a_huge_output_is_kept_aside_whole_and_shown_cut(
    tmp_path: Path, baton: Baton, baton_store: str
) -> None:
    project(tmp_path)
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live", timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ACCEPTED" in run.stdout  # the verifier read all 200,000 lines

    shown = baton("show", "big", check=True).stdout
    assert "line 000000 of the output" in shown
    assert "line 150000" not in shown and len(shown) < 100_000
    assert f"{len(expected()):,} bytes in all" in shown
    digest = shown.split("baton blob ", 1)[1].split("]", 1)[0]

    raw = baton("show", "big", "--json", check=True).stdout
    events = json.loads(raw)
    assert max(len(json.dumps(e["data"])) for e in events) <= 65536
    (finished,) = [e for e in events if e["kind"] == "attempt.finished"]
    ref = finished["data"]["output"]["text"]
    assert is_ref(ref) and ref["$blob"] == digest and ref["bytes"] == len(expected())
    check = next(e for e in events if e["kind"] == "check.recorded")
    assert check["data"]["passed"] and "200000 lines" in check["data"]["evidence"]

    whole = baton("blob", digest, "-o", "out.txt", check=True)
    assert whole.stdout == "" and (tmp_path / "out.txt").read_bytes() == expected()
    printed = baton("blob", digest, check=True).stdout
    assert printed.encode() == expected()
    missing = baton("blob", "sha256:" + "0" * 64)
    assert missing.returncode != 0 and "no blob sha256:000" in missing.stderr
    bad = baton("blob", "nonsense")
    assert bad.returncode != 0 and "not a blob digest" in bad.stderr

    if not baton_store.startswith("redis"):
        db = Path(baton_store)
        blob_file = Path(f"{db}.blobs") / digest[7:9] / digest[9:]
        assert blob_file.read_bytes() == expected()
        with sqlite3.connect(db) as conn:
            (largest,) = conn.execute("SELECT max(length(data)) FROM events").fetchone()
        assert largest <= 65536

    store = open_store(baton_store)
    try:
        state = await load_state(store, "big")
        assert is_ref((state.attempt(1).output or {})["text"])
        await hydrate(store, state)  # what an engine taking the item over sees
        assert (state.attempt(1).output or {})["text"].encode() == expected()
        app = create_app(store, [load_playbook(tmp_path / "playbook.yaml")], local_user="ann")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api:
            got = await api.get(f"/api/blobs/{digest}")
            assert got.status_code == 200 and got.content == expected()
            item = (await api.get("/api/items/big")).json()
            assert item["attempts"][0]["output"]["text"]["$blob"] == digest
            assert (await api.get("/api/blobs/sha256:" + "1" * 64)).status_code == 404
            assert (await api.get("/api/blobs/nope")).status_code == 422
    finally:
        await store.close()

    audit = baton("audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # a blob referred to only before the verify checkpoint: --full re-reads it (README,
    # "Verifying the audit trail")
    await tamper_with(baton_store, digest, b"other bytes")
    changed = baton("audit", "verify", "--full")
    said = " ".join((changed.stdout + changed.stderr).split())
    assert changed.returncode == 1 and f"log big #4 refers to blob {digest}, whose bytes" in said
    await tamper_with(baton_store, digest, None)
    gone = baton("audit", "verify", "--full")
    said = " ".join((gone.stdout + gone.stderr).split())
    assert gone.returncode == 1 and f"{digest}, which the store no longer has" in said


async def tamper_with(url: str, digest: str, content: bytes | None) -> None:
    """Change (or, with None, delete) a blob behind the store's back."""
    if url.startswith("redis"):
        import redis.asyncio as redis

        base, _, prefix = url.partition("?prefix=")
        client = redis.Redis.from_url(base)
        key = f"{prefix}blob:{digest}"
        await (client.delete(key) if content is None else client.set(key, content))
        await client.aclose()
        return
    file = Path(f"{url}.blobs") / digest[7:9] / digest[9:]
    if content is None:
        file.unlink()
    else:
        file.write_bytes(content)


def test_export_carries_the_blobs_and_import_checks_them(tmp_path: Path, baton: Baton) -> None:
    project(tmp_path)
    baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True, timeout=300)
    baton("export", "-o", "all.jsonl", check=True)
    lines = (tmp_path / "all.jsonl").read_text().splitlines()
    blobs = [json.loads(line) for line in lines if '"blob"' in line[:10]]
    assert len(blobs) == 1 and blobs[0]["blob"].startswith("sha256:")

    other = tmp_path / "other" / "baton.db"
    moved = baton("--store", str(other), "import", "all.jsonl")
    assert moved.returncode == 0, moved.stderr
    digest = blobs[0]["blob"]
    again = baton("--store", str(other), "blob", digest, check=True).stdout
    assert again.encode() == expected()

    # a blob whose bytes do not match its digest, or one left out, is refused whole
    tampered = [
        json.dumps({"blob": digest, "base64": "aGVsbG8="}) if '"blob"' in line[:10] else line
        for line in lines
    ]
    (tmp_path / "tampered.jsonl").write_text("\n".join(tampered) + "\n")
    third = tmp_path / "third" / "baton.db"
    refused = baton("--store", str(third), "import", "tampered.jsonl")
    said = " ".join(refused.stderr.split())
    assert refused.returncode != 0 and "tampered.jsonl:4: base64: the content's digest" in said
    assert f"not {digest}" in said
    (tmp_path / "short.jsonl").write_text(
        "\n".join(line for line in lines if '"blob"' not in line[:10]) + "\n"
    )
    refused = baton("--store", str(third), "import", "short.jsonl")
    assert refused.returncode != 0 and "not in the file" in " ".join(refused.stderr.split())
    assert not third.exists()


def test_a_reset_keeps_the_blobs_in_its_backup(tmp_path: Path, baton: Baton) -> None:
    project(tmp_path)
    baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True, timeout=300)
    digest = baton("show", "big", check=True).stdout.split("baton blob ", 1)[1].split("]")[0]
    baton("reset", "--yes", check=True)
    assert baton("blob", digest).returncode != 0  # gone with the store
    (backup,) = sorted((tmp_path / ".baton" / "backups").glob("history-*.jsonl"))
    baton("import", str(backup), check=True)
    assert baton("blob", digest, check=True).stdout.encode() == expected()
    assert baton("audit", "verify").returncode == 0


@pytest.mark.parametrize("limit", ["12k", "100"])
def test_a_bad_limit_stops_the_run_before_anything_is_written(
    tmp_path: Path, baton: Baton, limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(tmp_path)
    monkeypatch.setenv("BATON_EVENT_BYTES", limit)
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode != 0 and "BATON_EVENT_BYTES" in run.stderr
    assert "Traceback" not in run.stderr
