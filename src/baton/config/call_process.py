"""A python plugin's function called in a child process of its own.

The child is a fresh interpreter (`python -c`, never a fork of the engine's process and
its threads). It gets the function's spec, its folders and baton's `sys.path`, imports
the function as the engine did (its own folders first, so a playbook gets its own module
even when another playbook has one of the same name), unpickles the argument, calls the
function (a coroutine runs under `asyncio.run`) and answers with the value, or the
exception it raised with its traceback, pickled. The function's prints go to the child's
stderr, whose tail is kept for the error when the child dies.

Framing: an 8-byte length then the pickle, both ways (the request on stdin, the answer
on the child's original stdout). The child's stdin stays open while the call runs: when
it closes (baton's process ended, even by kill -9) the child kills its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from ..core.text import clip
from ..system.processes import DRAIN_SECONDS, signal_group
from .callables import import_callable

KILL_GRACE = 1.0
"""Seconds a child gets between SIGTERM and SIGKILL."""

STDERR_LIMIT = 4000
"""Characters of the child's stderr kept for an error."""

_SIZE = 8  # bytes of the length before each pickle
_SRC = str(Path(__file__).resolve().parents[2])  # the folder this baton is imported from
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from baton.config.call_process import serve; serve()"
)


class CallError(Exception):
    """The call gave no value: it did not return in time, its process died, or what it was
    given or returned cannot cross to a child process. The message says which, and what
    became of the function's code."""


class ChildTraceback(Exception):
    """The traceback of an exception raised in a child process, as text: chained as the
    cause of the exception raised here, so a traceback printed here shows both."""


class FunctionRaised(Exception):
    """An exception raised in a child process whose class cannot be rebuilt here (it could
    not be pickled, or not unpickled): its class name and message."""


async def call_in_child(spec: str, paths: Sequence[Path], arg: Any, timeout: float) -> Any:
    """`spec`'s function called with `arg` in a child process: its value, or the exception it
    raised (re-raised here); CallError past `timeout` (the child killed), when the child dies
    without answering, or when `arg` or the value cannot be pickled. A cancellation kills the
    child before it goes on: nothing the function does lands after it."""
    try:
        request = pickle.dumps(
            {"spec": spec, "paths": [str(p) for p in paths], "sys_path": sys.path, "arg": arg},
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    except Exception as exc:
        raise CallError(
            f"{spec}: cannot hand the {type(arg).__name__} to a child process "
            f"(isolate: process), it cannot be pickled: {exc}"
        ) from None
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _BOOT,
            _SRC,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: whatever it starts is stopped too
        )
    except OSError as exc:
        raise CallError(f"{spec}: could not start a child process: {exc}") from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    errors = bytearray()
    reading = asyncio.ensure_future(_keep_tail(proc.stderr, errors))
    limit = asyncio.timeout(timeout)
    try:
        try:
            async with limit:
                proc.stdin.write(len(request).to_bytes(_SIZE, "big") + request)
                await proc.stdin.drain()
                size = int.from_bytes(await proc.stdout.readexactly(_SIZE), "big")
                answer = await proc.stdout.readexactly(size)
        except TimeoutError:
            await stop(proc)
            tail = await _tail(reading, errors)
            raise CallError(
                f"{spec} did not return within {timeout:g}s: its process was killed{tail}"
            ) from None
        except asyncio.CancelledError:
            await stop(proc)  # before the cancellation goes on: nothing of it lands after
            raise
        except (asyncio.IncompleteReadError, ConnectionError):
            code = await _reaped(proc)
            tail = await _tail(reading, errors)
            raise CallError(
                f"{spec}: its process ended without an answer ({ended(code)}){tail}"
            ) from None
        await _reaped(proc)
    finally:
        reading.cancel()
        # closes the pipes (a grandchild may still hold stderr); the child is gone by now
        proc._transport.close()  # type: ignore[attr-defined]  # asyncio has no public way
    return _unpack(spec, answer)


