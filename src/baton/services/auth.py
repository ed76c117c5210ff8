"""API tokens, the web page's sessions and roles: who may read, decide, operate and
administer through the API.

A token is shown once, when it is created (`baton_<id>_<secret>`); the store keeps only a
SHA-256 of its secret, in the `auth` log (`token.created`, `token.revoked`), so every
`baton serve` on the same store knows the same tokens and the audit chain covers them.
Roles are ordered: each one may do what the ones before it may.

A session (the web page's cookie, `<id>_<secret>`) is started by logging in with a token
and kept the same way: `session.started` holds the SHA-256 of its secret, `session.ended`
says who ended it and why. Its CSRF token is an HMAC of the secret, so no server stores it
and every server can check it. A session counts while it is started, not ended, not
expired and its token is not revoked: revoking a token ends all its sessions everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..core import events as ev
from ..core.events import Event, chain
from ..core.vocabulary import AUTH_LOG
from ..errors import InputError, InvalidAction, NotFound
from ..runtime.recording import retrying
from ..store.base import Store


class Role(StrEnum):
    VIEWER = "viewer"  # read everything
    REVIEWER = "reviewer"  # + decide reviews and what waits in the inbox
    OPERATOR = "operator"  # + submit and cancel items, pause and resume agents
    ADMIN = "admin"  # + create and revoke tokens

    def allows(self, needed: Role) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {role: i for i, role in enumerate(Role)}
_TOKEN = re.compile(r"^baton_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
_SESSION = re.compile(r"^([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
SESSION_SECONDS = 12 * 3600
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: recorded with every decision it makes."""

    name: str
    role: Role
    token_id: str | None = None  # None: the local user of a server without tokens

    @property
    def by(self) -> str:
        return f"token:{self.name}" if self.token_id else self.name


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    role: Role
    digest: str
    created_at: float
    created_by: str
    revoked_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    token_id: str
    digest: str  # sha256 of the cookie's secret: the secret itself is nowhere
    started_at: float
    expires: float
    by: str
    ended_at: float | None = None
    why: str = ""  # why it ended


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: who it acts as, and the CSRF token its changes must carry."""

    id: str
    identity: Identity
    csrf: str
    expires: float


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a session cookie does not count."""

    why: str


@dataclass(slots=True)
class AuthState:
    """The auth log folded: every token and session, up to the event numbered `version`."""

    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    version: int = 0

    def fold(self, events: Iterable[Event]) -> AuthState:
        """This state with `events` applied (ones it has folded already are skipped)."""
        for e in events:
            if e.seq <= self.version:
                continue
            self.version = e.seq
            d = e.data
            if e.kind == ev.TOKEN_CREATED:
                self.tokens[d["id"]] = TokenRecord(
                    d["id"], d["name"], Role(d["role"]), d["digest"], e.at, d.get("by", "")
                )
            elif e.kind == ev.TOKEN_REVOKED and d["id"] in self.tokens:
                old = self.tokens[d["id"]]
                self.tokens[d["id"]] = TokenRecord(
                    old.id, old.name, old.role, old.digest, old.created_at, old.created_by, e.at
                )
            elif e.kind == ev.SESSION_STARTED:
                self.sessions[d["id"]] = SessionRecord(
                    d["id"], d["token"], d["digest"], e.at, d["expires"], d.get("by", "")
                )
            elif e.kind == ev.SESSION_ENDED and d["id"] in self.sessions:
                s = self.sessions[d["id"]]
                if s.ended_at is None:
                    why = d.get("why", "")
                    self.sessions[d["id"]] = SessionRecord(
                        s.id, s.token_id, s.digest, s.started_at, s.expires, s.by, e.at, why
                    )
        return self

    def forget_expired(self, now: float) -> None:
        """Drop sessions past their expiry (a cookie of one is then simply unknown)."""
        for key in [k for k, s in self.sessions.items() if s.expires <= now]:
            del self.sessions[key]

    def live_sessions(self, token_id: str, now: float) -> list[SessionRecord]:
        return [
            s
            for s in self.sessions.values()
            if s.token_id == token_id and s.ended_at is None and s.expires > now
        ]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _csrf(secret: str) -> str:
    return hmac.new(secret.encode(), b"csrf", hashlib.sha256).hexdigest()


def auth_of(log: Iterable[Event]) -> AuthState:
    """The auth log folded: tokens (revoked ones with their revocation time) and sessions."""
    return AuthState().fold(log)


def tokens_of(log: list[Event]) -> dict[str, TokenRecord]:
    """Every token the auth log knows (revoked ones with their revocation time)."""
    return auth_of(log).tokens


