"""The REST routes: items, decisions, the inbox, agents, metrics, the audit, the live
stream, tokens and the web page's session. Every input is validated by its model; every
decision records who made it."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from ..config.items import check_against, with_ids
from ..config.source import Located
from ..core.bounds import DIGEST
from ..core.state import AttemptState, ItemState
from ..core.vocabulary import AUTH_LOG, Decision
from ..errors import InvalidAction, ItemsError, NotFound
from ..runtime.engine import Engine
from ..runtime.recording import load_state
from ..services import actions, audit_verify, auth, metrics, readmodel, views
from ..services.auth import Identity, Role
from ..store.feed import PAGE
from . import models as m
from .access import SESSION_COOKIE, csrf, same_origin
from .deps import Admin, Operator, Reviewer, Viewer, access_of, playbooks_of, shared, store_of
from .live import stream_for

router = APIRouter(prefix="/api", responses=m.ERRORS)


# --- the session (the web page logs in with a token) ----------------------------------
@router.post("/session", response_model=m.SessionInfo, tags=["session"])
async def login(body: m.Login, request: Request, response: Response) -> m.SessionInfo:
    """Exchange a token for a session cookie (HttpOnly, SameSite=Strict) and a CSRF token;
    the session is recorded in the store, so every server on it knows it."""
    access = access_of(request)
    identity = auth.check(await access.tokens(), body.token)
    if identity is None:
        raise HTTPException(401, "the token is unknown, malformed or revoked")
    cookie, session = await auth.start_session(store_of(request), identity)
    access.forget()
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=auth.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return m.SessionInfo(name=identity.name, role=identity.role, csrf=session.csrf)


@router.get("/session", response_model=m.SessionInfo, tags=["session"])
async def whoami(request: Request, identity: Viewer) -> m.SessionInfo:
    """Who this request acts as (and the session's CSRF token, for the web page)."""
    session = await access_of(request).session(request)
    return m.SessionInfo(
        name=identity.name,
        role=identity.role,
        csrf=session.csrf if session else None,
        open=identity.token_id is None,
    )


@router.delete("/session", response_model=m.Message, tags=["session"])
async def logout(request: Request, response: Response) -> m.Message:
    """End the session on every server (its CSRF header is needed, as for any change)."""
    access = access_of(request)
    session = await access.session(request)
    if session is not None:
        same_origin(request)
        csrf(request, session)
        await auth.end_session(store_of(request), session.id, session.identity.by, "logout")
        access.forget()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return m.Message(message="logged out")


# --- items ----------------------------------------------------------------------------
@router.get("/playbooks", tags=["items"])
async def playbooks(request: Request, _: Viewer) -> list[dict[str, Any]]:
    """The playbooks this server submits items to."""
    return [
        {
            "name": b.name,
            "description": b.description,
            "agents": list(b.agents),
            "cascade": list(b.cascade),
            "reviewers": list(b.reviewers),
            "verifiers": list(b.verifiers),
            "budget": b.budget.model_dump(),
            "code_work": bool(b.workspace and b.workspace.repo),
        }
        for b in playbooks_of(request).values()
    ]


@router.post("/items", response_model=list[m.Submitted], status_code=201, tags=["items"])
async def submit(body: m.Submit, request: Request, _: Operator) -> list[m.Submitted]:
    """Submit items to a playbook this server loaded; workers run them."""
    book = playbooks_of(request).get(body.playbook)
    if book is None:
        known = ", ".join(playbooks_of(request)) or "none: start `baton serve PLAYBOOK...`"
        raise NotFound(f"playbook: no playbook {body.playbook!r} here (known: {known})")
    src = Located("request", {"items": [s.to_dict() for s in body.items]}, {})
    problems = []
    for i, spec in enumerate(body.items):
        problems.extend(check_against(spec, book, src, ("items", i)))
        if spec.workspace is not None:
            raise ItemsError(
                [
                    src.problem(
                        ("items", i, "workspace"),
                        "an item's own repository is given in an items file, not through the API",
                    )
                ]
            )
    if problems:
        raise ItemsError(problems)
    specs = with_ids(list(body.items), book.name)
    done = await Engine(store_of(request), book).submit(book, specs)
    return [m.Submitted(id=item_id, submitted=new) for item_id, new in done]


@router.get("/items/{item_id}", response_model=m.ItemDetail, tags=["items"])
async def show(item_id: str, request: Request, _: Viewer) -> m.ItemDetail:
    """An item's whole record: summary, attempts (input, output, change, checks, reviews,
    feedback) and every event."""
    store = store_of(request)
    events = await store.load(item_id)
    rows = await store.query(item_ids=[item_id], limit=1)
    if not events or not rows:
        raise NotFound(f"no item {item_id!r} in this store")
    state = await load_state(store, item_id)
    return m.ItemDetail(
        item=m.ItemRow(**rows[0]._asdict()),
        attempts=[attempt_dict(state, a) for a in state.attempts],
        events=[m.EventOut(**e.to_dict()) for e in events],
        waiting=state.waiting,
        outcome=state.outcome.value if state.outcome else None,
    )


@router.get("/blobs/{digest}", tags=["items"], response_class=Response)
async def blob(
    digest: Annotated[str, PathParam(pattern=f"^{DIGEST.pattern}$", description="sha256:<64 hex>")],
    request: Request,
    _: Viewer,
) -> Response:
    """What an event keeps aside: `{"$blob": "sha256:...", "bytes", "json", "preview"}` in
    an event's data names it; this answers its bytes whole (JSON or UTF-8 text)."""
    content = await store_of(request).get_blob(digest)
    if content is None:
        raise NotFound(f"no blob {digest} in this store")
    return Response(
        content,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )


@router.get("/items/{item_id}/attempts", tags=["items"])
async def attempts(item_id: str, request: Request, _: Viewer) -> list[dict[str, Any]]:
    """Each attempt: what it was given, its output and change (diff), checks with evidence,
    reviews with comments, and the feedback handed on."""
    state = await load_state(store_of(request), item_id)
    return [attempt_dict(state, a) for a in state.attempts]


def attempt_dict(state: ItemState, a: AttemptState) -> dict[str, Any]:
    return {
        "attempt": a.n,
        "agent": a.agent,
        "round": a.round,
        "started_at": a.started_at,
        "finished_at": a.finished_at,
        "input": a.task,
        "output": a.output,
        "error": a.error,
        "abandoned": a.abandoned,
        "usage": a.usage,
        "checks": list(a.checks.values()),
        "reviews": list(a.reviews.values()),
        "feedback": a.feedback,
        "accepted": state.accepted_attempt == a.n,
    }


async def _decide(
    request: Request, item_id: str, decision: Decision, who: Identity, text: str, **more: Any
) -> m.Message:
    store = store_of(request)
    done = await actions.decide_review(store, item_id, decision, who.by, text, **more)
    return m.Message(message=done)


@router.post("/items/{item_id}/approve", response_model=m.Message, tags=["decisions"])
async def approve(item_id: str, body: m.Comments, request: Request, who: Reviewer) -> m.Message:
    return await _decide(request, item_id, Decision.APPROVE, who, body.comments)


@router.post("/items/{item_id}/request-changes", response_model=m.Message, tags=["decisions"])
async def request_changes(
    item_id: str, body: m.ChangesRequested, request: Request, who: Reviewer
) -> m.Message:
    """Send the attempt back with comments (an escalated item reopens with more budget)."""
    extra = {"attempts": body.attempts, "tokens": body.tokens, "cost": body.cost}
    return await _decide(request, item_id, Decision.REQUEST_CHANGES, who, body.comments, **extra)


@router.post("/items/{item_id}/reject", response_model=m.Message, tags=["decisions"])
async def reject(item_id: str, body: m.Comments, request: Request, who: Reviewer) -> m.Message:
    return await _decide(request, item_id, Decision.REJECT, who, body.comments)


@router.post("/items/{item_id}/result", response_model=m.Message, tags=["decisions"])
async def submit_result(item_id: str, body: m.Result, request: Request, who: Reviewer) -> m.Message:
    """Deliver a person's work for an item whose agent is a human."""
    done = await actions.submit_result(store_of(request), item_id, who.by, body.text, body.data)
    return m.Message(message=done)


@router.post("/items/{item_id}/cancel", response_model=m.Message, tags=["items"])
async def cancel(item_id: str, body: m.Reason, request: Request, who: Operator) -> m.Message:
    return m.Message(message=await actions.cancel(store_of(request), item_id, who.by, body.reason))


# --- the fleet, the numbers, the record -------------------------------------------------
@router.get("/agents", tags=["agents"])
async def agents(request: Request, _: Viewer) -> list[dict[str, Any]]:
    """Every agent: state (paused or active), load, concurrency, and its scorecard."""
    return await views.fleet(store_of(request), playbooks_of(request))


@router.post("/agents/{name}/pause", response_model=m.Message, tags=["agents"])
async def pause(name: str, body: m.Pause, request: Request, who: Operator) -> m.Message:
    """The kill switch: every engine stops delegating to the agent within a second; with
    `stop`, its running attempts are stopped too (recorded as stopped by the caller)."""
    await views.known_agent(store_of(request), name, playbooks_of(request))
    done = await actions.set_paused(
        store_of(request), name, True, who.by, body.reason, stop=body.stop
    )
    return m.Message(message=done)


@router.post("/agents/{name}/resume", response_model=m.Message, tags=["agents"])
async def resume(name: str, request: Request, who: Operator) -> m.Message:
    await views.known_agent(store_of(request), name, playbooks_of(request))
    return m.Message(message=await actions.set_paused(store_of(request), name, False, who.by))


@router.get("/metrics", tags=["metrics"])
async def metrics_now(
    request: Request,
    _: Viewer,
    playbook: Annotated[str | None, Query(description="one playbook's items")] = None,
) -> dict[str, Any]:
    """Every figure, read from the counters every commit keeps."""
    scope = f"pb={playbook}|" if playbook else metrics.ALL
    counters = await readmodel.current(store_of(request), scope)
    return metrics.figures(counters, scope, now=time.time()).to_dict()


@router.get("/metrics/series", tags=["metrics"])
async def metrics_series(
    request: Request,
    _: Viewer,
    bucket: Annotated[
        float, Query(ge=1, le=30 * 86400, description="seconds, rounded up to whole hours")
    ] = 3600,
) -> list[dict[str, Any]]:
    """The figures over time: what happened in each bucket (items submitted and finished
    in it, their cycle times, what was spent and decided)."""
    counters = await readmodel.current(store_of(request), "hour=")
    return [
        {"start": start, "seconds": figures.window_seconds, **figures.to_dict()}
        for start, figures in metrics.series(counters, bucket)
    ]


@router.get("/audit", response_model=m.AuditOut, tags=["metrics"])
async def audit(
    request: Request,
    _: Viewer,
    expect: m.ExpectedHead = None,
    full: Annotated[bool, Query(description="every chain from its first event")] = False,
) -> m.AuditOut:
    """Every log held to the heads the checkpoints recorded, its chain checked from the
    last verify checkpoint (`full`: from its first event): each first broken link, every
    log cut short or gone. Writes no verify checkpoint (`baton audit verify` does). Calls
    that arrive while the same verify runs share its answer."""
    store = store_of(request)

    async def run() -> audit_verify.Verified:
        return await audit_verify.verify(store, expect, full=full, record=False)

    return m.AuditOut.of(await shared(request, ("audit", expect, full), run))


@router.get("/events", response_model=list[m.EventOut], tags=["events"])
async def events(
    request: Request,
    who: Viewer,
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE)] = 100,
    item: Annotated[str | None, Query(max_length=128)] = None,
) -> list[m.EventOut]:
    """A page of the global event log from a position (`/api/stream` follows it live); the
    auth log (token ids, names, roles, digests) only for admins."""
    found = await store_of(request).read(after, limit)
    hidden = _hidden_logs(who)
    return [
        m.EventOut(**e.to_dict())
        for e in found
        if (item is None or e.log == item) and e.log not in hidden
    ]


