"""The web page end to end in a real headless Chromium (Debian's, driven by Playwright):
log in, submit an item, watch it move on the board live, open it, approve it from the
inbox, see it accepted; a viewer token cannot approve. Screenshots of each page are saved
under test-artifacts/web/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Baton, baton_env
from tests.redis_server import free_port

COLUMN = 50  # the cards of a status the board shows (web/app.js)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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
    instructions: Read the notes; approve or say what to change.
"""


def chromium() -> str:
    found = os.environ.get("BATON_CHROMIUM") or shutil.which("chromium") or ""
    if found and Path(found).exists():
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true needs Chromium (Debian's package chromium; .ci/run installs it)")
    pytest.skip("no Chromium on this machine (apt-get install chromium, or set BATON_CHROMIUM)")


@pytest.fixture
def site(tmp_path: Path, baton: Baton) -> Iterator[tuple[str, dict[str, str]]]:
    """`baton serve` and a `baton worker` on one SQLite store; tokens by role."""
    (tmp_path / "writer.py").write_text("def write(task):\n    return 'done: ' + task.objective\n")
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK)
    tokens = {
        role: baton(
            "token", "create", "--role", role, "--name", f"{role}-1", check=True
        ).stdout.strip()
        for role in ("operator", "viewer")
    }
    port = free_port()
    env = baton_env(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "baton", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for args in (
            ["serve", "playbook.yaml", "--port", str(port)],
            ["worker", "playbook.yaml"],
        )
    ]
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise AssertionError(f"baton serve did not answer: {procs[0].stderr}")
    try:
        yield url, tokens
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def log_in(page: object, url: str, token: str) -> None:
    """Open the page, log in with `token`, and wait for its live stream."""
    from playwright.sync_api import expect

    page.goto(url + "/")  # type: ignore[attr-defined]
    page.fill("#token", token)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    expect(page.locator("#live")).to_have_class("live on")  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_log_in_submit_watch_it_live_approve_it_and_a_viewer_cannot(
    site: tuple[str, dict[str, str]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, tokens = site
    executable = chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            page.goto(url + "/")
            expect(page.locator("#token")).to_be_visible()
            shot(page, "1-login")
            page.fill("#token", "baton_000000000000_not-a-real-token-at-all")
            page.click("button[type=submit]")
            expect(page.locator(".login .error")).to_contain_text("unknown, malformed or revoked")
            page.fill("#token", tokens["operator"])
            page.click("button[type=submit]")
            expect(page.locator("#who")).to_have_text("operator-1 (operator)")
            expect(page.locator("#live")).to_have_class("live on")
            shot(page, "2-board-empty")

            # submit: the card appears and moves to 'waiting human' without a reload
            page.fill("#submit-objective", "write the release notes for v3")
            page.click("#submit-button")
            expect(page.locator("#toast")).to_contain_text("submitted notes-")
            item = page.locator("#toast").inner_text().split()[-1]
            waiting = page.locator(f'[data-status="waiting_human"] [data-item="{item}"]')
            expect(waiting).to_be_visible(timeout=20_000)
            shot(page, "3-board-waiting")

            waiting.click()
            expect(page.locator("#item-status")).to_have_text("waiting_human")
            expect(page.locator(".attempt")).to_contain_text("done: write the release notes for v3")
            shot(page, "4-item-waiting")

            page.click("text=Inbox")
            row = page.locator(f'tr[data-item="{item}"]')
            expect(row).to_contain_text("review (lead)")
            shot(page, "5-inbox")
            row.locator("button.approve").click()
            expect(page.locator("#toast")).to_contain_text(
                f"approve recorded for attempt 1 of {item}"
            )
            expect(row).to_have_count(0, timeout=10_000)

            page.goto(f"{url}/#/items/{item}")
            expect(page.locator("#item-status")).to_have_text("accepted", timeout=20_000)
            expect(page.locator(".attempt.accepted")).to_contain_text("lead: approve")
            expect(page.locator(".attempt.accepted")).to_contain_text("token:operator-1")
            expect(page.locator(".attempt.accepted")).to_contain_text("says-done")
            shot(page, "6-item-accepted")
            page.click("text=Agents")
            expect(page.locator('tr[data-agent="writer"]')).to_contain_text("active")
            shot(page, "7-agents")
            page.click("text=Metrics")
            expect(page.locator(".figures")).to_contain_text("first-pass yield")
            expect(page.locator(".chart svg").first).to_be_visible()
            shot(page, "8-metrics")

            # a second item waits; the viewer sees it but has no way to decide it
            page.goto(url + "/#/board")
            page.fill("#submit-objective", "write the notes for v4")
            page.click("#submit-button")
            expect(page.locator("#toast")).to_contain_text("submitted notes-")
            second = page.locator("#toast").inner_text().split()[-1]
            expect(
                page.locator(f'[data-status="waiting_human"] [data-item="{second}"]')
            ).to_be_visible(timeout=20_000)
            assert errors == [], errors

            viewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            viewer.goto(url + "/")
            viewer.fill("#token", tokens["viewer"])
            viewer.click("button[type=submit]")
            expect(viewer.locator("#who")).to_have_text("viewer-1 (viewer)")
            expect(viewer.locator("#submit-objective")).to_have_count(0)
            viewer.click("text=Inbox")
            expect(viewer.locator(f'tr[data-item="{second}"]')).to_be_visible()
            expect(viewer.locator(f'tr[data-item="{second}"] button')).to_have_count(0)
            shot(viewer, "9-viewer-inbox")
            answer = viewer.request.post(
                f"{url}/api/items/{second}/approve",
                data=json.dumps({"comments": "sneaky"}),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {tokens['viewer']}",
                },
            )
            assert answer.status == 403
            assert "viewer-1 is a viewer: this needs the reviewer role" in answer.text()
        finally:
            browser.close()


def test_revoking_the_token_sends_its_open_page_back_to_the_login(
    site: tuple[str, dict[str, str]], baton: Baton
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, tokens = site
    executable = chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(page, url, tokens["viewer"])
            expect(page.locator("#who")).to_have_text("viewer-1 (viewer)")
            baton("token", "revoke", "viewer-1", check=True)
            # the server ends the live stream, saying why; the page asks to log in again
            expect(page.locator("#token")).to_be_visible(timeout=20_000)
            expect(page.locator("#toast")).to_contain_text("token revoked", timeout=20_000)
        finally:
            browser.close()


@pytest.mark.slow
def test_live_updates_keep_what_is_typed_and_the_board_shows_the_newest(
    site: tuple[str, dict[str, str]],
) -> None:
    """The board once fetched the 1,000 oldest items (on a bigger store new work never
    appeared) and every event redrew the page, wiping a half-written objective or comment."""
    import httpx
    from playwright.sync_api import expect, sync_playwright

    url, tokens = site
    bearer = {"Authorization": f"Bearer {tokens['operator']}"}

    def submit(objectives: list[str]) -> list[str]:
        body = {"playbook": "notes", "items": [{"objective": o} for o in objectives]}
        answer = httpx.post(f"{url}/api/items", json=body, headers=bearer, timeout=30)
        assert answer.status_code == 201, answer.text
        return [row["id"] for row in answer.json()]

    executable = chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(page, url, tokens["operator"])

            made = submit([f"note {n}" for n in range(60)])  # each waits for the lead
            column = page.locator('[data-status="waiting_human"]')
            expect(column.locator(".card")).to_have_count(COLUMN, timeout=60_000)
            expect(column).to_contain_text(f"the newest {COLUMN} of 60", timeout=60_000)
            expect(column.locator(f'[data-item="{made[-1]}"]')).to_be_visible()
            expect(column.locator(f'[data-item="{made[0]}"]')).to_have_count(0)

            page.click("#submit-objective")
            page.keyboard.type("half-written objective")
            later = submit(["arrives while someone types"])[0]
            expect(column.locator(f'[data-item="{later}"]')).to_be_visible(timeout=30_000)
            expect(page.locator("#submit-objective")).to_have_value("half-written objective")
            expect(page.locator("#submit-objective")).to_be_focused()
            page.keyboard.type(" and more")  # the caret stayed at the end
            expect(page.locator("#submit-objective")).to_have_value(
                "half-written objective and more"
            )

            page.click("text=Inbox")
            first = page.locator(f'tr[data-item="{made[-1]}"] input')
            first.fill("needs a date")
            last = submit(["one more while a comment is written"])[0]
            expect(page.locator(f'tr[data-item="{last}"]')).to_be_visible(timeout=30_000)
            expect(first).to_have_value("needs a date")
            shot(page, "10-inbox-comment-kept")

            page.click("text=Board")  # a page opened anew starts with empty fields
            expect(page.locator("#submit-objective")).to_have_value("")
            assert errors == [], errors
        finally:
            browser.close()
