"""The OpenAI-compatible agent against a real server: the one llama-cpp-python ships
(`python -m llama_cpp.server`), with the packaged model, on a free loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton.agents.openai import OpenAIAgentConfig
from baton.config.loading import load_playbook
from baton.config.plugin import BuildContext
from baton.core.records import AgentResult, Assignment
from baton.core.vocabulary import Outcome
from baton.testing import run_items

if os.environ.get("CI") != "true":
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")

SCHEMA = {
    "type": "object",
    "properties": {
        "colour": {"enum": ["red", "green", "blue"]},
        "reason": {"type": "string", "maxLength": 60},
    },
    "required": ["colour", "reason"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from baton.agents.llama import packaged_model

    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(packaged_model()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "1",  # llama.cpp's threads spin: on a busy 2-core machine, one is fastest
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"llama_cpp.server exited {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"llama_cpp.server did not answer in 90s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ctx(tmp_path: Path) -> BuildContext:
    return BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton", environ={})


async def test_a_real_completion_with_the_models_token_counts(
    llama_server: str, tmp_path: Path
) -> None:
    agent = OpenAIAgentConfig(base_url=llama_server, model="smollm2", max_tokens=24, seed=1).build(
        "r", ctx(tmp_path)
    )
    result = await agent.run(
        Assignment(item_id="it", attempt=1, objective="Name the colour of the sky.")
    )
    assert isinstance(result, AgentResult) and result.text.strip()
    assert result.usage.prompt_tokens > 10 and 0 < result.usage.completion_tokens <= 24


async def test_structured_output_through_the_server(llama_server: str, tmp_path: Path) -> None:
    agent = OpenAIAgentConfig(
        base_url=llama_server,
        model="smollm2",
        max_tokens=80,
        structured=True,
        structured_format="json_object",
    ).build("r", ctx(tmp_path))
    acceptance = ({"name": "shape", "kind": "json_schema", "schema": SCHEMA},)
    result = await agent.run(
        Assignment(
            item_id="it", attempt=1, objective="Name the colour of the sky.", acceptance=acceptance
        )
    )
    assert isinstance(result, AgentResult)
    record = json.loads(result.text)
    assert record["colour"] in ("red", "green", "blue") and isinstance(record["reason"], str)


async def test_a_playbook_runs_on_the_server(llama_server: str, tmp_path: Path) -> None:
    (tmp_path / "playbook.yaml").write_text(
        "name: remote\n"
        "agents:\n"
        f"  r: {{kind: openai, base_url: '{llama_server}', model: smollm2, max_tokens: 40,"
        " prices: {smollm2: {prompt: 1.0, completion: 2.0}}}\n"
        "verifiers:\n"
        "  said: {kind: regex, pattern: '\\w+'}\n"
        "budget: {attempts: 1}\n"
    )
    book = load_playbook(tmp_path / "playbook.yaml", state_dir=tmp_path / ".baton")
    (state,) = (await run_items(book, ["Say hello."])).values()
    assert state.outcome is Outcome.ACCEPTED
    assert state.tokens > 0 and state.cost > 0
