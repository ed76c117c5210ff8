"""Fill a store with realistic items, fast: real event sequences recorded once, replayed.

The engine first runs a few dozen items of three playbooks (triage, docs, ops) on the
memory store, with python agents, verifiers and reviewers scripted per item, and people's
decisions taken through the same actions the CLI uses: accepted on the first attempt or
after failed checks, agent errors or requested changes; reviewed by a person; rejected;
escalated and then reopened, rejected, cancelled or left waiting. Each item's appends are
kept as a template (its events' kinds and data, in the groups the engine appended them).

Then every item of the store is one template replayed under a new id: the same appends,
with their own times (submitted every --interval seconds, agents, checks and people
taking plausible times), tokens and cost varied, each append settled (`core.transition.
settle`: chained, folded, the index row and the read model's counters) and appended
through the public Store API with its expected version, as the engine's write path does.
Appends of many items are gathered, so SQLite group-commits them. The newest items are
the open backlog (queued, running, waiting for a review, escalated); older ones are
finished work, a few of whose escalations nobody ever handled. An audit checkpoint is
written every --checkpoint-every items and at the end, as workers do.

    python bench/fill.py --items 100000 --store sqlite:///tmp/big.db [--open 200]

The last line printed is one JSON object (items, events, seconds, the store's counts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from baton.config.items import ItemSpec
from baton.config.playbook import AgentSlot, Playbook, ReviewerSlot
from baton.config.plugin import When
from baton.config.sections import BudgetModel, PolicyModel
from baton.core import events as ev
from baton.core.events import Event
from baton.core.records import (
    AgentResult,
    Assignment,
    AwaitHuman,
    Candidate,
    CheckResult,
    ReviewResult,
    Usage,
)
from baton.core.state import ItemState
from baton.core.transition import settle
from baton.core.vocabulary import RESERVED_LOGS, Decision, Gate, Risk
from baton.errors import AgentError
from baton.runtime.engine import Engine
from baton.services import actions
from baton.services.audit import write_checkpoint
from baton.store.base import Store
from baton.store.memory import MemoryStore
from baton.store.opener import open_store

ID_TOKEN = "TPL-ITEM-"  # template ids: replaced by the new id in every event's data
NUM_TOKEN = "TPLNUM"  # in objectives and inputs: replaced by the item's number
BATCH = 500  # items whose appends are gathered (one group commit per round of appends)
PEOPLE = ("ann", "bo", "chen", "dana")


@dataclass(frozen=True)
class Script:
    """How one template item goes: each attempt's fate, then what people do, in turn.

    Attempt fates: ok (every gate passes), check (a required check fails), error (the
    agent fails), changes (the reviewer asks for changes), reject (the reviewer rejects).
    People: approve / changes / reject a review; reopen / reject / cancel an escalation.
    """

    attempts: tuple[str, ...]
    people: tuple[str, ...] = ()
    risk: str = "low"


# finished work, by weight (percent, roughly); a few escalations are never handled
HISTORY: dict[str, tuple[float, Script]] = {
    "first_pass": (52.0, Script(("ok",))),
    "second_try": (13.0, Script(("check", "ok"))),
    "third_try": (4.0, Script(("check", "check", "ok"))),
    "agent_error": (5.0, Script(("error", "ok"))),
    "changes": (6.0, Script(("changes", "ok"))),
    "person_approved": (6.0, Script(("ok",), ("approve",), risk="high")),
    "person_changes": (2.0, Script(("ok", "ok"), ("changes", "approve"), risk="high")),
    "person_rejected": (1.0, Script(("ok",), ("reject",), risk="high")),
    "rejected": (3.0, Script(("reject",))),
    "reopened": (2.5, Script(("check", "check", "error", "ok"), ("reopen",))),
    "escalation_rejected": (3.0, Script(("check", "check", "check"), ("reject",))),
    "cancelled": (1.5, Script(("check", "check", "check"), ("cancel",))),
    "escalated_left": (1.0, Script(("error", "check", "check"))),
}
# the open backlog: the newest items; (weight, script, how many appends of it to keep)
OPEN: dict[str, tuple[float, Script, int | None]] = {
    "queued": (30.0, Script(("ok",)), 1),
    "running": (30.0, Script(("ok",)), 3),
    "refining": (10.0, Script(("check", "ok")), 5),
    "waiting_review": (20.0, Script(("ok",), risk="high"), None),
    "escalated": (10.0, Script(("check", "check", "check")), None),
}
PLAYBOOKS = {"triage": 0.5, "docs": 0.3, "ops": 0.2}  # share of the items

OBJECTIVES = {
    "triage": [
        "Triage bug report #TPLNUM: checkout fails with a 502 after the payment step",
        "Triage bug report #TPLNUM: the mobile app logs users out every few minutes",
        "Triage bug report #TPLNUM: CSV export drops rows with non-ASCII names",
    ],
    "docs": [
        "Write the changelog entry for pull request #TPLNUM",
        "Update the API reference for endpoint change #TPLNUM",
        "Summarise incident review #TPLNUM for the status page",
    ],
    "ops": [
        "Rotate the TLS certificate of service #TPLNUM",
        "Clean up stale feature flags, batch #TPLNUM",
        "Resize the database volume of tenant #TPLNUM",
    ],
}


# --- recording the templates: real items through the engine --------------------------
class _Scripts:
    """The scripted plugins' one source of truth: each template item's script."""

    def __init__(self) -> None:
        self.by_item: dict[str, Script] = {}

    def fate(self, item_id: str, attempt: int) -> str:
        fates = self.by_item[item_id].attempts
        return fates[min(attempt, len(fates)) - 1]


class _Agent:
    def __init__(self, name: str, scripts: _Scripts, tokens: int, price: float) -> None:
        self.name, self.scripts, self.tokens, self.price = name, scripts, tokens, price

    async def run(self, task: Assignment) -> AgentResult | AwaitHuman:
        prompt, completion = self.tokens + 40 * task.attempt, self.tokens // 4
        usage = Usage(prompt, completion, (prompt + completion) * self.price, 1.0)
        if self.scripts.fate(task.item_id, task.attempt) == "error":
            raise AgentError("exit 1: the model's answer was cut off (max_tokens)", usage=usage)
        record = {
            "summary": task.objective.split(": ", 1)[-1],
            "severity": "high" if task.risk == "high" else "medium",
            "component": "checkout" if "payment" in task.objective else "web",
            "steps": ["open the page", "submit the form", "see the error"],
        }
        text = json.dumps(record) + "\n\nI checked the logs of the last 24 hours first."
        return AgentResult(text=text, data=record, usage=usage)


class _Verifier:
    name = "rules"

    def __init__(self, scripts: _Scripts, evidence: str) -> None:
        self.scripts, self.evidence = scripts, evidence

    async def verify(self, candidate: Candidate) -> CheckResult:
        if self.scripts.fate(candidate.item_id, candidate.attempt) == "check":
            return CheckResult(False, self.evidence, score=0.4)
        return CheckResult(True, "all 12 rules hold", score=1.0)


class _Reviewer:
    kind = "agent"
    name = "lead"

    def __init__(self, scripts: _Scripts) -> None:
        self.scripts = scripts

    async def review(self, candidate: Candidate) -> ReviewResult | AwaitHuman:
        fate = self.scripts.fate(candidate.item_id, candidate.attempt)
        usage = Usage(900, 120, 0.0021, 2.0)
        if fate == "changes":
            comments = "the severity is right but the steps to reproduce are missing"
            return ReviewResult(Decision.REQUEST_CHANGES, comments, usage)
        if fate == "reject":
            return ReviewResult(Decision.REJECT, "this is a feature request, not a bug", usage)
        return ReviewResult(Decision.APPROVE, "clear and complete", usage)


class _Person:
    kind = "human"
    name = "owner"

    async def review(self, candidate: Candidate) -> ReviewResult | AwaitHuman:
        return AwaitHuman(f"high risk: review attempt {candidate.attempt} before it ships")


def _playbook(name: str, scripts: _Scripts) -> Playbook:
    checks = {
        "triage": "field 'severity': 'urgent' is not one of ['low', 'medium', 'high']",
        "docs": "2 broken links: /api/v2/items (404), /changelog#0.4 (anchor missing)",
        "ops": "dry run: step 3 would restart 4 pods at once (at most 2 allowed)",
    }[name]
    agents: dict[str, AgentSlot] = {
        "small": AgentSlot(_Agent(f"{name}-small", scripts, 1200, 2e-7), 8),
        "large": AgentSlot(_Agent(f"{name}-large", scripts, 2400, 3e-6), 4),
    }
    reviewers = {
        "lead": ReviewerSlot(_Reviewer(scripts), "agent"),
        "owner": ReviewerSlot(_Person(), "human", When(risk=["high"])),
    }
    return Playbook.build(
        name,
        agents={f"{name}-{k}": v for k, v in agents.items()},
        cascade=[f"{name}-small", f"{name}-large"],
        reviewers=reviewers,
        verifiers={"rules": _Verifier(scripts, checks)},
        policy=PolicyModel(order=[Gate.VERIFY, Gate.REVIEW]),
        budget=BudgetModel(attempts=3),
    )


class _Recorder(MemoryStore):
    """The memory store, keeping each item's appends as the groups they came in."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, list[list[tuple[str, bytes]]]] = {}

    async def append(
        self,
        log: str,
        expected_version: int,
        events: Sequence[Event],
        summary: Any = None,
        *,
        fence: int | None = None,
        tally: Mapping[str, int] | None = None,
    ) -> list[Event]:
        stored = await super().append(
            log, expected_version, events, summary, fence=fence, tally=tally
        )
        if log not in RESERVED_LOGS:
            group = [(e.kind, orjson.dumps(e.data)) for e in events]
            self.groups.setdefault(log, []).append(group)
        return stored