async def create_token(store: Store, name: str, role: str, by: str) -> tuple[str, TokenRecord]:
    """A new token (the only time its secret is seen) and its record."""
    if not NAME_PATTERN.match(name):
        raise InputError(
            f"--name: {name!r} is not a token name (letters, digits, . _ @ -; up to 64)"
        )
    try:
        chosen = Role(role)
    except ValueError:
        raise InputError(
            f"--role: {role!r} is not a role (expected one of: {', '.join(Role)})"
        ) from None
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)

    async def act() -> None:
        log = await store.load(AUTH_LOG)
        live = [t for t in tokens_of(log).values() if t.revoked_at is None]
        if any(t.name == name for t in live):
            raise InvalidAction(f"a token named {name!r} exists already: revoke it or pick another")
        data = {"id": token_id, "name": name, "role": chosen.value, "digest": _digest(secret)}
        data["by"] = by
        prev = log[-1].hash if log else ""
        events = chain(AUTH_LOG, len(log), prev, time.time(), [(ev.TOKEN_CREATED, data)])
        await store.append(AUTH_LOG, len(log), events)

    await retrying(act)
    record = tokens_of(await store.load(AUTH_LOG))[token_id]
    return f"baton_{token_id}_{secret}", record


async def revoke_token(store: Store, token_id: str, by: str) -> TokenRecord:
    """Revoke a token and end its live sessions, in one append."""

    async def act() -> TokenRecord:
        log = await store.load(AUTH_LOG)
        known = auth_of(log)
        record = known.tokens.get(token_id) or next(
            (t for t in known.tokens.values() if t.name == token_id and t.revoked_at is None),
            None,
        )
        if record is None:
            raise NotFound(f"no token {token_id!r} (see `baton token list`)")
        if record.revoked_at is not None:
            raise InvalidAction(f"token {record.id} ({record.name}) is revoked already")
        now = time.time()
        revoked = {"id": record.id, "by": by}
        entries: list[tuple[str, dict[str, Any]]] = [(ev.TOKEN_REVOKED, revoked)]
        for live in known.live_sessions(record.id, now):
            entries.append((ev.SESSION_ENDED, {"id": live.id, "by": by, "why": "token revoked"}))
        prev = log[-1].hash if log else ""
        await store.append(AUTH_LOG, len(log), chain(AUTH_LOG, len(log), prev, now, entries))
        return record

    return await retrying(act)


async def start_session(store: Store, identity: Identity) -> tuple[str, Session]:
    """A new session for a token's identity: its cookie (the only time its secret is seen)."""
    token_id = identity.token_id
    if token_id is None:
        raise InvalidAction("only a token can log in: a server without tokens needs no session")
    session_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)

    async def act() -> Session:
        log = await store.load(AUTH_LOG)
        token = tokens_of(log).get(token_id)
        if token is None or token.revoked_at is not None:  # revoked since it was checked
            raise InvalidAction(f"token {token_id} is revoked: log in with another")
        now = time.time()
        expires = now + SESSION_SECONDS
        data = {
            "id": session_id,
            "token": token_id,
            "digest": _digest(secret),
            "expires": expires,
            "by": identity.by,
        }
        prev = log[-1].hash if log else ""
        events = chain(AUTH_LOG, len(log), prev, now, [(ev.SESSION_STARTED, data)])
        await store.append(AUTH_LOG, len(log), events)
        return Session(session_id, identity, _csrf(secret), expires)

    session = await retrying(act)
    return f"{session_id}_{secret}", session


async def end_session(store: Store, session_id: str, by: str, why: str) -> bool:
    """Record that a session ended (False: it had ended already or is unknown)."""

    async def act() -> bool:
        log = await store.load(AUTH_LOG)
        found = auth_of(log).sessions.get(session_id)
        if found is None or found.ended_at is not None:
            return False
        prev = log[-1].hash if log else ""
        data = {"id": session_id, "by": by, "why": why}
        events = chain(AUTH_LOG, len(log), prev, time.time(), [(ev.SESSION_ENDED, data)])
        await store.append(AUTH_LOG, len(log), events)
        return True

    return await retrying(act)


def session_id_of(cookie: str) -> str | None:
    """The session id a well-formed cookie names (None: malformed)."""
    match = _SESSION.match(cookie)
    return match.group(1) if match else None


def check_session(state: AuthState, cookie: str, now: float) -> Session | Refused:
    """The live session a cookie stands for, or why it does not count."""
    match = _SESSION.match(cookie)
    if match is None:
        return Refused("the session cookie is malformed")
    record = state.sessions.get(match.group(1))
    if record is None or not hmac.compare_digest(record.digest, _digest(match.group(2))):
        return Refused("the session is unknown or expired")  # without its secret, nothing more
    if record.ended_at is not None:
        return Refused(f"the session ended ({record.why})")
    if record.expires <= now:
        return Refused("the session expired")
    token = state.tokens.get(record.token_id)
    if token is None or token.revoked_at is not None:
        return Refused("the session's token is revoked")
    identity = Identity(token.name, token.role, token.id)
    return Session(record.id, identity, _csrf(match.group(2)), record.expires)


def check(tokens: dict[str, TokenRecord], presented: str) -> Identity | None:
    """The identity a presented token stands for (None: unknown, malformed or revoked)."""
    match = _TOKEN.match(presented.strip())
    if match is None:
        return None
    record = tokens.get(match.group(1))
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.digest, _digest(match.group(2))):
        return None
    return Identity(record.name, record.role, record.id)
