"""Effects: performing a step by calling the playbook's agents, reviewers and verifiers,
and turning what they return (or raise) into the entries of the events to record.

The loop decides; these functions act; the engine records. Nothing here writes to a store.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from ..config.playbook import Playbook
from ..config.plugin import Agent
from ..core import events as ev
from ..core.bookkeeping import Entry
from ..core.loop import Apply, Delegate, Review, Verify
from ..core.plan import CodePlan, Plan
from ..core.records import (
    AgentResult,
    Assignment,
    AwaitHuman,
    BudgetLeft,
    Candidate,
    CheckResult,
    ReviewResult,
)
from ..core.state import ItemState
from ..core.text import clip
from ..core.vocabulary import Outcome
from ..errors import AgentError, ReviewError
from ..system import worktrees
from ..system.git import GitError

EVIDENCE_LIMIT = 20_000


async def scope(book: Playbook, state: ItemState) -> list[Entry]:
    """The plan for an item (or its failure, if the playbook no longer fits it)."""
    # the spec was validated when submitted; what can have changed since is the playbook
    spec = state.spec
    problems = [
        f"unknown verifier {n!r} in acceptance"
        for n in spec.get("acceptance") or ()
        if n not in book.verifiers
    ] + [
        f"unknown agent {n!r} in cascade" for n in spec.get("cascade") or () if n not in book.agents
    ]
    code = None
    if book.workspace is not None and book.workspace.repo:
        own = spec.get("workspace") or {}
        repo, base = own.get("repo") or book.workspace.repo, own.get("base") or book.workspace.base
        try:  # the base is pinned to a commit now: every attempt starts from the same code
            commit = await asyncio.to_thread(worktrees.resolve_base, Path(repo), base)
        except worktrees.BaseProblem as exc:
            problems.append(f"workspace.{exc.field}: {exc}")
        else:
            code = book.workspace.code_plan(repo, base, commit)
    if problems:
        reason = f"invalid against playbook {book.name}: {'; '.join(problems)}"
        return [(ev.ITEM_FAILED, {"reason": reason})]
    plan = book.plan_for(
        risk=spec.get("risk", "low"),
        tags=spec.get("tags", []),
        acceptance=spec.get("acceptance"),
        cascade=spec.get("cascade"),
        budget={k: v for k, v in (spec.get("budget") or {}).items() if v is not None},
        code=code,
    )
    return [(ev.ITEM_SCOPED, {"plan": plan.to_dict()})]


async def build_assignment(
    book: Playbook, state: ItemState, step: Delegate, now: float, state_dir: Path
) -> Assignment:
    """What the agent is given: objective, inputs, latest feedback, acceptance, budget left."""
    plan = state.plan
    assert plan is not None
    budget = plan.budget
    feedback: list[dict[str, Any]] = []
    closed = [a for a in state.attempts if a.feedback is not None]
    if closed:
        feedback.extend(closed[-1].feedback or [])
    feedback.extend(
        {"source": "person", "kind": "review", "message": c} for c in state.reopen_comments
    )
    left = BudgetLeft(
        attempts=budget.attempts + state.extra_attempts - len(state.attempts),
        tokens=None if budget.tokens is None else budget.tokens + state.extra_tokens - state.tokens,
        cost=None if budget.cost is None else budget.cost + state.extra_cost - state.cost,
        seconds=None
        if budget.wall_seconds is None
        else budget.wall_seconds - (now - state.window_start),
    )
    return Assignment(
        item_id=state.item_id,
        attempt=step.attempt,
        objective=state.spec["objective"],
        inputs=state.spec.get("inputs", {}),
        feedback=tuple(feedback),
        acceptance=book.acceptance([v.name for v in plan.verifiers]),
        budget=left,
        risk=state.spec.get("risk", "low"),
        tags=tuple(state.spec.get("tags", ())),
        workdir=await workdir(book, plan, state_dir, state.item_id, step.attempt),
    )


async def workdir(
    book: Playbook, plan: Plan, state_dir: Path, item_id: str, attempt: int
) -> Path | None:
    """A fresh working folder for the attempt: a git worktree at the item's base commit, or
    a copy of the playbook's folder."""
    if plan.code is not None:
        return await worktrees.prepare(plan.code, state_dir, item_id, attempt)
    if book.workspace is None or not book.workspace.copy_from:
        return None
    folder = (state_dir / "work" / item_id / str(attempt)).resolve()
    if book.workspace.copy_from:
        assert book.path is not None
        source = book.path.parent / book.workspace.copy_from
        await asyncio.to_thread(shutil.copytree, source, folder, dirs_exist_ok=True)
    else:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


