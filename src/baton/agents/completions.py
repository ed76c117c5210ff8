"""What a chat backend is: one completion of a list of messages, how to sample it, and
what it costs. The on-device (llama.cpp) and OpenAI-compatible backends implement
`ChatBackend`; `ChatAgent` (chat.py) asks one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Completion:
    """One chat completion as a backend returns it: text and tokens as the model counted."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Sampling:
    """How to sample one completion."""

    temperature: float
    max_tokens: int
    stop: tuple[str, ...] = ()
    seed: int | None = None
    schema: dict[str, Any] | None = None  # constrain the output to this JSON Schema
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific, passed as is


class ChatBackend(Protocol):
    """Completes one chat; raises AgentError with a clear reason when it cannot."""

    model: str

    async def complete(self, messages: list[Message], sampling: Sampling) -> Completion: ...


class Price(BaseModel):
    """Money per million tokens, as providers publish it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt: float = Field(0.0, ge=0, description="per million prompt (input) tokens")
    completion: float = Field(0.0, ge=0, description="per million completion (output) tokens")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6
