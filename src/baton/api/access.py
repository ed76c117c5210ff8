"""Who is asking: bearer tokens, the web page's session cookie (with its CSRF token), and a
server without tokens on loopback, where the local user acts as admin.

A request is authenticated by, in order: `Authorization: Bearer baton_...`; the
`baton_session` cookie (HttpOnly, SameSite=Strict; the session is kept in the auth log,
so every server on the store knows it and a restart keeps it), whose state-changing
requests must also carry the session's `X-CSRF-Token` header; or, only while no token exists and the
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
from ..services.auth import (
    AuthState,
    Identity,
    Refused,
    Role,
    Session,
    TokenRecord,
    check,
    check_session,
    session_id_of,
)
from ..store.base import Store

SESSION_COOKIE = "baton_session"
CSRF_HEADER = "X-CSRF-Token"
AUTH_CACHE_SECONDS = 1.0  # a token or session created, revoked or ended elsewhere counts
# within a second, on every server sharing the store
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Access:
    """The server's view of access control: the auth log folded (cached), the local user."""

    store: Store
    local_user: str
    loopback_only: bool
    _auth: AuthState = field(default_factory=AuthState)
    _loaded_at: float = -1.0

    async def auth(self, *, at_least: int = 0) -> AuthState:
        """Tokens and sessions, read again if older than a second or than event `at_least`
        of the auth log (only the events after the ones folded are read)."""
        now = time.monotonic()
        if now - self._loaded_at > AUTH_CACHE_SECONDS or self._auth.version < at_least:
            self._loaded_at = now
            self._auth.fold(await self.store.load(AUTH_LOG, self._auth.version))
            self._auth.forget_expired(time.time())
        return self._auth

    async def tokens(self) -> dict[str, TokenRecord]:
        return (await self.auth()).tokens

    def forget(self) -> None:
        """Read the auth log again at the next request (this server just wrote to it)."""
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
        refused = ""
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            found = await self.session_of(cookie)
            if isinstance(found, Session):
                if request.method not in _SAFE:
                    same_origin(request)
                    csrf(request, found)
                return found.identity
            refused = f"{found.why}: "
        if await self.open():
            loopback_host(request)
            if request.method not in _SAFE:
                same_origin(request)
            return Identity(self.local_user, Role.ADMIN)
        if refused:
            raise HTTPException(401, f"{refused}log in again")
        raise HTTPException(
            401, "log in: send 'Authorization: Bearer <token>' (see `baton token create`)"
        )

    async def session_of(self, cookie: str) -> Session | Refused:
        """The live session a cookie stands for (one started on another server a moment ago
        too: an id not folded yet reads the new events of the auth log once)."""
        state = await self.auth()
        session_id = session_id_of(cookie)
        if session_id is not None and session_id not in state.sessions:
            state = await self.auth(at_least=state.version + 1)
        return check_session(state, cookie, time.time())

    async def session(self, request: Request) -> Session | None:
        """The request's live session, if its cookie names one."""
        cookie = request.cookies.get(SESSION_COOKIE)
        found = await self.session_of(cookie) if cookie else None
        return found if isinstance(found, Session) else None

    async def why_not(self, request: Request, *, at_least: int = 0) -> str | None:
        """Why a request's credentials no longer count (None: they still do), with the auth
        log read up to its event `at_least`: what a long-lived request asks again."""
        await self.auth(at_least=at_least)
        try:
            await self.identify(request)
        except HTTPException as exc:
            return str(exc.detail)
        return None


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