async def attempt(
    agent: Agent, assignment: Assignment, code: CodePlan | None = None
) -> list[Entry]:
    """Run the agent on the task; its result, failure or request for a person as events.

    With code work, the attempt's output carries its change (the diff against the base,
    whether or not the agent committed), and a change that breaks a limit fails it."""
    entries = await _run_agent(agent, assignment)
    kind, data = entries[0]
    if code is None or assignment.workdir is None or kind != ev.ATTEMPT_FINISHED:
        return entries
    try:
        change = await worktrees.collect(
            code, assignment.workdir, assignment.item_id, assignment.attempt
        )
    except worktrees.ChangeRefused as exc:
        error = f"change refused: {exc}"
        failed = {
            "attempt": assignment.attempt,
            "error": error,
            "usage": data["usage"],
            "change": exc.change,
        }
        return [(ev.ATTEMPT_FAILED, failed)]
    except GitError as exc:
        failed = {"attempt": assignment.attempt, "error": f"could not read the change: {exc}"}
        return [(ev.ATTEMPT_FAILED, {**failed, "usage": data["usage"]})]
    data["output"]["change"] = change
    return entries


async def _run_agent(agent: Agent, assignment: Assignment) -> list[Entry]:
    n = assignment.attempt
    started = time.perf_counter()
    try:
        if assignment.budget.seconds is not None:
            async with asyncio.timeout(max(assignment.budget.seconds, 0.001)):  # (not wait_for: it
                result = await agent.run(assignment)  # can swallow a cancellation on 3.11)
        else:
            result = await agent.run(assignment)
    except TimeoutError:
        seconds = time.perf_counter() - started
        error = f"stopped: the item's time budget ran out after {seconds:.1f}s"
        return [(ev.ATTEMPT_FAILED, {"attempt": n, "error": error, "usage": {"seconds": seconds}})]
    except AgentError as exc:
        seconds = time.perf_counter() - started
        spent = exc.usage.to_dict() if exc.usage is not None else {}
        usage = {**spent, "seconds": spent.get("seconds") or seconds}
        return [(ev.ATTEMPT_FAILED, {"attempt": n, "error": str(exc), "usage": usage})]
    except (Exception, SystemExit) as exc:  # a plugin's exit() must not end the engine
        seconds = time.perf_counter() - started
        # what went wrong first (a line a person reads), the traceback after it as evidence
        error = f"the agent raised {_exception_line(exc)}\n" + clip(
            traceback.format_exc(), EVIDENCE_LIMIT
        )
        return [(ev.ATTEMPT_FAILED, {"attempt": n, "error": error, "usage": {"seconds": seconds}})]
    seconds = time.perf_counter() - started
    if isinstance(result, AwaitHuman):
        return [(ev.HUMAN_REQUESTED, {"wait": "work", "attempt": n, "prompt": result.prompt})]
    if not isinstance(result, AgentResult):
        error = f"the agent returned {type(result).__name__}, expected AgentResult or AwaitHuman"
        return [(ev.ATTEMPT_FAILED, {"attempt": n, "error": error, "usage": {"seconds": seconds}})]
    usage = result.usage.to_dict()
    if not usage["seconds"]:
        usage["seconds"] = seconds
    output = result.output_dict()
    return [
        (
            ev.ATTEMPT_FINISHED,
            {
                "attempt": n,
                "output": output,
                "usage": usage,
                "by": f"agent:{agent.name}",
            },
        )
    ]


def candidate_of(state: ItemState, n: int) -> Candidate:
    """What reviewers and verifiers see of attempt n."""
    a = state.attempt(n)
    output = a.output or {}
    workdir = a.task.get("workdir")
    change = output.get("change")
    return Candidate(
        item_id=state.item_id,
        attempt=n,
        agent=a.agent,
        objective=state.spec["objective"],
        inputs=state.spec.get("inputs", {}),
        text=output.get("text", ""),
        data=output.get("data"),
        risk=state.spec.get("risk", "low"),
        tags=tuple(state.spec.get("tags", ())),
        checks=tuple(a.checks.values()),
        reviews=tuple(a.reviews.values()),
        workdir=Path(workdir) if workdir else None,
        change=change,
    )


