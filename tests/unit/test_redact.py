"""Secrets never reach the record, in any form: as text, inside another value, as a number,
cut by clipping, base64 (at any alignment), hex, URL-encoded or JSON-escaped; a secret too
short to redact safely is refused, at load with its file, line and field."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from baton import AgentResult, Assignment
from baton.config.loading import load_playbook
from baton.config.playbook import AgentSlot, Playbook
from baton.core.text import clip
from baton.errors import InputError, PlaybookError
from baton.runtime.redact import Redactor
from baton.store import MemoryStore
from baton.testing import FunctionAgent, run_items

SECRET = "sk-live-7Hq2ZpX9cV41mNbT0aLw"
NUMBER = "4111111111111111"


def forms_of(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        f"Bearer {secret}",
        base64.b64encode(raw).decode(),
        base64.b64encode(b"user:" + raw + b"!").decode(),  # another alignment, inside more
        base64.b64encode(b"ab:" + raw).decode(),
        base64.urlsafe_b64encode(b"x" + raw).decode(),
        raw.hex(),
        raw.hex().upper(),
        quote_plus(f"key={secret}&a=1"),
        json.dumps({"k": secret + "\n"}),
        clip("start " + secret + "x" * 100, 36),  # a clip cut it: its first 12 stay
        clip("x" * 100 + secret + " end", 36),  # and here its last 14
    ]


@pytest.mark.parametrize("text", forms_of(SECRET))
def test_every_form_is_redacted(text: str) -> None:
    redactor = Redactor(["K"], {"K": SECRET})
    out = redactor.data({"text": text, "list": [text], text: 1})
    flat = json.dumps(out)
    for needle in (SECRET, SECRET[:8], SECRET[-8:], SECRET.encode().hex()):
        assert needle not in flat, (text, flat)
    assert base64.b64encode(SECRET.encode()).decode()[4:16] not in flat
    assert "[secret K]" in flat


def test_a_secret_that_is_a_number_is_redacted_in_numbers() -> None:
    redactor = Redactor(["CARD"], {"CARD": NUMBER})
    out = redactor.data({"card": int(NUMBER), "other": 12, "ok": True, "none": None, "f": 2.5})
    assert out == {"card": "[secret CARD]", "other": 12, "ok": True, "none": None, "f": 2.5}


def test_a_secret_too_short_is_refused_not_skipped(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the value of PIN is 4 character"):
        Redactor(["PIN"], {"PIN": "1234"})
    assert not Redactor(["UNSET"], {})  # not set: nothing to keep out
    (tmp_path / "p.yaml").write_text(
        "name: p\nagents:\n  a:\n    kind: human\n    secrets: [PIN]\n"
    )
    import os

    os.environ["PIN"] = "1234"
    try:
        with pytest.raises(PlaybookError) as e:
            load_playbook(tmp_path / "p.yaml")
    finally:
        del os.environ["PIN"]
    ((problem),) = e.value.problems
    assert (problem.line, problem.field) == (5, "agents.a.secrets")
    assert problem.message.startswith("the value of PIN is 4 character(s): too short")


async def test_nothing_an_agent_says_puts_the_secret_in_the_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATON_TEST_KEY", SECRET)

    def leaky(assignment: Assignment) -> AgentResult:
        said = forms_of(SECRET)
        return AgentResult(text="\n".join(said), data={"forms": said, "n": 1})

    book = Playbook.build(
        "s", agents={"leaky": AgentSlot(FunctionAgent("leaky", leaky), secrets=("BATON_TEST_KEY",))}
    )
    store = MemoryStore()
    await run_items(book, ["leak it"], store=store)
    everything = json.dumps([e.to_dict() for e in await store.read(limit=10_000)])
    for needle in (SECRET, SECRET[:8], SECRET[-8:], SECRET.encode().hex()):
        assert needle not in everything
