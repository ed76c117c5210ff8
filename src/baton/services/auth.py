"""API tokens and roles: who may read, decide, operate and administer through the API.

A token is shown once, when it is created (`baton_<id>_<secret>`); the store keeps only a
SHA-256 of its secret, in the `auth` log (`token.created`, `token.revoked`), so every
`baton serve` on the same store knows the same tokens and the audit chain covers them.
Roles are ordered: each one may do what the ones before it may.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
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


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens_of(log: list[Event]) -> dict[str, TokenRecord]:
    """Every token the auth log knows (revoked ones with their revocation time)."""
    found: dict[str, TokenRecord] = {}
    for e in log:
        d = e.data
        if e.kind == ev.TOKEN_CREATED:
            found[d["id"]] = TokenRecord(
                d["id"], d["name"], Role(d["role"]), d["digest"], e.at, d.get("by", "")
            )
        elif e.kind == ev.TOKEN_REVOKED and d["id"] in found:
            old = found[d["id"]]
            found[d["id"]] = TokenRecord(
                old.id, old.name, old.role, old.digest, old.created_at, old.created_by, e.at
            )
    return found


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
    async def act() -> TokenRecord:
        log = await store.load(AUTH_LOG)
        known = tokens_of(log)
        record = known.get(token_id) or next(
            (t for t in known.values() if t.name == token_id and t.revoked_at is None), None
        )
        if record is None:
            raise NotFound(f"no token {token_id!r} (see `baton token list`)")
        if record.revoked_at is not None:
            raise InvalidAction(f"token {record.id} ({record.name}) is revoked already")
        prev = log[-1].hash if log else ""
        data = {"id": record.id, "by": by}
        events = chain(AUTH_LOG, len(log), prev, time.time(), [(ev.TOKEN_REVOKED, data)])
        await store.append(AUTH_LOG, len(log), events)
        return record

    return await retrying(act)


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