async def review(book: Playbook, state: ItemState, step: Review) -> list[Entry]:
    """Ask the reviewer; its decision, failure or request for a person as events."""
    n, name = step.attempt, step.reviewer
    slot = book.reviewers.get(name)
    if slot is None:
        return [
            (
                ev.ITEM_ESCALATED,
                {"reason": f"reviewer {name!r} is no longer in playbook {book.name}"},
            )
        ]
    try:
        result = await slot.reviewer.review(candidate_of(state, n))
    except ReviewError as exc:
        return [(ev.REVIEW_FAILED, {"attempt": n, "reviewer": name, "error": str(exc)})]
    except (Exception, SystemExit):
        error = "the reviewer raised:\n" + clip(traceback.format_exc(), EVIDENCE_LIMIT)
        return [(ev.REVIEW_FAILED, {"attempt": n, "reviewer": name, "error": error})]
    if isinstance(result, AwaitHuman):
        data = {"wait": "review", "attempt": n, "reviewer": name, "prompt": result.prompt}
        return [(ev.HUMAN_REQUESTED, data)]
    if not isinstance(result, ReviewResult):
        error = f"the reviewer returned {type(result).__name__}, expected ReviewResult"
        return [(ev.REVIEW_FAILED, {"attempt": n, "reviewer": name, "error": error})]
    decided: dict[str, Any] = {
        "attempt": n,
        "reviewer": name,
        "kind": slot.kind,
        "decision": str(result.decision),
        "comments": result.comments,
        "by": f"{slot.kind}:{name}",
    }
    if result.usage is not None:
        decided["usage"] = result.usage.to_dict()
    return [(ev.REVIEW_DECIDED, decided)]


async def verify(book: Playbook, state: ItemState, step: Verify) -> list[Entry]:
    """Run the missing checks (concurrently); each verdict with its evidence as an event."""
    view = candidate_of(state, step.attempt)
    if len(step.verifiers) == 1:  # gather would wrap it in a task for nothing
        checks = [await check(book, view, step.verifiers[0])]
    else:
        checks = await asyncio.gather(*(check(book, view, n) for n in step.verifiers))
    return [(ev.CHECK_RECORDED, check) for check in checks]


async def check(book: Playbook, view: Candidate, name: str) -> dict[str, Any]:
    """One verifier's verdict; a verifier that raises is a failed check with its traceback."""
    slot = book.verifiers.get(name)
    started = time.perf_counter()
    if slot is None:
        result = CheckResult(False, f"verifier {name!r} is no longer in playbook {book.name}")
    else:
        try:
            result = await slot.verifier.verify(view)
            if not isinstance(result, CheckResult):
                result = CheckResult(
                    False,
                    f"the verifier returned {type(result).__name__}, expected CheckResult",
                )
        except (Exception, SystemExit):
            result = CheckResult(False, "the verifier raised:\n" + traceback.format_exc())
    check: dict[str, Any] = {
        "attempt": view.attempt,
        "verifier": name,
        "passed": bool(result.passed),
        "score": result.score,
        "evidence": clip(result.evidence, EVIDENCE_LIMIT),
        "seconds": time.perf_counter() - started,
        "required": slot.required if slot else True,
    }
    if result.usage is not None:
        check["usage"] = result.usage.to_dict()
    return check


async def apply_change(state: ItemState, step: Apply) -> list[Entry]:
    """The playbook's on_accept: the accepted change onto a branch or the repo's checkout."""
    code = state.plan.code if state.plan else None
    change = (state.attempt(step.attempt).output or {}).get("change") if step.attempt else None
    data: dict[str, Any] = {"attempt": step.attempt, "by": "playbook", "on_accept": True}
    if code is None or change is None:
        error = "the accepted attempt recorded no change"
        return [(ev.CHANGE_APPLY_FAILED, {**data, "how": step.how, "error": error})]
    repo = Path(code.repo)
    try:
        if step.how == "branch":
            target = worktrees.accepted_branch(state.item_id)
            message = await worktrees.apply_to_branch(repo, change, target)
            how = "branch"
        else:
            target, how = str(repo), "checkout"
            message = await worktrees.apply_to_checkout(repo, change)
    except GitError as exc:
        return [(ev.CHANGE_APPLY_FAILED, {**data, "how": step.how, "error": str(exc)})]
    return [(ev.CHANGE_APPLIED, {**data, "how": how, "target": target, "message": message})]


async def tidy(state: ItemState) -> None:
    """Remove the worktrees of closed attempts (every attempt once the item has an outcome);
    the accepted attempt keeps its branch, and `workspace.keep` keeps everything."""
    code = state.plan.code if state.plan else None
    if code is None or code.keep:
        return
    final = state.outcome is not None
    for a in state.attempts:
        path = a.task.get("workdir")
        if not path or not (a.closed or final) or not Path(path).exists():
            continue
        keep_branch = state.outcome is Outcome.ACCEPTED and a.n == state.accepted_attempt
        branch = worktrees.branch_name(state.item_id, a.n)
        await worktrees.remove(Path(code.repo), Path(path), branch, keep_branch=keep_branch)


def _exception_line(exc: BaseException) -> str:
    """`ValueError: the message` (its first line), as Python's last traceback line says it."""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
