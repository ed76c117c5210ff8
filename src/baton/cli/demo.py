"""`baton demo`: the bundled playbook on the on-device model, with a person (or, when no
one is at a terminal, the demo's policy) deciding the high-risk item."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from importlib import resources
from pathlib import Path

import click
from rich.markup import escape
from rich.panel import Panel

from ..config.items import load_items
from ..config.loading import load_playbook
from ..core import events as ev
from ..core.records import Candidate
from ..core.vocabulary import Decision
from ..errors import InvalidAction
from ..review.policy import PolicyReviewer, PolicyReviewerConfig
from ..runtime.effects import candidate_of
from ..runtime.engine import Engine
from ..runtime.recording import hydrate, load_state
from ..services.actions import decide_review
from ..store.base import Store
from .app import Context, main, pass_context, whoami
from .live import LiveView, run_live
from .run import fresh_option

# what decides for the person when nobody is at a terminal: every check passed, any risk
STAND_IN = PolicyReviewer("demo-policy", PolicyReviewerConfig(max_risk="high"))


def demo_folder() -> Path:
    """Where the demo's playbook, items, schema and rules are (inside the package)."""
    return Path(str(resources.files("baton.demo")))


@main.command("demo")
@click.option(
    "-c",
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Items in flight at once.",
)
@click.option(
    "--live/--no-live", default=None, help="Redraw the view in place (default: on a terminal)."
)
@click.option(
    "--ask/--no-ask",
    default=None,
    help="Ask you to decide the high-risk item (default: when run in a terminal); "
    "otherwise the demo's policy decides it: approve when every check passed.",
)
@fresh_option
@pass_context
def demo_cmd(
    ctx: Context, concurrency: int, live: bool | None, ask: bool | None, fresh: bool
) -> None:
    """Run the demo: the on-device model triages bug reports into records that a JSON
    schema and field rules verify, the same model reviews them, and a person approves the
    high-risk one. Failed checks go back to the model as feedback for its next attempt.
    """
    folder = demo_folder()
    book = load_playbook(folder / "playbook.yaml", state_dir=ctx.state_dir)
    specs = load_items(folder / "items.yaml", book)
    if ask is None:
        ask = sys.stdin.isatty() and ctx.console.is_terminal
    ctx.console.print(
        f"baton demo: {len(specs)} bug reports, playbook {folder / 'playbook.yaml'}\n"
        "the on-device model (SmolLM2-135M-Instruct, llama.cpp) does the work; the first "
        "run loads the model",
        highlight=False,
    )
    code = ctx.run(
        lambda store: run_live(
            ctx,
            store,
            [book],
            specs,
            concurrency,
            live,
            True,
            beside=lambda engine, view: _decide_for_people(ctx, store, engine, view, ask),
            fresh=fresh,
        ),
        create=True,
    )
    ctx.console.print(
        "the demo's items stay in the store: `baton show ITEM` shows every attempt, check, "
        "review and the feedback between them; `baton metrics` the figures",
        highlight=False,
    )
    sys.exit(0 if code in (0, 3) else code)


async def _decide_for_people(
    ctx: Context, store: Store, engine: Engine, view: LiveView, ask: bool
) -> None:
    """Each time an item waits for a person's review: ask them, or let the policy decide."""
    subscription = engine.bus.subscribe()
    try:
        while True:
            event = await subscription.queue.get()
            if event.kind != ev.HUMAN_REQUESTED or event.data.get("wait") != "review":
                continue
            state = await load_state(store, event.log)
            await hydrate(store, state)  # a person reviews the whole output
            attempt = candidate_of(state, int(event.data["attempt"]))
            if ask:
                async with view.aside():
                    decision, comments = await asyncio.to_thread(_ask, ctx, attempt)
                by = whoami()
            else:
                reasons = STAND_IN.reasons(attempt)
                decision = Decision.REQUEST_CHANGES if reasons else Decision.APPROVE
                comments = (
                    "; ".join(reasons) if reasons else "every check passed"
                ) + " (decided by the demo's policy: no one was at a terminal to ask)"
                by = "demo-policy"
            # someone may have decided first (`baton approve` in another terminal)
            with contextlib.suppress(InvalidAction):
                await decide_review(store, event.log, decision, by, comments)
                # show the decision in the live view like the engine's own steps
                engine.bus.publish(await store.load(event.log, after=state.version))
    finally:
        subscription.close()


def _ask(ctx: Context, attempt: Candidate) -> tuple[Decision, str]:
    console = ctx.console
    checks = "\n".join(
        f"  {c['verifier']}: {'passed' if c['passed'] else 'FAILED'}" for c in attempt.checks
    )
    console.print(
        Panel(
            f"{escape(attempt.objective)}\n\n[bold]output of attempt {attempt.attempt}[/]\n"
            f"{escape(attempt.text)}\n\n[bold]checks[/]\n{escape(checks) or '  none'}",
            title=f"{attempt.item_id} ({attempt.risk} risk) waits for your review",
        )
    )
    choice = click.prompt(
        "approve, changes or reject?",
        type=click.Choice(["approve", "changes", "reject"]),
        default="approve",
    )
    if choice == "approve":
        return Decision.APPROVE, click.prompt("comments", default="", show_default=False)
    message = click.prompt("what should change?" if choice == "changes" else "why?")
    return (Decision.REQUEST_CHANGES if choice == "changes" else Decision.REJECT), message