@dataclass(frozen=True)
class Template:
    """One recorded item: its appends (kind and data as JSON), and its id in them."""

    name: str
    playbook: str
    item_id: str
    groups: tuple[tuple[tuple[str, bytes], ...], ...]


async def _act(store: Store, item_id: str, action: str, by: str) -> None:
    if action in ("approve", "changes", "reject"):
        decision = {"approve": Decision.APPROVE, "changes": Decision.REQUEST_CHANGES}.get(
            action, Decision.REJECT
        )
        comments = {
            "approve": "looks right; ship it",
            "changes": "name the customer-facing impact in the summary",
            "reject": "not worth doing: the service is being retired",
        }[action]
        await actions.decide_review(store, item_id, decision, by, comments)
    elif action == "reopen":
        comments = "the logs are in the attachment; try once more with them"
        await actions.decide_review(
            store, item_id, Decision.REQUEST_CHANGES, by, comments, attempts=1
        )
    elif action == "cancel":
        await actions.cancel(store, item_id, by, "duplicate of an item already done")
    else:
        raise ValueError(f"unknown action {action!r}")


async def record_templates() -> list[Template]:
    """Every scenario of every playbook, run once through the engine on a memory store."""
    scripts = _Scripts()
    store = _Recorder()
    books = [_playbook(name, scripts) for name in PLAYBOOKS]
    engine = Engine(store, books, concurrency=16, poll_interval=0.001, environ={})
    scenarios = {name: script for name, (_, script) in HISTORY.items()}
    scenarios.update({f"open:{name}": script for name, (_, script, _) in OPEN.items()})
    pending: dict[str, list[str]] = {}
    names: dict[str, tuple[str, str]] = {}
    for book in books:
        specs = []
        for i, (name, script) in enumerate(scenarios.items()):
            item_id = f"{ID_TOKEN}{book.name}-{i:03}"
            scripts.by_item[item_id] = script
            pending[item_id] = list(script.people)
            names[item_id] = (name, book.name)
            objective = OBJECTIVES[book.name][i % len(OBJECTIVES[book.name])]
            inputs = {"source": f"https://tracker.example.com/{NUM_TOKEN}"}
            specs.append(
                ItemSpec(
                    id=item_id,
                    objective=objective,
                    inputs=inputs,
                    risk=Risk(script.risk),
                    tags=[book.name, "bench"],
                )
            )
        await engine.submit(book, specs)
    ids = list(names)
    await engine.run(ids, wait_for_people=False)
    turn = 0
    while any(pending.values()):
        for item_id, todo in pending.items():
            if todo:
                await _act(store, item_id, todo.pop(0), PEOPLE[turn % len(PEOPLE)])
                turn += 1
        await engine.run(ids, wait_for_people=False)
    templates = []
    for item_id, (name, book_name) in names.items():
        groups = tuple(tuple(g) for g in store.groups[item_id])
        templates.append(Template(name, book_name, item_id, groups))
    return templates


