"""A best-of-N round running in one engine: its attempts' tasks, which of them run, and the
lock that records their results and the gates' verdicts one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Round:
    """A best-of-N round running in this engine: its attempts' tasks, and one lock so their
    results and the gates' verdicts are recorded one at a time."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.running: set[int] = set()  # attempts whose agents run here (decide knows them)
        self.recording: set[int] = set()  # attempts past their agent, recording the result
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, n: int, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"attempt-{n}")
        self.tasks[n] = task
        task.add_done_callback(lambda _: self.tasks.pop(n, None))

    async def wait(self, *, every: bool) -> None:
        """Until one attempt (or every attempt) has finished and been recorded."""
        tasks = list(self.tasks.values())
        if not tasks:
            return
        done, _ = await asyncio.wait(
            tasks, return_when=asyncio.ALL_COMPLETED if every else asyncio.FIRST_COMPLETED
        )
        for task in done:
            task.result()  # an engine bug in a member surfaces here

    async def stop(self) -> list[int]:
        """Cancel the attempts still in their agent; let those recording a result finish.
        Returns the attempts that were stopped."""
        stopped = [n for n, t in self.tasks.items() if n not in self.recording and not t.done()]
        for n in stopped:
            self.tasks[n].cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        return stopped
