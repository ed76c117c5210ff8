"""Any OpenAI-compatible chat completions endpoint: OpenAI, Ollama, vLLM, a llama.cpp
server, LM Studio, a gateway. Async HTTP with connection reuse; retries with backoff and
jitter on 429, 5xx and dropped connections, honouring Retry-After; usage from the answer;
cost from the playbook's price table. The API key is read from an environment variable
the playbook names, and never appears in events or errors.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import weakref
from typing import Any, Literal
from urllib.parse import urlparse

import httpx
from pydantic import Field, field_validator

from ..config.plugin import BuildContext
from ..core.text import clip
from ..errors import AgentError
from .chat import ChatAgent, ChatAgentConfig
from .completions import Completion, Message, Price, Sampling

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
ERROR_LIMIT = 500  # of a server's error text quoted in an AgentError


class OpenAIAgentConfig(ChatAgentConfig):
    kind: Literal["openai"] = "openai"
    base_url: str = Field(description="e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1")
    model: str = Field(description="the model name the server knows")
    api_key_env: str | None = Field(
        None, description="environment variable holding the API key (kept out of events)"
    )
    timeout: float = Field(120.0, gt=0, description="seconds one request may take")
    connect_timeout: float = Field(10.0, gt=0)
    max_retries: int = Field(4, ge=0, description="retries on 429, 5xx and connection errors")
    backoff: float = Field(0.5, ge=0, description="first retry's base delay, doubled each time")
    backoff_max: float = Field(30.0, ge=0, description="longest wait between tries")
    prices: dict[str, Price] = Field(
        default_factory=dict, description="per model: money per million prompt/completion tokens"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    structured_format: Literal["json_schema", "json_object"] = Field(
        "json_schema",
        description="how a schema is sent: OpenAI's json_schema response format, or "
        "{type: json_object, schema} (llama-cpp-python's server)",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"expected an http(s) URL such as http://127.0.0.1:8000/v1, got {value!r}"
            )
        return value.rstrip("/")

    def build(self, name: str, ctx: BuildContext) -> ChatAgent:
        key = None
        if self.api_key_env:
            key = ctx.environ.get(self.api_key_env)
            if not key:
                raise ValueError(
                    f"api_key_env: the environment variable {self.api_key_env} is not set"
                )
        backend = OpenAIBackend(self, key)
        return ChatAgent(
            name, backend, self, ctx.template(self.prompt_template), self.prices.get(self.model)
        )

    def secret_names(self) -> list[str]:
        """The key's variable is a secret whether or not `secrets:` lists it."""
        names = list(self.secrets)
        if self.api_key_env and self.api_key_env not in names:
            names.append(self.api_key_env)
        return names


class OpenAIBackend:
    """POSTs to {base_url}/chat/completions; one connection pool per event loop."""

    def __init__(self, config: OpenAIAgentConfig, api_key: str | None) -> None:
        self.config = config
        self.model = config.model
        self.url = f"{config.base_url}/chat/completions"
        self._headers = {"Content-Type": "application/json", **config.headers}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            c = self.config
            client = httpx.AsyncClient(
                headers=self._headers,
                timeout=httpx.Timeout(c.timeout, connect=c.connect_timeout),
                limits=httpx.Limits(max_connections=max(c.concurrency, 1) * 2),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        for client in list(self._clients.values()):
            await client.aclose()
        self._clients.clear()

    def body(self, messages: list[Message], sampling: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {
            **sampling.extra,
            "model": self.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.schema is not None:
            if self.config.structured_format == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": sampling.schema, "strict": False},
                }
            else:
                body["response_format"] = {"type": "json_object", "schema": sampling.schema}
        return body

    async def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        body = self.body(messages, sampling)
        c = self.config
        tries = c.max_retries + 1
        last = ""
        for n in range(1, tries + 1):
            wait: float | None = None
            try:
                response = await self._client().post(self.url, json=body)
            except httpx.TimeoutException:
                last = f"no answer within {c.timeout:g}s"
            except httpx.TransportError as exc:
                last = f"connection failed: {type(exc).__name__}: {exc or 'no details'}"
            else:
                if response.status_code == 200:
                    return self._parse(response)
                last = f"HTTP {response.status_code}: {_error_text(response)}"
                if response.status_code in (401, 403):
                    hint = (
                        f"check the API key in ${c.api_key_env}"
                        if c.api_key_env
                        else ("the server wants an API key: set api_key_env")
                    )
                    raise AgentError(f"{self.url} refused the request ({last}): {hint}")
                if response.status_code not in RETRY_STATUSES:
                    raise AgentError(f"{self.url} rejected the request ({last})")
                wait = _retry_after(response.headers.get("retry-after"))
            if n < tries:
                delay = random.uniform(0, min(c.backoff_max, c.backoff * 2 ** (n - 1)))
                await asyncio.sleep(min(c.backoff_max, wait) if wait is not None else delay)
        raise AgentError(f"{self.url} failed after {tries} tries; last: {last}")

    def _parse(self, response: httpx.Response) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise AgentError(
                f"{self.url} answered 200 without a chat completion: "
                f"{clip(response.text, ERROR_LIMIT)!r}"
            ) from None
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return clip(response.text.strip(), ERROR_LIMIT) or response.reason_phrase
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return clip(str(error["message"]), ERROR_LIMIT)
    if isinstance(error, str):
        return clip(error, ERROR_LIMIT)
    return clip(response.text.strip(), ERROR_LIMIT)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