# --- replaying them ------------------------------------------------------------------
@dataclass
class _Clock:
    """Plausible durations for what an append records."""

    rng: random.Random

    def lognormal(self, median: float, sigma: float, cap: float) -> float:
        return min(cap, median * self.rng.lognormvariate(0.0, sigma))

    def vary(self, kind: str, data: dict[str, Any], factor: float) -> float:
        """Vary the usage an event records in place; the seconds it took before it."""
        usage = data.get("usage")
        took = 0.0
        if isinstance(usage, dict) and usage:
            for key in ("prompt_tokens", "completion_tokens"):
                if key in usage:
                    usage[key] = max(1, int(usage[key] * factor))
            if "cost" in usage:
                usage["cost"] = round(usage["cost"] * factor, 9)
        if kind in (ev.ATTEMPT_FINISHED, ev.ATTEMPT_FAILED):
            took = self.lognormal(45.0, 0.8, 1800.0)
            if isinstance(usage, dict):
                usage["seconds"] = round(took, 3)
        elif kind == ev.CHECK_RECORDED:
            took = self.lognormal(3.0, 0.7, 300.0)
            data["seconds"] = round(took, 3)
        elif kind == ev.REVIEW_DECIDED and str(data.get("by", "")).startswith("human:"):
            took = self.lognormal(1500.0, 1.2, 8 * 3600.0)
        elif kind == ev.REVIEW_DECIDED:
            took = self.lognormal(6.0, 0.6, 120.0)
            if isinstance(usage, dict):
                usage["seconds"] = round(took, 3)
        elif kind in (ev.ITEM_REOPENED, ev.ITEM_CANCELLED) or (
            kind == ev.ITEM_FAILED and "by" in data
        ):
            took = self.lognormal(3 * 3600.0, 1.0, 24 * 3600.0)
        return took


