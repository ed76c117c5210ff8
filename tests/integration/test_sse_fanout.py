"""The live stream's fan-out against a real server on a real SQLite file: one follower of
the feed for every client, a client too slow dropped (told why) while the rest go on, a
reconnect from Last-Event-ID that misses nothing, and no follower left after shutdown."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from baton import Engine, Playbook, load_playbook, open_store
from baton.api import create_app
from baton.api.fanout import Hub
from baton.config.items import ItemSpec
from baton.store.base import Store

PLAYBOOK = """\
name: notes
agents:
  writer:
    kind: python
    function: writer:write
"""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(str(tmp_path / "sse.db"))
    yield s
    await s.close()


@pytest.fixture
def book(tmp_path: Path) -> Playbook:
    (tmp_path / "writer.py").write_text("def write(task):\n    return 'done'\n")
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK)
    return load_playbook(tmp_path / "playbook.yaml")


@asynccontextmanager
async def serving(
    store: Store, book: Playbook, *, room: int | None = None, sndbuf: int | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """A real server (lifespan on, as an ASGI server runs it) on a free loopback port; its
    connections' send buffers fixed at `sndbuf` bytes (else the kernel grows them)."""
    app = create_app(store, [book], local_user="ann")
    if room is not None:
        app.state.hub = Hub(store, room=room, pace=0)  # lockstep: a page an item
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    listening = socket.socket()
    if sndbuf is not None:  # accepted connections inherit it
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


