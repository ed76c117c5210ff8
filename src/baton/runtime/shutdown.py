"""How an engine stops, in two stages.

Draining: it claims nothing more and starts no attempt (nor scopes an item); the attempts
in flight go on, with their verification and review, for up to a grace period. Halting
(the grace ran out, or a stop at once was asked for): the attempts still running are
stopped and recorded as abandoned by this engine, with why; a gate that was running is
left undone (nothing recorded: the next engine runs it again). Either way the engine then
gives back its leases, so another takes the items over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_GRACE = 25.0
"""Seconds attempts in flight get to finish once a stop signal arrives: under the 30 s a
Kubernetes pod gets before SIGKILL (docker stop waits only 10 s: give it `-t 30`)."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The work was cancelled because the engine is stopping."""


class Latch(asyncio.Event):
    """An Event that also calls back when it is set: what `unless` needs to interrupt
    work without a waiting task of its own (two tasks per step cost the engine most of its
    throughput)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], object]] = []

    def on_set(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` when the latch is set; returns the undo."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def set(self) -> None:
        if self.is_set():
            return
        super().set()
        for callback in list(self._callbacks):
            callback()


class Shutdown:
    """An engine's stop: `drain(grace)`, then (after the grace, or at once) `halt`."""

    def __init__(self) -> None:
        self.draining = Latch()
        self.halted = Latch()
        self.why = ""  # why attempts were halted, as recorded
        self._timer: asyncio.TimerHandle | None = None
        self._wakers: list[Callable[[], None]] = []

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when draining or halting begins; returns the undo."""
        self._wakers.append(callback)
        return lambda: self._wakers.remove(callback)

    def drain(self, grace: float | None, why: str = "") -> None:
        """Stop taking work; halt after `grace` seconds (None: let attempts take as long as
        they take; 0: at once). A later call with a shorter grace brings the halt forward."""
        first = not self.draining.is_set()
        self.draining.set()
        if grace is not None and grace <= 0:
            self.halt(why or "it was stopped at once")
        elif grace is not None:
            loop = asyncio.get_running_loop()
            when = loop.time() + grace
            if self._timer is None or when < self._timer.when():
                if self._timer is not None:
                    self._timer.cancel()
                reason = f"its grace of {grace:g} s ran out" + (f" ({why})" if why else "")
                self._timer = loop.call_at(when, self.halt, reason)
        if first:
            self._wake()

    def halt(self, why: str) -> None:
        """Stop the attempts in flight now."""
        if self.halted.is_set():
            return
        self.draining.set()
        self.halted.set()
        self.why = why
        if self._timer is not None:
            self._timer.cancel()
        self._wake()

    def _wake(self) -> None:
        for wake in list(self._wakers):
            wake()


async def unless(event: Latch, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, or Interrupted (the work cancelled) if `event` is set first.

    The work runs in the caller's task, which the latch cancels when it is set; that one
    cancellation is taken back (`uncancel`) and becomes Interrupted, while any other
    cancellation of the caller goes on as it is."""
    if event.is_set():
        work.close()
        raise Interrupted
    task = asyncio.current_task()
    assert task is not None, "unless runs inside a task"
    fired = False

    def interrupt() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    undo = event.on_set(interrupt)
    try:
        result = await work
    except asyncio.CancelledError:
        if fired and task.uncancel() == 0:
            raise Interrupted from None
        raise
    finally:
        undo()
    if fired:  # the work returned although it was cancelled: the cancellation is spent
        task.uncancel()
    return result


@dataclass
class Signals:
    """The stop signals a process received while `stop_on_signals` listened."""

    received: list[signal.Signals] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """128 + the first signal's number, as a shell reports a process it ended."""
        return 128 + int(self.received[0]) if self.received else 0


@contextlib.contextmanager
def stop_on_signals(
    stop: Callable[[float | None, str], None],
    grace: float,
    say: Callable[[str], None],
    what: str = "the engine",
) -> Iterator[Signals]:
    """While inside: the first SIGINT (Ctrl-C) or SIGTERM (systemd, docker stop,
    Kubernetes) drains (`stop(grace, ...)`), the next stops at once (`stop(0, ...)`);
    `say` tells the person at the terminal what is happening. Needs a running loop."""
    loop = asyncio.get_running_loop()
    signals = Signals()

    def handle(sig: signal.Signals) -> None:
        signals.received.append(sig)
        name = "Ctrl-C" if sig is signal.SIGINT else sig.name
        if len(signals.received) == 1:
            stop(grace, sig.name)
            say(
                f"{name}: {what} is stopping: no new work; attempts in flight have up to "
                f"{grace:g} s to finish (Ctrl-C or SIGTERM again stops them at once)"
            )
        else:
            stop(0, f"asked to stop at once ({sig.name} again)")
            say(f"{name} again: {what} stops at once (attempts in flight are stopped, on record)")

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, handle, sig)
    try:
        yield signals
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
