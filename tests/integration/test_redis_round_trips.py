"""What one item costs on Redis in round trips: in the steady state, one per step."""

from __future__ import annotations

import asyncio
import itertools

from baton import Engine, ItemSpec, Playbook
from baton.agents.python import PythonAgent
from baton.config.calls import FunctionCall
from baton.config.playbook import AgentSlot
from baton.config.sections import PolicyModel
from baton.core.records import Assignment, Candidate
from baton.review.policy import PolicyReviewer, PolicyReviewerConfig
from baton.store import open_store
from baton.store.redis import RedisStore
from baton.verify.python import PythonVerifier


def noop_playbook() -> Playbook:
    """Plan, one attempt, a review, a verification: 6 appends, nothing else between them."""

    def do(task: Assignment) -> str:
        return "done"

    def check(attempt: Candidate) -> bool:
        return True

    return Playbook.build(
        "noop",
        agents={
            "worker": AgentSlot(
                PythonAgent("worker", FunctionCall("t:do", (), do, "loop", 60.0)), 1
            )
        },
        reviewers={
            "reviewer": PolicyReviewer("reviewer", PolicyReviewerConfig(checks_passed=False))
        },
        verifiers={
            "check": PythonVerifier(
                "check", FunctionCall("t:check", (), check, "loop", 60.0), threshold=None
            )
        },
        policy=PolicyModel(),
    )


async def round_trips(store: RedisStore, items: int, tag: str) -> int:
    """Round trips (pipelines) of one `Engine.run` of `items` items at concurrency 1."""
    ticks = itertools.count()
    book = noop_playbook()
    # a clock that moves a microsecond a call: the engine's once-a-second look at its
    # pending items, and the fleet log's follower, do not come round during the run
    engine = Engine(
        store, book, concurrency=1, poll_interval=3600.0, clock=lambda: 1e9 + next(ticks) * 1e-6
    )
    specs = [ItemSpec(id=f"{tag}-{i}", objective="noop") for i in range(items)]
    ids = [i for i, _ in await engine.submit(book, specs)]
    before = store.transport.round_trips
    await engine.run(ids)
    sent = store.transport.round_trips - before
    for item_id in ids:
        assert (await store.load(item_id))[-1].kind == "item.accepted"
    return sent


async def test_a_steady_state_item_on_redis_costs_one_round_trip_per_append(
    redis_store_url: str,
) -> None:
    store = open_store(redis_store_url)
    assert isinstance(store, RedisStore)
    try:
        await round_trips(store, 1, "warm")  # the scripts loaded, should the server lack them
        one = await round_trips(store, 1, "one")
        four = await round_trips(store, 4, "four")
        per_item = (four - one) / 3  # what the run's start and end cost cancels out
        # the claim (with the claimed log: no load), 6 appends (scoped, attempt started,
        # finished, review, check, accepted); no release: the last append freed the lease
        assert per_item == 6, (one, four)
    finally:
        await store.drop()
        await store.close()
        await asyncio.sleep(0)
