"""GET /api/items at any store size: newest first, filtered, paged by a cursor that neither
repeats nor skips a row while work is submitted between pages (a real SQLite file, and
Redis where one answers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from baton import load_playbook
from baton.store.base import Store

from .test_api import PLAYBOOK, client


@pytest.fixture
def store(file_or_redis_store: Store) -> Store:
    return file_or_redis_store


@pytest.fixture
def books(tmp_path: Path) -> list[Any]:
    (tmp_path / "writer.py").write_text("def write(task):\n    return 'done: ' + task.objective\n")
    made = []
    for name in ("notes", "triage"):
        (tmp_path / f"{name}.yaml").write_text(PLAYBOOK.replace("name: notes", f"name: {name}"))
        made.append(load_playbook(tmp_path / f"{name}.yaml"))
    return made


async def submit(api: httpx.AsyncClient, playbook: str, item: str, objective: str) -> None:
    body = {"playbook": playbook, "items": [{"id": item, "objective": objective}]}
    answer = await api.post("/api/items", json=body)
    assert answer.status_code == 201, answer.text


async def ids(api: httpx.AsyncClient, **params: Any) -> tuple[list[str], str | None]:
    answer = await api.get("/api/items", params=params)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    return [i["item_id"] for i in page["items"]], page["next"]


async def test_items_page_newest_first_by_cursor_while_work_arrives(
    store: Store, books: list[Any]
) -> None:
    async with client(store, books) as api:
        for n in range(5):  # one submission each: each its own creation time
            await submit(api, "notes" if n % 2 else "triage", f"w{n}", f"Fix billing {n}")
        first, after = await ids(api, limit=2)
        assert first == ["w4", "w3"] and after is not None
        await submit(api, "notes", "late", "arrives between two pages")
        second, after = await ids(api, limit=2, cursor=after)
        assert second == ["w2", "w1"]
        last, after = await ids(api, limit=2, cursor=after)
        assert (last, after) == (["w0"], None)  # a short page is the last one
        assert (await ids(api, limit=2))[0] == ["late", "w4"]
        assert (await ids(api, order="oldest", limit=3))[0] == ["w0", "w1", "w2"]

        assert (await ids(api, playbook="notes"))[0] == ["late", "w3", "w1"]
        assert (await ids(api, queue="notes", order="oldest"))[0] == ["w1", "w3", "late"]
        assert (await ids(api, text="BILLING 3"))[0] == ["w3"]
        assert (await ids(api, text="billing", playbook="triage"))[0] == ["w4", "w2", "w0"]
        assert (await ids(api, text="nothing like it"))[0] == []
        page = (await api.get("/api/items", params={"limit": 1})).json()
        assert page["order"] == "newest" and page["counts"] == {"queued": 6}


async def test_bad_paging_input_is_refused_and_says_which_field(
    store: Store, books: list[Any]
) -> None:
    async with client(store, books) as api:
        await submit(api, "notes", "only", "x")
        cases = [
            ({"cursor": "not-a-cursor"}, "query.cursor", "not a cursor this server handed out"),
            ({"cursor": "WzEsMl0"}, "query.cursor", "not a cursor"),  # [1,2]: no id
            ({"order": "sideways"}, "query.order", "newest"),
            ({"playbook": "notes", "queue": "triage"}, "query.playbook", "'triage'"),
            ({"text": ""}, "query.text", "at least 1 character"),
        ]
        for params, field, message in cases:
            answer = await api.get("/api/items", params=params)
            assert answer.status_code == 422, (params, answer.text)
            problems = answer.json()["problems"]
            assert [p["field"] for p in problems] == [field], problems
            assert message in problems[0]["message"], problems
        assert (await ids(api, playbook="notes", queue="notes"))[0] == ["only"]


async def test_items_filter_by_tag_and_by_the_agents_they_ran_on(
    store: Store, books: list[Any], tmp_path: Path
) -> None:
    from baton import Engine

    async with client(store, books) as api:
        body = {
            "playbook": "notes",
            "items": [
                {"id": "t1", "objective": "a", "tags": ["billing", "q3"]},
                {"id": "t2", "objective": "b", "tags": ["q3"]},
                {"id": "t3", "objective": "c"},
            ],
        }
        assert (await api.post("/api/items", json=body)).status_code == 201
        assert (await ids(api, tag="q3", order="oldest"))[0] == ["t1", "t2"]
        assert (await ids(api, agent="writer"))[0] == []  # nothing ran yet
        ran = ["t1", "t2", "t3"]
        await Engine(store, books[0], poll_interval=0.01).run(ran, wait_for_people=False)
        assert (await ids(api, agent="writer", order="oldest"))[0] == ran
        assert (await ids(api, agent="nobody"))[0] == []
        assert (await ids(api, agent="writer", tag="billing"))[0] == ["t1"]
        row = (await api.get("/api/items", params={"tag": "billing"})).json()["items"][0]
        assert (row["tags"], row["agents"]) == (["billing", "q3"], ["writer"])


async def test_the_inbox_with_a_limit_reads_only_the_longest_waiting(
    store: Store, books: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from baton import Engine

    async with client(store, books) as api:
        body = {
            "playbook": "notes",
            "items": [{"id": f"r{n}", "objective": "x", "risk": "high"} for n in range(4)],
        }
        assert (await api.post("/api/items", json=body)).status_code == 201
        ran = [f"r{n}" for n in range(4)]
        await Engine(store, books[0], poll_interval=0.01).run(ran, wait_for_people=False)
        everything = (await api.get("/api/inbox")).json()
        assert sorted(e["item"] for e in everything) == ran
        loaded: list[str] = []
        load = store.load

        async def counted(log: str, after: int = 0) -> list[Any]:
            loaded.append(log)
            return await load(log, after)

        monkeypatch.setattr(store, "load", counted)
        first = (await api.get("/api/inbox", params={"limit": 2})).json()
        assert [e["item"] for e in first] == [e["item"] for e in everything[:2]]
        assert sorted(loaded) == sorted(e["item"] for e in first)  # not every waiting log