def _weighted(rng: random.Random, choices: Mapping[str, float]) -> str:
    return rng.choices(list(choices), weights=list(choices.values()))[0]


class Replayer:
    """New items from templates: new ids, times, usage; settled and appended in batches."""

    def __init__(self, templates: list[Template], seed: int = 13) -> None:
        self.rng = random.Random(seed)
        self.clock = _Clock(self.rng)
        self.by_key = {(t.playbook, t.name): t for t in templates}

    def plan(self, n: int, open_items: int) -> list[tuple[Template, int | None]]:
        """The template (and how many of its appends) of each of n items, oldest first."""
        history = {k: w for k, (w, _) in HISTORY.items()}
        backlog = {k: w for k, (w, _, _) in OPEN.items()}
        planned = []
        for i in range(n):
            book = _weighted(self.rng, PLAYBOOKS)
            if i >= n - open_items:
                name = _weighted(self.rng, backlog)
                planned.append((self.by_key[(book, f"open:{name}")], OPEN[name][2]))
            else:
                planned.append((self.by_key[(book, _weighted(self.rng, history))], None))
        return planned

    def item(
        self, template: Template, keep: int | None, item_id: str, number: int, submitted: float
    ) -> list[tuple[float, list[tuple[str, dict[str, Any]]]]]:
        """The appends of one new item: (time, entries) each."""
        old_id, new_id = template.item_id.encode(), item_id.encode()
        num = str(number).encode()
        factor = self.rng.uniform(0.5, 1.6)
        at = submitted
        out = []
        for group in template.groups[:keep]:
            entries = []
            took = 0.0
            for kind, raw in group:
                data = orjson.loads(raw.replace(old_id, new_id).replace(NUM_TOKEN.encode(), num))
                took = max(took, self.clock.vary(kind, data, factor))
                entries.append((kind, data))
            at += took or self.rng.uniform(0.005, 0.4)
            out.append((at, entries))
        return out


