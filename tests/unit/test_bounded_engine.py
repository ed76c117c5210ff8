"""Bounded records through the engine (memory store): the events stay small while what
the engine decides and hands on sees the whole values."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from baton.config.playbook import AgentSlot, Playbook
from baton.config.sections import BudgetModel
from baton.core.bounds import is_ref
from baton.core.records import Assignment, Candidate
from baton.core.vocabulary import Outcome
from baton.errors import InputError
from baton.runtime.engine import Engine
from baton.store import MemoryStore
from baton.testing import FunctionAgent, FunctionVerifier, run_items

EVIDENCE = "".join(f"check line {i:05d}\n" for i in range(2000))  # 34 KB


async def test_feedback_from_a_huge_failed_check_is_the_text_not_a_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATON_EVENT_BYTES", "16384")
    given: list[list[dict[str, Any]]] = []

    def work(task: Assignment) -> str:
        given.append([dict(f) for f in task.feedback])
        return f"attempt {task.attempt}"

    def strict(candidate: Candidate) -> tuple[bool, str]:
        return candidate.attempt == 2, EVIDENCE

    book = Playbook.build(
        "b",
        agents={"w": AgentSlot(FunctionAgent("w", work))},
        verifiers={"strict": FunctionVerifier("strict", strict)},
        budget=BudgetModel(attempts=2),
    )
    store = MemoryStore()
    state = next(iter((await run_items(book, ["x"], store=store)).values()))
    assert state.outcome is Outcome.ACCEPTED
    (message,) = [f["message"] for f in given[1]]
    assert isinstance(message, str) and message.startswith("check line 00000")
    events = await store.read(limit=1000)
    assert max(len(orjson.dumps(e.data)) for e in events) <= 16384
    first = next(e for e in events if e.kind == "check.recorded")
    assert is_ref(first.data["evidence"])


async def test_a_reference_the_store_cannot_resolve_does_not_stop_the_engine() -> None:
    fake = {"$blob": "sha256:" + "0" * 64, "bytes": 5, "json": False, "preview": "hello"}
    seen: list[Any] = []

    def work(task: Assignment) -> str:
        seen.append(task.inputs["x"])
        return "done"

    book = Playbook.build("f", agents={"w": AgentSlot(FunctionAgent("w", work))})
    from baton.config.items import ItemSpec

    states = await run_items(book, [ItemSpec(objective="o", inputs={"x": fake})])
    state = next(iter(states.values()))
    assert state.outcome is Outcome.ACCEPTED
    assert seen == [
        "hello… [5 bytes in all, 0 more: baton blob sha256:" + "0" * 64 + "] "
        "(its blob is missing from the store)"
    ]


@pytest.mark.parametrize("limit", [100, 4095])
def test_an_engine_refuses_a_limit_too_small_for_a_reference(limit: int) -> None:
    book = Playbook.build("e", agents={"w": AgentSlot(FunctionAgent("w", lambda t: "x"))})
    with pytest.raises(InputError, match="expected at least 4096 bytes"):
        Engine(MemoryStore(), book, event_bytes=limit)
