"""ChatAgent: the shared part of every model-backed agent, over a scripted backend."""

from __future__ import annotations

from typing import Any

import pytest

from baton.agents.chat import ChatAgent, ChatAgentConfig, schema_of
from baton.agents.completions import Completion, Price, Sampling
from baton.core.records import Assignment
from baton.errors import AgentError
from baton.testing import ScriptedBackend

SCHEMA = {"type": "object", "properties": {"severity": {"enum": ["low", "high"]}}}
ACCEPTANCE = (
    {"name": "shape", "kind": "json_schema", "description": "d", "schema": SCHEMA},
    {"name": "mentions", "kind": "contains", "description": "says severity"},
)


def task(**kw: Any) -> Assignment:
    return Assignment(item_id="it", attempt=1, objective="triage the report", **kw)


async def test_the_task_is_the_user_message_and_usage_is_the_models() -> None:
    backend = ScriptedBackend(Completion("severity: high", 40, 3, "stop"))
    config = ChatAgentConfig(
        kind="x", system="be brief", temperature=0.0, max_tokens=7, stop=["\n\n"], seed=1
    )
    agent = ChatAgent("m", backend, config, price=Price(prompt=1.0, completion=2.0))
    result = await agent.run(task(inputs={"report": "crash"}, acceptance=ACCEPTANCE))
    messages, sampling = backend.calls[0]
    assert messages[0] == {"role": "system", "content": "be brief"}
    assert messages[1]["role"] == "user"
    assert (
        "triage the report" in messages[1]["content"]
        and '"report": "crash"' in messages[1]["content"]
    )
    assert sampling == Sampling(0.0, 7, ("\n\n",), 1, None), "unstructured: no schema sent"
    assert (result.text, result.data) == ("severity: high", None)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (40, 3)
    assert result.usage.cost == pytest.approx((40 * 1.0 + 3 * 2.0) / 1e6)


async def test_structured_sends_the_items_schema_and_parses_the_answer() -> None:
    backend = ScriptedBackend(Completion('{"severity": "low"}', 10, 5))
    agent = ChatAgent("m", backend, ChatAgentConfig(kind="x", structured=True))
    result = await agent.run(task(acceptance=ACCEPTANCE))
    assert backend.calls[0][1].schema == SCHEMA
    assert result.data == {"severity": "low"} and result.usage.cost == 0.0


async def test_structured_without_a_schema_in_the_acceptance_answers_freely() -> None:
    backend = ScriptedBackend(Completion("free text", 1, 1))
    agent = ChatAgent("m", backend, ChatAgentConfig(kind="x", structured=True))
    assert (await agent.run(task())).data is None
    assert backend.calls[0][1].schema is None


async def test_an_empty_answer_fails_the_attempt_and_keeps_its_tokens() -> None:
    agent = ChatAgent(
        "m", ScriptedBackend(Completion("  \n", 30, 0, "length")), ChatAgentConfig(kind="x")
    )
    with pytest.raises(
        AgentError, match=r"model scripted gave an empty answer \(finish reason: length\)"
    ) as e:
        await agent.run(task())
    assert e.value.usage is not None and e.value.usage.prompt_tokens == 30


def test_several_schemas_must_all_hold() -> None:
    other = {"type": "object", "required": ["severity"]}
    both = ({**ACCEPTANCE[0]}, {"name": "b", "kind": "json_schema", "schema": other})
    assert schema_of(task(acceptance=both)) == {"allOf": [SCHEMA, other]}
    unread = ({"name": "c", "kind": "json_schema", "schema": {"file": "x.json"}},)
    assert schema_of(task(acceptance=unread)) is None