async def fill(
    store: Store,
    items: int,
    *,
    open_items: int = 200,
    interval: float = 30.0,
    checkpoint_every: int = 1000,
    seed: int = 13,
    prefix: str = "item-",
    report: bool = False,
) -> dict[str, Any]:
    """Fill `store` with `items` items (the newest `open_items` still open); figures."""
    started = time.perf_counter()
    templates = await record_templates()
    replayer = Replayer(templates, seed)
    planned = replayer.plan(items, min(open_items, items))
    end = time.time() - 60.0
    first = end - items * interval - 12 * 3600.0  # finished work ends before the backlog
    events = 0
    next_checkpoint = checkpoint_every
    for start in range(0, items, BATCH):
        batch = []
        for i in range(start, min(items, start + BATCH)):
            template, keep = planned[i]
            submitted = first + i * interval + replayer.rng.uniform(0.0, interval)
            if i >= items - open_items:  # the backlog: submitted in the last hours
                submitted = end - (items - i) * min(interval, 60.0)
            batch.append(
                (f"{prefix}{i:07}", replayer.item(template, keep, f"{prefix}{i:07}", i, submitted))
            )
        events += await _append_batch(store, batch)
        done = start + len(batch)
        if checkpoint_every and done >= next_checkpoint:
            await write_checkpoint(store, "bench:fill")
            next_checkpoint += checkpoint_every
        if report and (done % 10_000 == 0 or done == items):
            rate = done / (time.perf_counter() - started)
            print(f"  {done:,} items, {events:,} events ({rate:,.0f} items/s)", flush=True)
    await write_checkpoint(store, "bench:fill")
    return {
        "items": items,
        "events": events,
        "open": min(open_items, items),
        "seconds": time.perf_counter() - started,
        "counts": await store.counts(),
    }


async def _append_batch(
    store: Store, batch: list[tuple[str, list[tuple[float, list[tuple[str, dict[str, Any]]]]]]]
) -> int:
    """Append every item's appends in rounds: round r holds each item's r-th append, all
    gathered, so the items interleave in the feed and SQLite commits a round at once."""
    states = {item_id: ItemState(item_id) for item_id, _ in batch}
    rounds = max(len(appends) for _, appends in batch)
    events = 0
    for r in range(rounds):
        writes = []
        for item_id, appends in batch:
            if r < len(appends):
                at, entries = appends[r]
                t = settle(states[item_id], entries, at, follow=False)
                events += len(t.events)
                writes.append(store.append(t.log, t.expected, t.events, t.summary, tally=t.tally))
        await asyncio.gather(*writes)
    return events


async def main(
    items: int, url: str, open_items: int, interval: float, every: int
) -> dict[str, Any]:
    store = open_store(url)
    try:
        return await fill(
            store,
            items,
            open_items=open_items,
            interval=interval,
            checkpoint_every=every,
            report=True,
        )
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--store", required=True, help="sqlite:///path, a path, redis://...")
    parser.add_argument("--open", type=int, default=200, help="open items (the newest)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between items")
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="items (0: at the end)")
    args = parser.parse_args()
    figures = asyncio.run(
        main(args.items, args.store, args.open, args.interval, args.checkpoint_every)
    )
    print(json.dumps(figures))
