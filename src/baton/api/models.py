"""The API's request and response shapes (they make the OpenAPI spec in docs/openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from ..config.items import ItemSpec
from ..services.audit import Audit
from ..services.audit_verify import Verified
from ..services.auth import Role
from ..services.verify_marks import Mark


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(Strict):
    token: str = Field(min_length=1, max_length=200, description="an API token: baton_...")


class SessionInfo(BaseModel):
    name: str
    role: Role
    csrf: str | None = Field(None, description="send as X-CSRF-Token with cookie requests")
    open: bool = Field(False, description="no token exists: the local user acts as admin")


class Submit(Strict):
    playbook: str = Field(min_length=1, max_length=64, description="one the server loaded")
    items: list[ItemSpec] = Field(min_length=1, max_length=1000)


class Submitted(BaseModel):
    id: str
    submitted: bool = Field(description="false: an item with this id existed already")


class Comments(Strict):
    comments: str = Field("", max_length=20_000)


class ChangesRequested(Strict):
    comments: str = Field(min_length=1, max_length=20_000, description="what to change")
    attempts: int = Field(1, ge=1, le=100, description="for an escalated item: attempts to add")
    tokens: int = Field(0, ge=0, le=100_000_000)
    cost: float = Field(0.0, ge=0, le=1_000_000)


class Reason(Strict):
    reason: str = Field("", max_length=2_000)


class Pause(Strict):
    reason: str = Field("", max_length=2_000)
    stop: bool = Field(False, description="also stop the agent's running attempts")


class Result(Strict):
    text: str = Field("", max_length=1_000_000)
    data: Any = None


class NewToken(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    role: Role


class Problem(BaseModel):
    field: str = ""
    message: str
    where: str | None = None


class Error(BaseModel):
    """Every error answer: what is wrong, and for invalid input each problem with its field."""

    detail: str
    problems: list[Problem] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "a request that cannot be done as asked"},
    401: {"model": Error, "description": "no valid token or session"},
    403: {"model": Error, "description": "the role does not allow it, or the CSRF header is wrong"},
    404: {"model": Error, "description": "no such item, agent, playbook or token"},
    409: {"model": Error, "description": "the item's state does not allow it"},
    422: {"model": Error, "description": "invalid input; `problems` names each field"},
    503: {"model": Error, "description": "the store is out of reach"},
}


class Message(BaseModel):
    message: str


class ItemRow(BaseModel):
    item_id: str
    queue: str
    status: str
    runnable: bool
    waiting: str | None
    version: int
    attempts: int
    objective: str
    created_at: float
    updated_at: float
    lease_owner: str | None = None
    lease_until: float | None = None
    tags: list[str] = Field(default_factory=list)
    agents: list[str] = Field(default_factory=list, description="every agent it ran on")


class ItemsPage(BaseModel):
    items: list[ItemRow]
    limit: int
    offset: int
    order: Literal["newest", "oldest"] = "newest"
    next: str | None = Field(
        None, description="the cursor of the next page (None: this one is the last)"
    )
    counts: dict[str, int] = Field(description="items in each status, in the whole store")


class EventOut(BaseModel):
    log: str
    seq: int
    kind: str
    at: float
    data: dict[str, Any]
    prev: str
    hash: str
    position: int


class ItemDetail(BaseModel):
    item: ItemRow
    attempts: list[dict[str, Any]] = Field(description="each attempt: input, output, change")
    events: list[EventOut] = Field(description="the whole timeline")
    waiting: dict[str, Any] | None = None
    outcome: str | None = None


ExpectedHead = Annotated[
    str | None,
    Query(pattern="^[0-9a-fA-F]{64}$", description="a checkpoint's hash the audit log must hold"),
]


class CheckpointOut(BaseModel):
    number: int = Field(description="its seq in the audit log")
    hash: str = Field(description="the signed-off head: note it down, hold the store to it")
    logs: int
    events: int
    at: float


class AuditOut(BaseModel):
    ok: bool
    logs: int
    events: int
    broken: list[dict[str, Any]] = Field(description="each log's first broken link")
    findings: list[dict[str, Any]] = Field(
        default_factory=list,
        description="logs that do not reach (or match) the head a checkpoint recorded or "
        "the version their index row names: log, seq, problem",
    )
    checkpoint: CheckpointOut | None = Field(default=None, description="the latest checkpoint")
    uncovered: int = Field(default=0, description="events no checkpoint covers yet")
    full: bool = Field(default=True, description="every chain checked from its first event")
    checked: int = Field(default=0, description="events re-hashed")
    verified: dict[str, Any] | None = Field(
        default=None, description="the verify checkpoint started from: number, digest, through"
    )

    @classmethod
    def of(cls, found: Audit) -> AuditOut:
        latest = found.checkpoint
        return cls(
            ok=found.ok,
            logs=found.logs,
            events=found.events,
            broken=[{"log": b.log, "seq": b.seq, "reason": b.reason} for b in found.broken],
            findings=[{"log": f.log, "seq": f.seq, "problem": f.problem} for f in found.findings],
            checkpoint=None
            if latest is None
            else CheckpointOut(
                number=latest.number,
                hash=latest.hash,
                logs=latest.logs,
                events=latest.events,
                at=latest.at,
            ),
            uncovered=found.uncovered,
            full=found.full if isinstance(found, Verified) else True,
            checked=found.checked if isinstance(found, Verified) else 0,
            verified=_mark_of(found.mark) if isinstance(found, Verified) else None,
        )


def _mark_of(mark: Mark | None) -> dict[str, Any] | None:
    if mark is None:
        return None
    return {"number": mark.number, "digest": mark.digest, "through": mark.through}
