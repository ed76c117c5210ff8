"""What every model-backed agent shares: the chat messages built from a task, structured
output from the item's JSON schema, token usage and cost. A backend only completes chats.

The `llama` (on-device) and `openai` (any OpenAI-compatible endpoint) agents are a
`ChatAgent` over their backend, so a playbook moves between them by changing one block.
With `edits:` the agent changes files in the attempt's working folder instead of answering
with text: that step lives in edits.py and asks the model through `ChatAgent.ask`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..config.plugin import AgentConfig
from ..config.prompts import render_task
from ..core.records import AgentResult, Assignment, Usage
from ..core.text import extract_json
from ..errors import AgentError
from .completions import ChatBackend, Completion, Message, Price, Sampling
from .edits import EditsConfig, FileEditor

DEFAULT_SYSTEM = (
    "You are a careful assistant doing one task. Follow the objective exactly. "
    "When the checks ask for JSON, answer with that JSON only."
)


class ChatAgentConfig(AgentConfig):
    """The settings every model-backed agent has; backends add where the model is."""

    system: str = Field(DEFAULT_SYSTEM, description="the system message")
    prompt_template: str | None = Field(
        None, description="task template file (playbook-relative; $objective, $inputs, ...)"
    )
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(512, ge=1, description="most tokens one answer may have")
    stop: list[str] = Field(default_factory=list, description="strings that end the answer")
    seed: int | None = Field(
        None,
        description="sampling seed, for repeatable answers; attempt n samples with seed + n - 1, "
        "so a retry differs from the answer that failed",
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="more sampling parameters, passed to the backend as they are "
        "(llama.cpp: repeat_penalty, top_k, top_p, min_p; a server: what its API accepts)",
    )
    structured: bool = Field(
        False,
        description="when the item's acceptance includes a JSON schema, constrain the "
        "model's output to it (grammar-constrained on llama.cpp); with edits in files "
        "mode, to the shape of the files to write",
    )
    edits: EditsConfig | None = Field(
        None,
        description="the model edits files in the attempt's working folder (code work): "
        "mode (files: whole new contents as JSON; diff: a unified diff), context (globs of "
        "files shown to it), max_context_bytes",
    )

    def edits_files(self) -> bool:
        return self.edits is not None

    def sampling(self, schema: dict[str, Any] | None, attempt: int = 1) -> Sampling:
        seed = None if self.seed is None else self.seed + attempt - 1
        return Sampling(
            self.temperature, self.max_tokens, tuple(self.stop), seed, schema, self.extra
        )


class ChatAgent:
    """An agent that asks a chat model: the task as the user message, the answer as output."""

    def __init__(
        self,
        name: str,
        backend: ChatBackend,
        config: ChatAgentConfig,
        template: str | None = None,
        price: Price | None = None,
    ) -> None:
        self.name = name
        self.backend = backend
        self.config = config
        self.template = template
        self.price = price

    def messages(self, assignment: Assignment) -> list[Message]:
        return [
            {"role": "system", "content": self.config.system},
            {"role": "user", "content": render_task(assignment, self.template)},
        ]

    async def run(self, assignment: Assignment) -> AgentResult:
        if self.config.edits is not None:
            editor = FileEditor(
                self,
                self.config.edits,
                structured=self.config.structured,
                max_tokens=self.config.max_tokens,
            )
            return await editor.run(assignment)
        schema = schema_of(assignment) if self.config.structured else None
        done, usage = await self.ask(self.messages(assignment), schema, assignment.attempt)
        data = None
        if schema is not None:
            try:
                data = extract_json(done.text)
            except ValueError:
                data = None  # cut off at max_tokens, say: the schema check will tell
        return AgentResult(text=done.text, data=data, usage=usage)

    async def ask(
        self, messages: list[Message], schema: dict[str, Any] | None, attempt: int = 1
    ) -> tuple[Completion, Usage]:
        """One completion and what it cost; an empty answer is an AgentError (with usage)."""
        sampling = self.config.sampling(schema, attempt)
        done = await self.backend.complete(messages, sampling)
        cost = self.price.cost(done.prompt_tokens, done.completion_tokens) if self.price else 0.0
        usage = Usage(done.prompt_tokens, done.completion_tokens, cost)
        if not done.text.strip():
            raise AgentError(
                f"model {self.backend.model} gave an empty answer "
                f"(finish reason: {done.finish_reason or 'unknown'})",
                usage=usage,
            )
        return done, usage


def schema_of(assignment: Assignment) -> dict[str, Any] | None:
    """The JSON Schema the item's output must match, from its acceptance (None: there is none).

    Several schemas must all hold, so they are combined with allOf.
    """
    schemas = [
        a["schema"]
        for a in assignment.acceptance
        if a.get("kind") == "json_schema"
        and isinstance(a.get("schema"), dict)
        and "file" not in a["schema"]
    ]
    if not schemas:
        return None
    return schemas[0] if len(schemas) == 1 else {"allOf": schemas}