class Listener:
    """One SSE client: the positions it got, in order, and how its stream ended."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.ended: str | None = None
        self.reconnect = False
        self.ready = asyncio.Event()

    async def listen(self, response: httpx.Response, last_log: str | None = None) -> None:
        """Read lines until the stream ends or an event of log `last_log` has come."""
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith(": baton"):
                self.ready.set()
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "ended":
                ended = json.loads(line[6:])
                self.ended = ended["why"]
                self.reconnect = ended.get("reconnect", False)
                return
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                self.positions.append(event["position"])
                if event["log"] == last_log:
                    return


async def positions(store: Store, after: int) -> list[int]:
    return [e.position for e in await store.read(after, 1000)]


async def test_every_client_gets_every_event_in_order_from_one_reader_of_the_store(
    store: Store, book: Playbook
) -> None:
    readers: set[asyncio.Task[Any] | None] = set()
    read = store.read

    async def counted(after: int = 0, limit: int = 1000) -> list[Any]:
        readers.add(asyncio.current_task())
        return await read(after, limit)

    store.read = counted  # type: ignore[method-assign]
    await Engine(store, book).submit(book, [ItemSpec(id="before", objective="x")])
    start = (await read(0, 1000))[-1].position
    listeners = [Listener() for _ in range(20)]

    async def follow(listener: Listener, api: httpx.AsyncClient) -> None:
        async with api.stream("GET", "/api/stream") as answer:
            await listener.listen(answer, last_log="i29")

    async with serving(store, book) as (url, _), httpx.AsyncClient(base_url=url, timeout=30) as api:
        tasks = [asyncio.create_task(follow(one, api)) for one in listeners]
        await asyncio.wait_for(asyncio.gather(*(one.ready.wait() for one in listeners)), 30)
        readers.clear()
        specs = [ItemSpec(id=f"i{n}", objective="x") for n in range(30)]
        for n in range(0, 30, 5):  # several appends, several wake-ups
            await Engine(store, book).submit(book, specs[n : n + 5])
            await asyncio.sleep(0.06)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    expected = await positions(store, start)
    assert len(expected) == 30
    for one in listeners:
        assert one.positions == expected
    readers.discard(asyncio.current_task())  # the test's own submits
    assert len(readers) == 1, f"{len(readers)} tasks read the feed: expected one follower"


async def test_a_client_that_stops_reading_is_dropped_and_its_reconnect_misses_nothing(
    store: Store, book: Playbook
) -> None:
    small = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 32_768)]  # its socket fills up soon
    slow, fast = Listener(), Listener()
    big = "x" * 16_000
    async with (
        serving(store, book, room=20, sndbuf=32_768) as (url, app),
        httpx.AsyncClient(base_url=url, timeout=30) as api,
        httpx.AsyncClient(
            base_url=url, timeout=30, transport=httpx.AsyncHTTPTransport(socket_options=small)
        ) as stalled,
        stalled.stream("GET", "/api/stream") as slow_answer,
        api.stream("GET", "/api/stream") as fast_answer,
    ):
        hub: Hub = app.state.hub
        submitted: list[int] = []
        following = asyncio.create_task(fast.listen(fast_answer, last_log="after"))
        await asyncio.wait_for(fast.ready.wait(), 30)
        await until(lambda: hub.listeners == 2)  # the slow client's stream has joined too
        n = 0
        while hub.listeners == 2 and n < 400:  # the slow client reads nothing meanwhile
            made = await api.post(
                "/api/items",
                json={"playbook": "notes", "items": [{"id": f"b{n}", "objective": big}]},
            )
            assert made.status_code == 201, made.text  # the server is not held up
            n += 1
            submitted.append((await store.read(0, 1000))[-1].position)
            await wait_for_position(fast, submitted[-1])
        assert hub.listeners == 1, "the client that stopped reading was dropped"
        assert fast.ended is None and not following.done(), "the others keep receiving"
        last = await api.post(
            "/api/items", json={"playbook": "notes", "items": [{"id": "after", "objective": "x"}]}
        )
        assert last.status_code == 201
        submitted.append((await store.read(0, 1000))[-1].position)
        await asyncio.wait_for(following, 30)
        await asyncio.wait_for(slow.listen(slow_answer), 30)  # what was on its way, then why
        assert slow.ended is not None and slow.ended.startswith("too slow"), slow.ended
        assert slow.reconnect, "told to come back, not to log in again"
        assert slow.positions == sorted(set(slow.positions)), "in order, each once"
        assert fast.positions == await positions(store, fast.positions[0] - 1)
        resumed = Listener()
        seen = str(slow.positions[-1]) if slow.positions else str(fast.positions[0] - 1)
        headers = {"Last-Event-ID": seen}
        async with api.stream("GET", "/api/stream", headers=headers) as again:
            await asyncio.wait_for(resumed.listen(again, last_log="after"), 30)
    assert resumed.positions == await positions(store, int(seen)), "exactly the missed ones"
    assert resumed.positions[-1] == submitted[-1]


async def wait_for_position(listener: Listener, position: int) -> None:
    async def arrived() -> None:
        while not listener.positions or listener.positions[-1] < position:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(arrived(), 30)


async def test_shutdown_ends_the_streams_and_stops_the_follower(
    store: Store, book: Playbook
) -> None:
    listener = Listener()
    async with serving(store, book) as (url, app), httpx.AsyncClient(base_url=url) as api:
        hub: Hub = app.state.hub
        async with api.stream("GET", "/api/stream") as answer:
            reading = asyncio.create_task(listener.listen(answer))
            await asyncio.wait_for(listener.ready.wait(), 30)
            assert hub.following
            await hub.close()  # what the app's lifespan does on shutdown
            await asyncio.wait_for(reading, 30)
        assert listener.ended == "the server is shutting down"
        assert not hub.following
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == [], pending


async def test_the_follower_stops_with_its_last_client(store: Store, book: Playbook) -> None:
    async with serving(store, book) as (url, app), httpx.AsyncClient(base_url=url) as api:
        hub: Hub = app.state.hub
        for _ in range(2):  # and starts again with the next
            async with api.stream("GET", "/api/stream") as answer:
                lines = answer.aiter_lines()
                assert (await asyncio.wait_for(anext(lines), 30)).startswith(": baton")
                assert hub.following and hub.listeners == 1
            await until(lambda: hub.listeners == 0 and not hub.following)


async def until(condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), 30)
