"""Calling the function a python agent or verifier names: where it runs (on the event loop,
in a worker thread, or in a child process of its own) and how long it may take.

What a timeout or a stop (the item's time budget, `agents pause --stop`, the engine
halting) can do depends on where the function runs: a coroutine is cancelled and a child
process is killed (its process group: SIGTERM, then SIGKILL), before the call returns, so
nothing it does lands after the attempt is stopped; a thread cannot be interrupted in
Python, so the call stops waiting for it and the thread runs on to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .call_process import CallError, call_in_child
from .callables import import_callable

__all__ = ["CallError", "FunctionCall", "Isolation", "refuse_inline_process"]

Isolation = Literal["thread", "process"]
"""Where a sync function runs: a worker thread of baton's process, or a child process."""

log = logging.getLogger("baton.calls")

THREAD_NOTE = "a thread cannot be interrupted (isolate: process has the function killed)"


def refuse_inline_process(offload: bool, isolate: Isolation) -> None:
    """offload: false (on the event loop) and isolate: process contradict each other."""
    if not offload and isolate == "process":
        raise ValueError(
            "offload: false runs the function on the event loop, isolate: process in a "
            "child process: choose one"
        )


@dataclass(frozen=True)
class FunctionCall:
    """A playbook's `module:function`, called with one argument where it was told to run,
    within `timeout` seconds; CallError when it gives no value in time (or at all)."""

    spec: str
    paths: tuple[Path, ...]
    fn: Callable[[Any], Any]
    where: Literal["loop", "thread", "process"]
    timeout: float

    @classmethod
    def build(
        cls, spec: str, paths: Sequence[Path], *, isolate: Isolation, offload: bool, timeout: float
    ) -> FunctionCall:
        """Imported here even when it runs in a child: an import error is a load error."""
        refuse_inline_process(offload, isolate)
        fn = import_callable(spec, paths)
        if isolate == "process":
            where: Literal["loop", "thread", "process"] = "process"
        elif offload and not inspect.iscoroutinefunction(fn):
            where = "thread"
        else:  # a coroutine function only builds a coroutine when called: no thread needed
            where = "loop"
        return cls(spec, tuple(paths), fn, where, timeout)

    async def __call__(self, arg: Any) -> Any:
        if self.where == "process":
            return await call_in_child(self.spec, self.paths, arg, self.timeout)
        if self.where == "thread":
            return await self._in_thread(arg)
        return await self._on_loop(arg)

    async def _in_thread(self, arg: Any) -> Any:
        deadline = asyncio.get_running_loop().time() + self.timeout
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit:
                value = await in_own_thread(self.fn, arg, f"baton-call {self.spec}")
        except TimeoutError:
            if not limit.expired():
                raise  # the function's own TimeoutError
            late = self._late(f"it is still running in its thread: {THREAD_NOTE}")
            raise CallError(late) from None
        except asyncio.CancelledError:
            log.warning(
                "%s was stopped but goes on running in its thread until it returns: %s",
                self.spec,
                THREAD_NOTE,
            )
            raise
        return await self._awaited(value, deadline)

    async def _on_loop(self, arg: Any) -> Any:
        deadline = asyncio.get_running_loop().time() + self.timeout
        started = time.perf_counter()
        value = self.fn(arg)  # a sync function blocks the loop here: nothing can stop it
        if not inspect.isawaitable(value):
            seconds = time.perf_counter() - started
            if seconds > self.timeout:
                raise CallError(
                    f"{self.spec} returned after {seconds:.1f}s, past its timeout of "
                    f"{self.timeout:g}s; offload: false runs it on the event loop, where it "
                    "cannot be stopped (leave offload on, or use isolate: process)"
                )
            return value
        return await self._awaited(value, deadline)

    async def _awaited(self, value: Any, deadline: float) -> Any:
        """A coroutine (or other awaitable) the function returned, awaited until the
        deadline, then cancelled."""
        if not inspect.isawaitable(value):
            return value
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit:
                return await value
        except TimeoutError:
            if not limit.expired():
                raise
            raise CallError(self._late("it was cancelled")) from None

    def _late(self, what: str) -> str:
        return f"{self.spec} did not return within {self.timeout:g}s: {what}"


async def in_own_thread(fn: Callable[[Any], Any], arg: Any, name: str) -> Any:
    """`fn(arg)` on a daemon thread of its own, not asyncio's shared pool: a function that
    outlives its timeout holds no worker others need (blob writes, git, copies), and the
    process does not wait for it when it exits."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if done.done():  # nobody waits any more after a timeout or a stop
            return
        if ok:
            done.set_result(value)
        else:
            done.set_exception(value)

    def run() -> None:
        try:
            outcome = (True, context.run(fn, arg))
        except BaseException as exc:
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await done
