"""The OpenAI-compatible agent against real HTTP servers on loopback: a scripted one for
the error paths, and in test_openai_llama_server.py the server llama-cpp-python ships."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from baton.agents.openai import OpenAIAgentConfig, _retry_after
from baton.config.loading import load_playbook
from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AgentResult, Assignment
from baton.errors import AgentError

KEY = "sk-test-0123456789"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(text: str = "hello", prompt: int = 12, done: int = 3) -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": done},
    }


class Scripted:
    """Answers each POST with the next scripted reply (the last one repeats)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply(body=completion())]
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                script.requests.append((dict(self.headers), body))
                n = len(script.requests) - 1
                reply = script.replies[min(n, len(script.replies) - 1)]
                if reply.delay:
                    time.sleep(reply.delay)
                raw = (
                    reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                )
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.server.shutdown()
    s.server.server_close()


def agent(url: str, tmp_path: Path, **kw: Any) -> Any:
    config = {"base_url": url, "model": "m1", "api_key_env": "TEST_KEY", "backoff": 0.01, **kw}
    ctx = BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton", environ={"TEST_KEY": KEY})
    return OpenAIAgentConfig(**config).build("remote", ctx)


def task(**kw: Any) -> Assignment:
    return Assignment(**{"item_id": "it", "attempt": 1, "objective": "say hello", **kw})


async def test_a_completion_with_usage_cost_and_the_request_it_sent(
    server: Scripted, tmp_path: Path
) -> None:
    a = agent(
        server.url,
        tmp_path,
        seed=5,
        stop=["END"],
        prices={"m1": {"prompt": 2.0, "completion": 10.0}},
    )
    result = await a.run(task(attempt=2))
    assert isinstance(result, AgentResult)
    assert result.text == "hello"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 3)
    assert result.usage.cost == pytest.approx((12 * 2.0 + 3 * 10.0) / 1e6)
    ((headers, body),) = server.requests
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == "m1" and body["max_tokens"] == 512 and body["stop"] == ["END"]
    assert body["seed"] == 6, "attempt 2 samples with seed + 1"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "say hello" in body["messages"][1]["content"]
    assert "response_format" not in body


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "json_schema",
            {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": False},
            },
        ),
        ("json_object", {"type": "json_object", "schema": {"type": "object"}}),
    ],
)
async def test_structured_output_sends_the_items_schema(
    server: Scripted, tmp_path: Path, fmt: str, expected: dict[str, Any]
) -> None:
    server.replies = [Reply(body=completion('{"a": 1}'))]
    a = agent(server.url, tmp_path, structured=True, structured_format=fmt, extra={"top_k": 3})
    acceptance = ({"name": "s", "kind": "json_schema", "schema": {"type": "object"}},)
    result = await a.run(task(acceptance=acceptance))
    assert result.data == {"a": 1}
    body = server.requests[0][1]
    assert body["response_format"] == expected and body["top_k"] == 3


async def test_a_500_then_a_200_is_retried(server: Scripted, tmp_path: Path) -> None:
    server.replies = [
        Reply(500, {"error": {"message": "overloaded"}}),
        Reply(body=completion("ok")),
    ]
    result = await agent(server.url, tmp_path).run(task())
    assert result.text == "ok" and len(server.requests) == 2


async def test_429_waits_as_retry_after_says(server: Scripted, tmp_path: Path) -> None:
    server.replies = [
        Reply(429, {"error": "slow down"}, {"Retry-After": "0.3"}),
        Reply(body=completion()),
    ]
    started = time.monotonic()
    await agent(server.url, tmp_path, backoff=0).run(task())
    assert len(server.requests) == 2
    assert time.monotonic() - started >= 0.3, "the server's Retry-After was honoured"


async def test_a_server_that_never_answers_in_time_fails_after_the_retries(
    server: Scripted, tmp_path: Path
) -> None:
    server.replies = [Reply(body=completion(), delay=1.5)]
    with pytest.raises(
        AgentError, match=r"/chat/completions failed after 3 tries; last: no answer within 0.3s"
    ):
        await agent(server.url, tmp_path, timeout=0.3, max_retries=2).run(task())
    assert len(server.requests) == 3


async def test_a_wrong_key_fails_at_once_without_naming_it(
    server: Scripted, tmp_path: Path
) -> None:
    server.replies = [Reply(401, {"error": {"message": "Incorrect API key provided"}})]
    with pytest.raises(AgentError) as e:
        await agent(server.url, tmp_path).run(task())
    message = str(e.value)
    assert (
        "HTTP 401: Incorrect API key provided" in message
        and "check the API key in $TEST_KEY" in message
    )
    assert KEY not in message
    assert len(server.requests) == 1, "no retry loop on a wrong key"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(400, {"error": {"message": "max_tokens is too large"}}),
            r"rejected the request \(HTTP 400: max_tokens is too large\)",
        ),
        (
            Reply(404, b"<html>no such route</html>"),
            r"rejected the request \(HTTP 404: <html>no such route</html>\)",
        ),
        (Reply(200, {"object": "list", "data": []}), r"answered 200 without a chat completion"),
        (Reply(200, b"not json"), r"answered 200 without a chat completion: 'not json'"),
    ],
)
async def test_other_failures_are_specific(
    server: Scripted, tmp_path: Path, reply: Reply, message: str
) -> None:
    server.replies = [reply]
    with pytest.raises(AgentError, match=message):
        await agent(server.url, tmp_path).run(task())
    assert len(server.requests) == 1


async def test_a_closed_port_fails_after_the_retries(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        AgentError, match=r"failed after 2 tries; last: connection failed: ConnectError"
    ):
        await agent(f"http://127.0.0.1:{port}/v1", tmp_path, max_retries=1).run(task())


def test_configuration_errors_are_specific(tmp_path: Path) -> None:
    assert kinds("baton.agents").found["openai"] is OpenAIAgentConfig
    ctx = BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton", environ={})
    with pytest.raises(ValueError, match="the environment variable NOPE_KEY is not set"):
        OpenAIAgentConfig(base_url="http://x/v1", model="m", api_key_env="NOPE_KEY").build("a", ctx)
    with pytest.raises(ValueError, match="expected an http\\(s\\) URL"):
        OpenAIAgentConfig(base_url="localhost:8000", model="m")


def test_the_key_variable_is_a_secret_of_the_playbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMOTE_KEY", KEY)
    (tmp_path / "playbook.yaml").write_text(
        "name: remote\nagents:\n  r: {kind: openai, base_url: 'http://127.0.0.1:9/v1', model: m, api_key_env: REMOTE_KEY}\n"
    )
    book = load_playbook(tmp_path / "playbook.yaml")
    assert book.agents["r"].secrets == ("REMOTE_KEY",)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (_retry_after(future) or 0) <= 31