async def stop(proc: asyncio.subprocess.Process) -> None:
    """End the child and its process group: SIGTERM, SIGKILL after KILL_GRACE seconds (or at
    once when this is cancelled too); returns once it is gone."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(KILL_GRACE):
            await proc.wait()
    except TimeoutError:
        pass
    finally:
        if proc.returncode is None:
            signal_group(proc.pid, signal.SIGKILL)  # it runs no more code from here on
    await proc.wait()


def ended(code: int | None) -> str:
    """How a process ended, as its return code says."""
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


async def _reaped(proc: asyncio.subprocess.Process) -> int | None:
    """Its return code once it exits (stopped if it does not within KILL_GRACE seconds)."""
    try:
        async with asyncio.timeout(KILL_GRACE):
            return await proc.wait()
    except TimeoutError:
        await stop(proc)
        return proc.returncode


async def _keep_tail(stream: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await stream.read(65536):
        into += chunk
        del into[: -STDERR_LIMIT * 4]


async def _tail(reading: asyncio.Future[None], errors: bytearray) -> str:
    """The end of the child's stderr, for an error ("" if it wrote nothing)."""
    await asyncio.wait({reading}, timeout=DRAIN_SECONDS)
    text = errors.decode("utf-8", errors="replace").strip()
    return f"\n{clip(text, STDERR_LIMIT)}" if text else ""


def _unpack(spec: str, raw: bytes) -> Any:
    try:
        answer = pickle.loads(raw)
    except Exception as problem:
        raise CallError(f"{spec}: cannot read what its process answered: {problem}") from None
    kind = answer[0]
    if kind == "value":
        return answer[1]
    if kind == "raised":
        _, blob, name, message, text = answer
        rebuilt: object = None
        if blob is not None:
            with contextlib.suppress(Exception):
                rebuilt = pickle.loads(blob)
        if not isinstance(rebuilt, Exception | SystemExit):
            rebuilt = FunctionRaised(f"{name}: {message}" if message else name)
        raise rebuilt from ChildTraceback("\n" + text.rstrip())
    raise CallError(f"{spec}: {answer[1]}")


# --- the child's side -------------------------------------------------------------------


def serve() -> None:
    """The child: read the request, call the function, answer, exit."""
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the function's prints go to stderr, not into the answer
    parent = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the function reads nothing of the request
    try:
        request = pickle.loads(_read(parent))
    except Exception as exc:
        _send(answer, ("failed", f"its process could not read the request: {exc}"))
        return
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True).start()
    own = list(request["paths"])
    sys.path[:] = own + [p for p in request["sys_path"] if p not in own]
    try:
        fn = import_callable(request["spec"], [Path(p) for p in own])
    except ValueError as exc:
        _send(answer, ("failed", f"in its process: {exc}"))
        return
    try:
        value = fn(request["arg"])
        if inspect.isawaitable(value):
            value = asyncio.run(_awaited(value))
    except BaseException as exc:  # a function's exit() is its answer too
        _send(answer, _raised(exc))
        return
    _send(answer, ("value", value))


def _read(fd: int) -> bytes:
    with os.fdopen(fd, "rb", closefd=False) as source:
        size = int.from_bytes(source.read(_SIZE), "big")
        data = source.read(size)
    if len(data) != size:
        raise EOFError("the request was cut short")
    return data


def _end_with_parent(fd: int) -> None:
    """baton's process closed the child's stdin: it ended (or gave up on the call)."""
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass
    os.killpg(os.getpgrp(), signal.SIGKILL)


async def _awaited(value: Any) -> Any:
    return await value


def _raised(exc: BaseException) -> tuple[Any, ...]:
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # not serve's own frame
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        blob: bytes | None = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        blob = None
    name = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "__main__"):
        name = f"{type(exc).__module__}.{name}"
    return ("raised", blob, name, str(exc), text)


def _send(answer: BinaryIO, message: tuple[Any, ...]) -> None:
    """Write the answer and end the process at once: threads the function left running do
    not hold the answer back (its process group goes on like a command's)."""
    try:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        what = type(message[1]).__name__
        data = pickle.dumps(
            (
                "failed",
                f"it returned {what}, which cannot be pickled to come back from its process "
                f"(isolate: process): {exc}",
            )
        )
    answer.write(len(data).to_bytes(_SIZE, "big") + data)
    answer.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