def _hidden_logs(who: Identity) -> frozenset[str]:
    """Logs this identity may not read: the auth log, for all but admins."""
    return frozenset() if who.role.allows(Role.ADMIN) else frozenset({AUTH_LOG})


@router.get("/stream", tags=["events"])
async def stream(
    request: Request,
    who: Viewer,
    after: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> StreamingResponse:
    """Server-Sent Events: every event from `after` (or Last-Event-ID, or now) as it
    happens, in order, from every process; a comment every 15 s keeps the line open. The
    credentials are checked again every second and whenever the auth log changes: the
    stream ends (an `ended` event says why) once its token is revoked or its session ends."""
    last = request.headers.get("last-event-id", "")
    start = after if after is not None else int(last) if last.isdigit() else None  # None: now
    return StreamingResponse(
        stream_for(request, start, _hidden_logs(who)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- tokens ------------------------------------------------------------------------------
@router.get("/tokens", tags=["tokens"])
async def list_tokens(request: Request, _: Admin) -> list[dict[str, Any]]:
    """Every token (never its secret)."""
    found = auth.tokens_of(await store_of(request).load(AUTH_LOG))
    return [t.to_dict() for t in found.values()]


@router.post("/tokens", status_code=201, tags=["tokens"])
async def create_token(body: m.NewToken, request: Request, who: Admin) -> dict[str, Any]:
    """A new token: its secret is in this answer and nowhere else, ever."""
    secret, record = await auth.create_token(store_of(request), body.name, body.role, who.by)
    access_of(request).forget()
    return {"token": secret, **record.to_dict()}


@router.delete("/tokens/{token_id}", response_model=m.Message, tags=["tokens"])
async def revoke_token(token_id: str, request: Request, who: Admin) -> m.Message:
    if who.token_id == token_id:
        raise InvalidAction("a token cannot revoke itself: use another admin token")
    record = await auth.revoke_token(store_of(request), token_id, who.by)
    access_of(request).forget()
    return m.Message(message=f"token {record.id} ({record.name}) revoked")
