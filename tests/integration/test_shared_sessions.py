"""Sessions shared by several `baton serve` processes on one store (a SQLite file, Redis):
a login on one server works on the others and after a restart; revoking the token or
logging out on one server ends the session, and the live streams it holds, on all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

import httpx
import pytest

from tests.conftest import ON_EVERY_STORE, Baton, baton_env
from tests.redis_server import free_port

PLAYBOOK = """\
name: notes
agents:
  writer:
    kind: python
    function: writer:write
verifiers:
  says-done:
    kind: contains
    text: done
reviewers:
  lead:
    kind: human
"""


class Server(NamedTuple):
    url: str
    process: subprocess.Popen[bytes]


Start = Callable[..., Server]


@pytest.fixture
def start(tmp_path: Path, baton_store: str) -> Iterator[Start]:
    """Start `baton ARGS` in the background (`serve` on a free port, answering when this
    returns). Everything started is stopped after the test."""
    (tmp_path / "writer.py").write_text("def write(task):\n    return 'done: ' + task.objective\n")
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK)
    started: list[subprocess.Popen[bytes]] = []
    logs: list[BinaryIO] = []

    def run(*args: str) -> Server:
        port = free_port()
        serving = args[0] == "serve"
        argv = [*args, "--port", str(port)] if serving else list(args)
        log = (tmp_path / f"{args[0]}-{len(started)}.log").open("wb")
        logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "baton", *argv],
            cwd=tmp_path,
            env=baton_env(tmp_path, baton_store),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        if serving:
            _until(lambda: _answers(url), f"baton serve on {url} did not answer ({log.name})", 60)
        return Server(url, proc)

    yield run
    for proc in started:
        stop(proc)
    for log in logs:
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _until(ok: Callable[[], bool], what: str, cap: float = 10) -> None:
    """Poll `ok` until it holds; fail with `what` after a generous cap."""
    deadline = time.monotonic() + cap
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.1)


class Listener:
    """An open `/api/stream`, read in a thread until the server ends it."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self.thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", f"{url}/api/stream", headers=headers, timeout=60) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                self.lines.append(line)
                self.opened.set()

    def ended(self) -> list[str]:
        self.thread.join(20)
        assert not self.thread.is_alive(), f"the stream is still open: {self.lines}"
        return [line for line in self.lines if line.startswith(("event: ended", 'data: {"why'))]


@ON_EVERY_STORE
def test_a_session_works_on_every_server_survives_a_restart_and_revocation_ends_it_everywhere(
    baton: Baton, start: Start
) -> None:
    admin = baton("token", "create", "--role", "admin", "--name", "root", check=True).stdout
    rita = baton("token", "create", "--role", "reviewer", "--name", "rita", check=True).stdout
    rob = baton("token", "create", "--role", "reviewer", "--name", "rob", check=True).stdout
    root = {"Authorization": f"Bearer {admin.strip()}"}
    server_a = start("serve", "playbook.yaml")
    a, b = server_a.url, start("serve", "playbook.yaml").url
    start("worker", "playbook.yaml")
    items = [{"id": "one", "objective": "x"}, {"id": "two", "objective": "y"}]
    made = httpx.post(f"{a}/api/items", json={"playbook": "notes", "items": items}, headers=root)
    assert made.status_code == 201, made.text
    _until(lambda: len(httpx.get(f"{b}/api/inbox", headers=root).json()) == 2, "not parked", 60)

    login = httpx.post(f"{a}/api/session", json={"token": rita.strip()})
    assert login.status_code == 200, login.text
    cookie = {"Cookie": f"baton_session={login.cookies['baton_session']}"}
    changes = {**cookie, "X-CSRF-Token": login.json()["csrf"]}

    # server B knows A's session at once, with the same CSRF token
    me = httpx.get(f"{b}/api/session", headers=cookie)
    assert me.status_code == 200, me.text
    assert (me.json()["name"], me.json()["csrf"]) == ("rita", login.json()["csrf"])
    forged = httpx.post(f"{b}/api/items/one/approve", json={"comments": "x"}, headers=cookie)
    assert forged.status_code == 403, "the CSRF check holds on every server"
    done = httpx.post(f"{b}/api/items/one/approve", json={"comments": "ok"}, headers=changes)
    assert done.status_code == 200, done.text

    # a restart keeps it: nothing about the session lived in A's memory alone
    stop(server_a.process)
    a = start("serve", "playbook.yaml").url
    assert httpx.get(f"{a}/api/session", headers=cookie).json()["name"] == "rita"

    by_session = Listener(a, cookie)
    by_token = Listener(a, {"Authorization": f"Bearer {rita.strip()}"})
    assert by_session.opened.wait(20) and by_token.opened.wait(20)

    rita_id = next(
        t["id"] for t in httpx.get(f"{b}/api/tokens", headers=root).json() if t["name"] == "rita"
    )
    assert httpx.delete(f"{b}/api/tokens/{rita_id}", headers=root).status_code == 200
    _until(
        lambda: httpx.get(f"{a}/api/session", headers=cookie).status_code == 401,
        "the session of a revoked token still counts on the other server",
    )
    refused = httpx.post(f"{a}/api/items/two/approve", json={"comments": "late"}, headers=changes)
    assert refused.status_code == 401
    assert "token revoked" in refused.json()["detail"]
    inbox = httpx.get(f"{a}/api/inbox", headers=root).json()
    assert [e["item"] for e in inbox] == ["two"], "the refused approval changed nothing"

    assert by_session.ended() == [
        "event: ended",
        'data: {"why": "the session ended (token revoked): log in again"}',
    ]
    assert by_token.ended() == [
        "event: ended",
        'data: {"why": "the token is unknown, malformed or revoked"}',
    ]

    # logging out on one server ends the session on the other
    login = httpx.post(f"{a}/api/session", json={"token": rob.strip()})
    cookie = {"Cookie": f"baton_session={login.cookies['baton_session']}"}
    assert httpx.get(f"{b}/api/session", headers=cookie).status_code == 200
    out = httpx.delete(f"{b}/api/session", headers={**cookie, "X-CSRF-Token": login.json()["csrf"]})
    assert out.status_code == 200
    _until(
        lambda: httpx.get(f"{a}/api/session", headers=cookie).status_code == 401,
        "a logged-out session still counts on the other server",
    )
    ended = httpx.get(f"{a}/api/session", headers=cookie).json()["detail"]
    assert ended.startswith("the session ended (logout)")
