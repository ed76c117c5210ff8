"""The on-device agent with the real packaged model (SmolLM2-135M-Instruct via llama.cpp)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from baton.agents.llama import LlamaAgentConfig, LocalModel, packaged_model
from baton.config.loading import load_playbook
from baton.config.plugin import BuildContext
from baton.core.records import AgentResult, Assignment
from baton.core.vocabulary import Outcome
from baton.errors import AgentError
from baton.testing import run_items

if os.environ.get("CI") != "true":
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (baton[llama])")

SCHEMA = {
    "type": "object",
    "properties": {
        "colour": {"enum": ["red", "green", "blue"]},
        "reason": {"type": "string", "minLength": 3, "maxLength": 80},
    },
    "required": ["colour", "reason"],
    "additionalProperties": False,
}


def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton")


def task(**kw: object) -> Assignment:
    fields: dict[str, object] = {
        "item_id": "it",
        "attempt": 1,
        "objective": "Name the colour of the sky.",
    }
    return Assignment(**{**fields, **kw})  # type: ignore[arg-type]


def test_the_default_model_is_the_packaged_gguf() -> None:
    path = packaged_model()
    assert path.suffix == ".gguf" and path.is_file()
    assert path.read_bytes()[:4] == b"GGUF"


async def test_a_real_completion_counts_the_models_tokens(tmp_path: Path) -> None:
    agent = LlamaAgentConfig(max_tokens=24, temperature=0.0, seed=1).build("m", ctx(tmp_path))
    result = await agent.run(task())
    assert isinstance(result, AgentResult) and result.text.strip()
    assert result.usage.prompt_tokens > 10 and 0 < result.usage.completion_tokens <= 24
    assert result.usage.cost == 0.0 and result.data is None


async def test_structured_output_meets_the_items_schema(tmp_path: Path) -> None:
    agent = LlamaAgentConfig(structured=True, max_tokens=60, seed=1).build("m", ctx(tmp_path))
    acceptance = ({"name": "shape", "kind": "json_schema", "schema": SCHEMA},)
    for attempt in (1, 2, 3):  # sampled at temperature 0.2: every answer must fit
        result = await agent.run(task(acceptance=acceptance, attempt=attempt))
        assert isinstance(result, AgentResult)
        assert result.data == json.loads(result.text)
        assert not list(Draft202012Validator(SCHEMA).iter_errors(result.data))


def test_agents_naming_one_model_share_it_and_raise_its_limit(tmp_path: Path) -> None:
    a = LlamaAgentConfig(n_ctx=1024).build("a", ctx(tmp_path))
    b = LlamaAgentConfig(n_ctx=1024, model_concurrency=2).build("b", ctx(tmp_path))
    assert a.backend is b.backend
    assert isinstance(a.backend, LocalModel) and a.backend.limit == 2
    other = LlamaAgentConfig(n_ctx=512).build("c", ctx(tmp_path))
    assert other.backend is not a.backend


async def test_a_cancelled_completion_stops_and_frees_the_model(tmp_path: Path) -> None:
    agent = LlamaAgentConfig(n_ctx=2048, max_tokens=1900, temperature=1.0).build("m", ctx(tmp_path))
    long = asyncio.ensure_future(agent.run(task(objective="Write a very long story.")))
    await asyncio.sleep(1.0)
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long
    # with one slot, the next completion runs only once the cancelled one has stopped;
    # 1,900 tokens would take far longer than this on two cores
    short = LlamaAgentConfig(n_ctx=2048, max_tokens=8).build("n", ctx(tmp_path))
    result = await asyncio.wait_for(short.run(task()), 20)
    assert isinstance(result, AgentResult)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": "missing.gguf"}, r"model .*missing\.gguf: no such file"),
        (
            {"extra": {"top_k": 5, "beam": 2}},
            r"extra: llama.cpp has no sampling parameter \['beam'\]",
        ),
        ({"prompt_template": "nope.txt"}, "cannot read prompt_template"),
    ],
)
def test_configuration_that_cannot_work_fails_at_build(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LlamaAgentConfig(**config).build("m", ctx(tmp_path))  # type: ignore[arg-type]


async def test_a_file_that_is_not_a_model_is_a_clear_agent_error(tmp_path: Path) -> None:
    (tmp_path / "fake.gguf").write_bytes(b"not a model")
    agent = LlamaAgentConfig(model="fake.gguf").build("m", ctx(tmp_path))
    with pytest.raises(AgentError, match=r"cannot load model .*fake\.gguf"):
        await agent.run(task())


async def test_a_playbook_runs_the_loop_on_the_model(tmp_path: Path) -> None:
    (tmp_path / "shape.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "playbook.yaml").write_text(
        "name: colours\n"
        "agents:\n"
        "  m: {kind: llama, structured: true, max_tokens: 60, seed: 3}\n"
        "verifiers:\n"
        "  shape: {kind: json_schema, schema_file: shape.json}\n"
        "  judged: {kind: judge, agent: m, rubric: names a colour, threshold: 1}\n"
        "budget: {attempts: 2}\n"
    )
    book = load_playbook(tmp_path / "playbook.yaml", state_dir=tmp_path / ".baton")
    assert book.acceptance(["shape"])[0]["schema"] == SCHEMA, "the schema file's content"
    (state,) = (await run_items(book, ["Name the colour of the sky."])).values()
    first = state.attempts[0]
    assert first.checks["shape"]["passed"], first.checks["shape"]["evidence"]
    assert (
        "score" in first.checks["judged"]["evidence"]
        or "no score" in first.checks["judged"]["evidence"]
    )
    assert state.tokens > 0
    assert state.outcome in (Outcome.ACCEPTED, Outcome.ESCALATED)
