"""Sessions kept in the auth log: the fold, what counts as a live session and why not, and
what is recorded (never the secret, nor the CSRF token)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from baton.core import events as ev
from baton.core.events import Event, chain
from baton.core.vocabulary import AUTH_LOG
from baton.errors import InvalidAction
from baton.services.auth import (
    AuthState,
    Identity,
    Refused,
    Role,
    Session,
    auth_of,
    check_session,
    create_token,
    end_session,
    revoke_token,
    session_id_of,
    start_session,
)
from baton.store import MemoryStore

SID = "0123456789abcdef"
SECRET = "s" * 43
COOKIE = f"{SID}_{SECRET}"
NOW = 1_000_000.0


def _log(*entries: tuple[str, dict[str, Any]]) -> list[Event]:
    return chain(AUTH_LOG, 0, "", NOW - 10, list(entries))


def _token(revoked: bool = False) -> list[tuple[str, dict[str, Any]]]:
    made = (ev.TOKEN_CREATED, {"id": "t" * 12, "name": "rita", "role": "reviewer", "digest": "x"})
    return [made, (ev.TOKEN_REVOKED, {"id": "t" * 12, "by": "root"})] if revoked else [made]


def _started(expires: float = NOW + 60) -> tuple[str, dict[str, Any]]:
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    data = {"id": SID, "token": "t" * 12, "digest": digest, "expires": expires, "by": "token:rita"}
    return (ev.SESSION_STARTED, data)


def test_a_started_session_of_a_live_token_counts_with_a_csrf_derived_from_its_secret() -> None:
    found = check_session(auth_of(_log(*_token(), _started())), COOKIE, NOW)
    assert isinstance(found, Session)
    assert found.identity == Identity("rita", Role.REVIEWER, "t" * 12)
    assert found.csrf == hmac.new(SECRET.encode(), b"csrf", hashlib.sha256).hexdigest()
    assert found.id == SID and found.expires == NOW + 60


@pytest.mark.parametrize(
    ("entries", "cookie", "now", "why"),
    [
        ([*_token(), _started()], COOKIE, NOW + 61, "the session expired"),
        (
            [*_token(), _started(), (ev.SESSION_ENDED, {"id": SID, "by": "x", "why": "logout"})],
            COOKIE,
            NOW,
            "the session ended (logout)",
        ),
        ([*_token(), _started(), _token(revoked=True)[1]], COOKIE, NOW, "token is revoked"),
        ([*_token(), _started()], f"{'f' * 16}_{SECRET}", NOW, "unknown"),
        ([*_token(), _started()], f"{SID}_{'t' * 43}", NOW, "unknown"),
        ([*_token(), _started()], "", NOW, "malformed"),
        ([*_token(), _started()], SID, NOW, "malformed"),
        ([*_token(), _started()], f"{SID}_{SECRET}x", NOW, "malformed"),
        ([*_token(), _started()], f"{SID.upper()}_{SECRET}", NOW, "malformed"),
        ([*_token(), _started()], f"{SID}_{SECRET[:-1]};", NOW, "malformed"),
    ],
    ids=[
        "expired",
        "ended",
        "token-revoked",
        "unknown-id",
        "bad-secret",
        "empty",
        "no-secret",
        "long-secret",
        "upper-id",
        "bad-char",
    ],
)
def test_a_session_that_does_not_count_says_why(
    entries: list[tuple[str, dict[str, Any]]], cookie: str, now: float, why: str
) -> None:
    found = check_session(auth_of(_log(*entries)), cookie, now)
    assert isinstance(found, Refused) and why in found.why, found


def test_a_wrong_secret_learns_nothing_about_an_ended_session() -> None:
    ended = (ev.SESSION_ENDED, {"id": SID, "by": "x", "why": "logout"})
    found = check_session(auth_of(_log(*_token(), _started(), ended)), f"{SID}_{'t' * 43}", NOW)
    assert found == Refused("the session is unknown or expired")


def test_the_fold_is_incremental_and_skips_what_it_has_seen() -> None:
    log = _log(*_token(), _started(), (ev.SESSION_ENDED, {"id": SID, "by": "x", "why": "logout"}))
    state = AuthState().fold(log[:2])
    assert state.version == 2 and state.sessions[SID].ended_at is None
    state.fold(log)  # the first two again, then the third
    assert state.version == 3 and state.sessions[SID].why == "logout"
    assert state == auth_of(log)
    stray = chain(AUTH_LOG, 3, log[-1].hash, NOW, [(ev.SESSION_ENDED, {"id": "nope", "why": ""})])
    assert state.fold(stray).sessions.keys() == {SID}, "an end of an unknown session is ignored"
    state.forget_expired(NOW + 61)
    assert state.sessions == {}


def test_session_ids_come_only_from_well_formed_cookies() -> None:
    assert session_id_of(COOKIE) == SID
    assert session_id_of(f"{SID}_short") is None
    assert session_id_of(f"baton_{'a' * 12}_{SECRET}") is None


async def test_start_end_and_revoke_record_digests_only() -> None:
    store = MemoryStore()
    token, record = await create_token(store, "rita", "reviewer", "setup")
    identity = Identity("rita", Role.REVIEWER, record.id)
    cookie, session = await start_session(store, identity)
    other, second = await start_session(store, identity)
    state = auth_of(await store.load(AUTH_LOG))
    assert check_session(state, cookie, session.expires - 1) == session
    assert await end_session(store, session.id, "token:rita", "logout") is True
    assert await end_session(store, session.id, "token:rita", "logout") is False, "once"
    await revoke_token(store, record.id, "root")
    log = await store.load(AUTH_LOG)
    assert [e.kind for e in log] == [
        "token.created",
        "session.started",
        "session.started",
        "session.ended",
        "token.revoked",
        "session.ended",  # the token's live session ends in the same append
    ]
    assert (log[-1].data["id"], log[-1].data["why"]) == (second.id, "token revoked")
    assert log[-2].seq + 1 == log[-1].seq and log[-2].at == log[-1].at
    recorded = json.dumps([e.to_dict() for e in log])
    for secret in (cookie, cookie[17:], other[17:], session.csrf, second.csrf, token):
        assert secret not in recorded
    refused = check_session(auth_of(log), other, second.expires - 1)
    assert refused == Refused("the session ended (token revoked)")
    with pytest.raises(InvalidAction, match="is revoked"):
        await start_session(store, identity)
    with pytest.raises(InvalidAction, match="only a token can log in"):
        await start_session(store, Identity("ann", Role.ADMIN))
