"""The HTTP API against the real app on a real SQLite file (and Redis where one answers):
submitting, reading, deciding, the fleet, the numbers, the stream, and who may do what."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import pytest

from baton import Engine, load_playbook
from baton.api import create_app
from baton.api.prometheus import SCRAPED
from baton.services.auth import create_token
from baton.store.base import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PLAYBOOK = """\
name: notes
agents:
  writer:
    kind: python
    function: writer:write
verifiers:
  says-done:
    kind: contains
    text: done
reviewers:
  lead:
    kind: human
    when:
      risk: [high]
"""


@pytest.fixture
def store(file_or_redis_store: Store) -> Store:
    return file_or_redis_store


@pytest.fixture
def book(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "writer.py").write_text("def write(task):\n    return 'done: ' + task.objective\n")
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK)
    return load_playbook(tmp_path / "playbook.yaml")


def client(store: Store, books: list, **kw: object) -> httpx.AsyncClient:  # type: ignore[type-arg]
    app = create_app(store, books, local_user="ann", **kw)  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
    )


async def run_engine(store: Store, book: object) -> None:
    ids = [r.item_id for r in await store.query(limit=None)]
    await Engine(store, book, poll_interval=0.01).run(ids, wait_for_people=False)  # type: ignore[arg-type]


async def test_open_on_loopback_submit_run_read_decide(store: Store, book: object) -> None:
    async with client(store, [book]) as api:
        assert (await api.get("/healthz")).json() == {"ok": True, "items": 0}
        me = (await api.get("/api/session")).json()
        assert (me["name"], me["role"], me["open"]) == ("ann", "admin", True)
        assert [p["name"] for p in (await api.get("/api/playbooks")).json()] == ["notes"]

        items = [
            {"id": "low", "objective": "write"},
            {"id": "high", "objective": "risky", "risk": "high"},
        ]
        made = await api.post("/api/items", json={"playbook": "notes", "items": items})
        assert made.status_code == 201
        assert made.json() == [{"id": "low", "submitted": True}, {"id": "high", "submitted": True}]
        again = await api.post("/api/items", json={"playbook": "notes", "items": items[:1]})
        assert again.json() == [{"id": "low", "submitted": False}]

        await run_engine(store, book)
        page = (await api.get("/api/items", params={"limit": 1, "order": "oldest"})).json()
        assert [i["item_id"] for i in page["items"]] == ["low"]
        assert page["counts"] == {"accepted": 1, "waiting_human": 1}
        waiting = (await api.get("/api/items", params={"waiting": "true"})).json()["items"]
        assert [i["item_id"] for i in waiting] == ["high"]
        accepted = await api.get(
            "/api/items", params=[("status", "accepted"), ("status", "failed")]
        )
        assert [i["item_id"] for i in accepted.json()["items"]] == ["low"]

        shown = (await api.get("/api/items/low")).json()
        assert shown["outcome"] == "accepted"
        assert shown["attempts"][0]["output"]["text"] == "done: write"
        assert shown["attempts"][0]["checks"][0]["verifier"] == "says-done"
        assert [e["kind"] for e in shown["events"]][-1] == "item.accepted"

        inbox = (await api.get("/api/inbox")).json()
        assert [(e["item"], e["wait"], e["reviewer"]) for e in inbox] == [
            ("high", "review", "lead")
        ]
        decided = await api.post("/api/items/high/approve", json={"comments": "fine"})
        assert decided.json() == {"message": "approve recorded for attempt 1 of high"}
        again = await api.post("/api/items/high/approve", json={"comments": "twice"})
        assert again.status_code == 409 and "does not wait for a person" in again.json()["detail"]
        await run_engine(store, book)
        review = (await api.get("/api/items/high")).json()["attempts"][0]["reviews"][0]
        assert (review["decision"], review["by"]) == ("approve", "human:ann")

        assert (await api.get("/api/audit")).json()["ok"] is True
        figures = (await api.get("/api/metrics")).json()
        assert figures["items"]["accepted"] == 2 and figures["first_pass_yield"] == 1.0
        series = (await api.get("/api/metrics/series", params={"bucket": 3600})).json()
        assert sum(b["items"]["accepted"] for b in series) == 2
        text = (await api.get("/metrics")).text
        assert 'baton_items{status="accepted"} 2.0' in text
        assert 'baton_items_finished_total{outcome="accepted"} 2.0' in text
        assert "baton_first_pass_accepted_total 2.0" in text
        assert 'baton_cycle_time_seconds_bucket{le="+Inf"} 2.0' in text
        assert "process_resident_memory_bytes" in text

        agents = (await api.get("/api/agents")).json()
        assert [(a["agent"], a["paused"], a["accepted"]) for a in agents] == [("writer", False, 2)]
        paused = await api.post("/api/agents/writer/pause", json={"reason": "upgrade"})
        assert paused.json() == {"message": "agent writer paused"}
        assert (await api.get("/api/agents")).json()[0]["paused"] is True
        assert (await api.post("/api/agents/writer/resume")).status_code == 200
        unknown = await api.post("/api/agents/nobody/pause", json={})
        assert unknown.status_code == 404 and "known: writer" in unknown.json()["detail"]

        events = (await api.get("/api/events", params={"after": 0, "limit": 3})).json()
        assert [e["position"] for e in events] == [1, 2, 3]
        cancel = await api.post("/api/items/low/cancel", json={"reason": "no"})
        assert cancel.status_code == 409 and "already accepted" in cancel.json()["detail"]


async def test_bad_requests_are_precise_4xx_and_change_nothing(store: Store, book: object) -> None:
    async with client(store, [book]) as api:
        cases = [
            (
                {"playbook": "nope", "items": [{"objective": "x"}]},
                404,
                "no playbook 'nope' here (known: notes)",
            ),
            ({"playbook": "notes", "items": []}, 422, "items: List should have at least 1 item"),
            (
                {"playbook": "notes", "items": [{"objective": ""}]},
                422,
                "items.0.objective: String should have at least 1 character",
            ),
            (
                {"playbook": "notes", "items": [{"objective": "x", "acceptance": ["nope"]}]},
                422,
                "unknown verifier 'nope' (known: says-done)",
            ),
            (
                {"playbook": "notes", "items": [{"objective": "x", "colour": "red"}]},
                422,
                "items.0.colour: Extra inputs are not permitted",
            ),
            (
                {"playbook": "notes", "items": [{"id": "auth", "objective": "x"}]},
                422,
                "'auth' is reserved",
            ),
        ]
        for body, status, message in cases:
            answer = await api.post("/api/items", json=body)
            assert answer.status_code == status, answer.text
            assert message in answer.json()["detail"], answer.json()
        assert (await api.get("/api/items")).json()["counts"] == {}
        assert (await api.get("/api/items/missing")).status_code == 404
        assert (await api.get("/api/items", params={"limit": 0})).status_code == 422
        assert (await api.get("/api/items", params={"status": "sleeping"})).status_code == 422
        changes = await api.post("/api/items/x/request-changes", json={"comments": ""})
        assert changes.status_code == 422 and "comments" in changes.json()["detail"]
        assert (await api.post("/api/items/x/approve", content=b"{not json")).status_code == 422


async def test_tokens_roles_sessions_and_csrf(store: Store, book: object) -> None:
    admin, _ = await create_token(store, "root", "admin", "setup")
    async with client(store, [book]) as api:
        assert (await api.get("/api/items")).status_code == 401  # a token exists: no open door
        bearer = {"Authorization": f"Bearer {admin}"}
        made = await api.post("/api/tokens", json={"name": "vic", "role": "viewer"}, headers=bearer)
        viewer = made.json()["token"]
        made = await api.post(
            "/api/tokens", json={"name": "rita", "role": "reviewer"}, headers=bearer
        )
        reviewer = made.json()["token"]
        listed = (await api.get("/api/tokens", headers=bearer)).json()
        assert sorted(t["name"] for t in listed) == ["rita", "root", "vic"]
        assert all("digest" not in t and "token" not in t for t in listed)

        await api.post(
            "/api/items",
            json={"playbook": "notes", "items": [{"id": "h", "objective": "x", "risk": "high"}]},
            headers=bearer,
        )
        await run_engine(store, book)

        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert (await api.get("/api/inbox", headers=as_viewer)).status_code == 200
        denied = await api.post("/api/items/h/approve", json={}, headers=as_viewer)
        assert denied.status_code == 403
        assert denied.json()["detail"] == "vic is a viewer: this needs the reviewer role"
        submit = {"playbook": "notes", "items": [{"objective": "y"}]}
        assert (await api.post("/api/items", json=submit, headers=as_viewer)).status_code == 403
        bad = {"Authorization": "Bearer baton_000000000000_wrongwrongwrongwrongwrong"}
        assert (await api.get("/api/items", headers=bad)).status_code == 401

        # the web page's way: a session cookie, and the CSRF header on every change
        login = await api.post("/api/session", json={"token": reviewer})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        csrf = login.json()["csrf"]
        assert (await api.get("/api/session")).json()["name"] == "rita"
        forged = await api.post("/api/items/h/approve", json={"comments": "x"})
        assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
        ok = await api.post(
            "/api/items/h/approve", json={"comments": "ok"}, headers={"X-CSRF-Token": csrf}
        )
        assert ok.status_code == 200
        review = (await api.get("/api/items/h")).json()["attempts"][0]["reviews"][0]
        assert review["by"] == "human:token:rita"
        out = await api.delete("/api/session", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200
        api.cookies.clear()
        assert (await api.get("/api/session")).status_code == 401

        reviewer_id = next(t["id"] for t in listed if t["name"] == "rita")
        assert (await api.delete(f"/api/tokens/{reviewer_id}", headers=bearer)).status_code == 200
        await asyncio.sleep(1.1)  # tokens are cached for a second
        refused = await api.get("/api/items", headers={"Authorization": f"Bearer {reviewer}"})
        assert refused.status_code == 401
        root_id = next(t["id"] for t in listed if t["name"] == "root")
        itself = await api.delete(f"/api/tokens/{root_id}", headers=bearer)
        assert itself.status_code == 409


async def test_a_token_revoked_on_one_server_cannot_approve_through_its_session_on_another(
    store: Store, book: object
) -> None:
    admin, _ = await create_token(store, "root", "admin", "setup")
    reviewer, record = await create_token(store, "rita", "reviewer", "setup")
    bearer = {"Authorization": f"Bearer {admin}"}
    async with client(store, [book]) as a, client(store, [book]) as b:
        body = {"playbook": "notes", "items": [{"id": "h", "objective": "x", "risk": "high"}]}
        await a.post("/api/items", json=body, headers=bearer)
        await run_engine(store, book)
        login = await a.post("/api/session", json={"token": reviewer})
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        assert (await a.get("/api/session")).status_code == 200
        assert (await b.delete(f"/api/tokens/{record.id}", headers=bearer)).status_code == 200
        for _ in range(100):  # a's cache of the auth log lasts a second
            if (await a.get("/api/session")).status_code == 401:
                break
            await asyncio.sleep(0.1)
        late = await a.post("/api/items/h/approve", json={"comments": "late"}, headers=csrf)
        assert late.status_code == 401, late.text
        assert late.json()["detail"] == "the session ended (token revoked): log in again"
    assert [e["item"] for e in await views_inbox(store)] == ["h"], "nothing was decided"


async def views_inbox(store: Store) -> list[dict]:  # type: ignore[type-arg]
    from baton.services import views

    return await views.inbox(store)


async def test_baton_s_own_logs_are_never_items_and_the_auth_log_is_for_admins(
    store: Store, book: object
) -> None:
    admin, _ = await create_token(store, "root", "admin", "setup")
    viewer, _ = await create_token(store, "vic", "viewer", "setup")
    async with client(store, [book]) as api:
        as_admin = {"Authorization": f"Bearer {admin}"}
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        pause = await api.post("/api/agents/writer/pause", json={"reason": "x"}, headers=as_admin)
        assert pause.status_code == 200
        seen = {e["log"] for e in (await api.get("/api/events", headers=as_viewer)).json()}
        assert seen == {"fleet"}, "token ids, names, roles and digests are not a viewer's"
        seen = {e["log"] for e in (await api.get("/api/events", headers=as_admin)).json()}
        assert seen == {"auth", "fleet"}
        for log in ("auth", "fleet"):
            for action, body in (("cancel", {}), ("approve", {}), ("reject", {"comments": "x"})):
                done = await api.post(f"/api/items/{log}/{action}", json=body, headers=as_admin)
                assert done.status_code == 404, (log, action, done.text)
                assert "is baton's own log" in done.json()["detail"]
            assert (await api.get(f"/api/items/{log}", headers=as_admin)).status_code == 404
        rows = (await api.get("/api/items", headers=as_admin)).json()
        assert rows["items"] == [] and rows["counts"] == {}, "no log became an item"
    assert [e.kind for e in await store.load("auth")] == ["token.created", "token.created"]


async def test_the_stream_keeps_the_auth_log_from_viewers(store: Store, book: object) -> None:
    from baton.api.fanout import Hub
    from baton.api.live import sse as _sse

    await create_token(store, "root", "admin", "setup")
    hidden: list[str] = []
    async for chunk in _sse(Hub(store), 0, frozenset({"auth"}), idle=0.2):
        hidden.append(chunk.decode())
        if len(hidden) > 1 or hidden[-1].startswith(": keep"):
            break
    assert all("token.created" not in c for c in hidden)
    shown: list[str] = []
    async for chunk in _sse(Hub(store), 0, frozenset(), idle=0.2):
        shown.append(chunk.decode())
        if "token.created" in shown[-1]:
            break
    assert any("token.created" in c for c in shown)


async def test_cross_site_requests_and_a_rebound_host_are_refused(
    store: Store, book: object
) -> None:
    await actions_pause(store)
    async with client(store, [book]) as api:  # open: no token, loopback
        evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
        refused = await api.post("/api/agents/writer/resume", headers=evil)
        assert refused.status_code == 403 and "cross-site request refused" in refused.text
        sneaky = await api.post(
            "/api/agents/writer/resume", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert sneaky.status_code == 403
        rebound = await api.get("/api/items", headers={"Host": "attacker.example"})
        assert rebound.status_code == 403 and "not a loopback address" in rebound.text
        assert "writer" in await _paused(store), "nothing changed"
        own = {"Origin": "http://baton", "Host": "baton"}  # the client's own origin...
        assert (await api.post("/api/agents/writer/resume", headers=own)).status_code == 403
        local = {"Origin": "http://127.0.0.1:8765", "Host": "127.0.0.1:8765"}  # ...on loopback
        assert (await api.post("/api/agents/writer/resume", headers=local)).status_code == 200
        assert "writer" not in await _paused(store)

    reviewer, _ = await create_token(store, "rita", "reviewer", "setup")
    async with client(store, [book]) as api:
        login = await api.post("/api/session", json={"token": reviewer})
        csrf = login.json()["csrf"]
        out = await api.delete("/api/session")  # no CSRF header: another site's page
        assert out.status_code == 403
        assert (await api.get("/api/session")).status_code == 200, "still logged in"
        crossed = await api.delete(
            "/api/session", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        )
        assert crossed.status_code == 403
        assert (await api.delete("/api/session", headers={"X-CSRF-Token": csrf})).status_code == 200
        api.cookies.clear()
        assert (await api.get("/api/session")).status_code == 401


async def actions_pause(store: Store) -> None:
    from baton.services import actions

    await actions.set_paused(store, "writer", True, "ops")


async def _paused(store: Store) -> set[str]:
    from baton.services import actions

    return set(await actions.fleet_paused(store))


async def test_the_stream_sends_events_as_they_happen(store: Store, book: object) -> None:
    import uvicorn

    app = create_app(store, [book], local_user="ann")  # type: ignore[list-item]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    got: list[dict] = []  # type: ignore[type-arg]

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api,
            api.stream("GET", "/api/stream") as answer,  # from now on
        ):
            assert answer.headers["content-type"].startswith("text/event-stream")
            async for line in answer.aiter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                    if got[-1]["kind"] == "item.accepted":
                        return

    try:
        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.3)
        async with client(store, [book]) as api:
            body = {"playbook": "notes", "items": [{"id": "s", "objective": "x"}]}
            await api.post("/api/items", json=body)
        await run_engine(store, book)
        await asyncio.wait_for(listener, 20)
    finally:
        server.should_exit = True
        await serving
    assert got[0]["kind"] == "item.submitted"  # live: what happened before is not replayed
    assert [e["position"] for e in got] == list(range(got[0]["position"], got[-1]["position"] + 1))


def test_the_checked_in_openapi_spec_is_current(tmp_path: Path) -> None:
    from baton.store import MemoryStore

    spec = create_app(MemoryStore()).openapi()
    path = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
    assert path.exists(), "run: python -m baton.api.spec > docs/openapi.json"
    assert json.loads(path.read_text()) == spec, "docs/openapi.json is stale: regenerate it"


async def test_the_api_docs_page_needs_nothing_from_the_internet() -> None:
    import re

    from baton.store import MemoryStore

    async with client(MemoryStore(), []) as http:
        page = await http.get("/api/docs")
        assert page.status_code == 200 and "swagger" in page.text.lower()
        urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        urls += re.findall(r"""url: ?['"]([^'"]+)['"]""", page.text)
        assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
        for url in urls:  # the page's script, stylesheet, icon and the spec it reads
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url


def test_serve_refuses_to_listen_beyond_loopback_without_tokens(tmp_path: Path, baton) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(EXAMPLES / "approval", tmp_path / "approval")
    out = baton("serve", "approval/playbook.yaml", "--host", "0.0.0.0", "--port", "0")
    assert out.returncode == 2
    assert "refusing to listen on 0.0.0.0 (beyond loopback) without access control" in out.stderr
    made = baton("token", "create", "--role", "admin", "--name", "ops", check=True)
    assert made.stdout.startswith("baton_") and "not shown again" in made.stderr
    listed = json.loads(baton("token", "list", "--json", check=True).stdout)
    assert [(t["name"], t["role"]) for t in listed] == [("ops", "admin")]
    bad = baton("token", "create", "--role", "boss", "--name", "x")
    assert bad.returncode == 2 and "'boss' is not one of" in bad.stderr


async def test_a_scrape_reads_only_the_counters_it_shows(
    store: Store, book: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/metrics once read every counter, the hourly series too (108,783 of 114,748 on a
    100,000-item store spanning 35 days), then scanned them for every histogram."""
    async with client(store, [book]) as api:
        await api.post("/api/items", json={"playbook": "notes", "items": [{"objective": "x"}]})
        await run_engine(store, book)
        whole = (await api.get("/metrics")).text
        asked: list[str] = []
        tallies = store.tallies

        async def tracked(prefix: str = "") -> dict[str, int]:
            asked.append(prefix)
            return await tallies(prefix)

        monkeypatch.setattr(store, "tallies", tracked)
        again = (await api.get("/metrics")).text
    assert asked and set(asked) <= {*SCRAPED, "meta|"}, asked  # never every counter
    for line in ("baton_items_submitted_total 1.0", "baton_cycle_time_seconds_count 1.0"):
        assert line in whole and line in again


async def test_audits_asked_at_once_share_one_verify(
    store: Store, book: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty viewers opening the audit at once ran twenty verifies on the event loop."""
    from baton.services import audit_verify

    runs: list[bool] = []
    verify = audit_verify.verify

    async def counted(*args: object, **kw: object) -> object:
        runs.append(bool(kw.get("full")))
        await asyncio.sleep(0.2)  # a verify takes a while: the others arrive meanwhile
        return await verify(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_verify, "verify", counted)
    async with client(store, [book]) as api:
        await api.post("/api/items", json={"playbook": "notes", "items": [{"objective": "x"}]})
        await run_engine(store, book)
        calls = [api.get("/api/audit") for _ in range(20)]
        calls += [api.get("/api/audit", params={"full": "true"}) for _ in range(5)]
        answers = await asyncio.gather(*calls)
        assert all(a.status_code == 200 and a.json()["ok"] for a in answers)
        assert sorted(runs) == [False, True]  # one of each kind
        await api.get("/api/audit")  # and a later call verifies again
        assert len(runs) == 3
