"""Who is asking: bearer tokens, the web page's session cookie (with its CSRF token), and a
server without tokens on loopback, where the local user acts as admin.

A request is authenticated by, in order: `Authorization: Bearer baton_...`; the
`baton_session` cookie (HttpOnly, SameSite=Strict), whose state-changing requests must
also carry the session's `X-CSRF-Token` header; or, only while no token exists and the
server listens on loopback alone, as the local user.

What a browser sends on its own (the cookie; nothing at all on an open server) is what a
page of another site can make it send: a state-changing request authenticated that way
must come from this server's own origin (its `Origin`, or `Sec-Fetch-Site`, says so), and
an open server answers only to a loopback `Host` (a page that rebinds its own name to
127.0.0.1 gets no further). Bearer tokens are never sent by a browser unasked.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from ..core.vocabulary import AUTH_LOG
from ..services.auth import Identity, Role, TokenRecord, check, tokens_of
from ..store.base import Store

SESSION_COOKIE = "baton_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = 12 * 3600
TOKEN_CACHE_SECONDS = 1.0  # a token created or revoked elsewhere counts within a second
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Session:
    identity: Identity
    csrf: str
    expires: float


@dataclass
class Access:
    """The server's view of access control: tokens (cached), sessions, the local user."""

    store: Store
    local_user: str
    loopback_only: bool
    sessions: dict[str, Session] = field(default_factory=dict)
    _tokens: dict[str, TokenRecord] = field(default_factory=dict)
    _loaded_at: float = -1.0

    async def tokens(self) -> dict[str, TokenRecord]:
        now = time.monotonic()
        if now - self._loaded_at > TOKEN_CACHE_SECONDS:
            self._tokens = tokens_of(await self.store.load(AUTH_LOG))
            self._loaded_at = now
        return self._tokens

    def forget_tokens(self) -> None:
        self._loaded_at = -1.0

    async def open(self) -> bool:
        """Whether requests need no token: none exists and nobody beyond loopback listens."""
        if not self.loopback_only:
            return False
        return not any(t.revoked_at is None for t in (await self.tokens()).values())

    async def identify(self, request: Request) -> Identity:
        """The request's identity; 401 without valid credentials, 403 on a missing CSRF."""
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise HTTPException(401, "Authorization: expected 'Bearer <token>'")
            identity = check(await self.tokens(), value)
            if identity is None:
                raise HTTPException(401, "the token is unknown, malformed or revoked")
            return identity
        session = self.session(request)
        if session is not None:
            if request.method not in _SAFE:
                same_origin(request)
                csrf(request, session)
            return session.identity
        if await self.open():
            loopback_host(request)
            if request.method not in _SAFE:
                same_origin(request)
            return Identity(self.local_user, Role.ADMIN)
        raise HTTPException(
            401, "log in: send 'Authorization: Bearer <token>' (see `baton token create`)"
        )

    def session(self, request: Request) -> Session | None:
        key = request.cookies.get(SESSION_COOKIE)
        found = self.sessions.get(key) if key else None
        if found is None:
            return None
        if found.expires < time.time():
            self.sessions.pop(key or "", None)
            return None
        return found

    def start_session(self, identity: Identity) -> tuple[str, Session]:
        self._expire()
        key = secrets.token_urlsafe(32)
        session = Session(identity, secrets.token_urlsafe(24), time.time() + SESSION_SECONDS)
        self.sessions[key] = session
        return key, session

    def end_sessions_of(self, token_id: str) -> None:
        """A revoked token's sessions end with it."""
        for key in [k for k, s in self.sessions.items() if s.identity.token_id == token_id]:
            del self.sessions[key]

    def _expire(self) -> None:
        now = time.time()
        for key in [k for k, s in self.sessions.items() if s.expires < now]:
            del self.sessions[key]


def csrf(request: Request, session: Session) -> None:
    """403 unless the request carries the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not secrets.compare_digest(sent, session.csrf):
        raise HTTPException(403, f"{CSRF_HEADER} header missing or wrong for this session")


def same_origin(request: Request) -> None:
    """403 for a request another site's page made the browser send."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None:
        if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
            raise HTTPException(
                403, f"cross-site request refused: Origin {origin} is not this server ({host})"
            )
    elif request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "cross-site request refused (Sec-Fetch-Site: cross-site)")


def loopback_host(request: Request) -> None:
    """403 unless the Host is a loopback name: an open server is this machine's alone."""
    host = request.headers.get("host", "")
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return
    try:
        if ipaddress.ip_address(name).is_loopback:
            return
    except ValueError:
        pass
    raise HTTPException(
        403,
        f"Host {host!r} is not a loopback address: a server without tokens answers only "
        "to 127.0.0.1, ::1 or localhost (create a token to serve other names)",
    )


def need(identity: Identity, role: Role) -> Identity:
    """The identity, if its role allows `role`; 403 naming both otherwise."""
    if not identity.role.allows(role):
        raise HTTPException(
            403, f"{identity.name} is a {identity.role.value}: this needs the {role.value} role"
        )
    return identity
