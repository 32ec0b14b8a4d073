"""Rotation with a grace period: both secrets work until the grace ends; revoke or delete stops both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from _testclock import ManualClock
from tokenguard import ExpiredToken, InvalidToken, RevokedToken, TokenGuard, ValidationError, hookimpl

KEY = "grace-suite-secret-key-0123456789abcdef-xy"
START = datetime(2031, 11, 12, 13, 14, 15, tzinfo=UTC)
GRACE = timedelta(hours=24)


class Invalidations:
    def __init__(self) -> None:
        self.digests: list[tuple[str, str | None]] = []

    @hookimpl
    def tokenguard_token_invalidated(self, token_id: str, digest: str | None) -> None:
        self.digests.append((token_id, digest))


def make_guard(store: Any, clock: ManualClock, *plugins: object, **options: Any) -> TokenGuard:
    return TokenGuard(store, secret_key=KEY, clock=clock, plugins=plugins, load_entry_points=False,
                      limiter=None, **options)


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return "memory://" if request.param == "memory" else sqlite_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def guard(store_url: str, clock: ManualClock) -> Any:
    made = make_guard(store_url, clock, cache_ttl=3600)
    yield made
    made.close()


def refused(guard: TokenGuard, token: str, error: type[Exception] = InvalidToken) -> bool:
    with pytest.raises(error):
        guard.authenticate(token)
    return True


def test_both_secrets_work_during_the_grace_then_only_the_new(guard: TokenGuard, clock: ManualClock) -> None:
    issued = guard.create_token("alice", "ci", expires_in=timedelta(days=30))
    guard.authenticate(issued.token)  # warm before the rotation

    rotated = guard.rotate(issued.info.id, grace=GRACE)

    old = guard.authenticate(issued.token)
    assert old.id == issued.info.id and old.expires_at == START + GRACE  # what the old secret has left
    assert guard.authenticate(rotated.token).expires_at == START + timedelta(days=30)
    assert guard.get_token(issued.info.id).expires_at == START + timedelta(days=30)
    clock.advance(hours=23, minutes=59, seconds=59)
    assert guard.authenticate(issued.token).id == issued.info.id
    clock.advance(seconds=1)
    assert refused(guard, issued.token, ExpiredToken)  # its warm entry: what it had left is over
    guard.cache.clear()
    assert refused(guard, issued.token, InvalidToken)  # read again: unknown, as after a plain rotation
    assert guard.authenticate(rotated.token).id == issued.info.id


def test_the_grace_never_outlives_the_token(guard: TokenGuard, clock: ManualClock) -> None:
    issued = guard.create_token("alice", "short", expires_in=timedelta(hours=2))
    guard.rotate(issued.info.id, grace=timedelta(days=7))
    assert guard.authenticate(issued.token).expires_at == START + timedelta(hours=2)
    rotated = guard.rotate(issued.info.id, grace=timedelta(days=7), expires_in=timedelta(hours=1))
    assert guard.authenticate(rotated.token).expires_at == START + timedelta(hours=1)
    clock.advance(hours=1)
    assert refused(guard, rotated.token, ExpiredToken)


def test_revoke_stops_both_secrets_on_every_guard(store_url: str, clock: ManualClock) -> None:
    seen = Invalidations()
    first = make_guard(store_url, clock, seen, cache_ttl=3600)
    # another instance on the same database (memory:// is one per guard: the same guard then)
    second = make_guard(store_url, clock, cache_ttl=3600) if store_url != "memory://" else first
    try:
        issued = first.create_token("alice", "ci")
        rotated = first.rotate(issued.info.id, grace=GRACE)
        for guard in (first, second):  # both secrets warm in both caches
            guard.authenticate(issued.token)
            guard.authenticate(rotated.token)
        record = first.store.get(issued.info.id)
        assert record is not None and record.previous_digest is not None
        seen.digests.clear()

        first.revoke(issued.info.id)

        both = {(issued.info.id, record.digest), (issued.info.id, record.previous_digest)}
        assert set(seen.digests) == both
        for guard in (first, second):
            assert refused(guard, issued.token, RevokedToken)
            assert refused(guard, rotated.token, RevokedToken)
        first.reapprove(issued.info.id)  # the current secret only: the old one stays dead
        assert first.authenticate(rotated.token).id == issued.info.id
        assert refused(first, issued.token, InvalidToken)
    finally:
        first.close()
        if second is not first:
            second.close()


def test_delete_stops_both_secrets(guard: TokenGuard) -> None:
    seen = Invalidations()
    guard.plugins.register(seen)
    issued = guard.create_token("alice", "ci")
    rotated = guard.rotate(issued.info.id, grace=GRACE)
    guard.authenticate(issued.token)
    seen.digests.clear()

    guard.delete(issued.info.id)

    assert len({digest for _, digest in seen.digests}) == 2
    assert refused(guard, issued.token) and refused(guard, rotated.token)


def test_rotating_again_stops_the_oldest_secret_at_once(guard: TokenGuard) -> None:
    first = guard.create_token("alice", "ci")
    second = guard.rotate(first.info.id, grace=GRACE)
    third = guard.rotate(first.info.id, grace=GRACE)
    assert refused(guard, first.token)
    assert guard.authenticate(second.token).id == guard.authenticate(third.token).id
    fourth = guard.rotate(first.info.id)  # no grace: every older secret stops
    assert refused(guard, second.token) and refused(guard, third.token)
    assert guard.authenticate(fourth.token).id == first.info.id


def test_revoking_by_the_old_value(guard: TokenGuard, clock: ManualClock) -> None:
    issued = guard.create_token("alice", "ci")
    guard.rotate(issued.info.id, grace=GRACE)
    clock.advance(hours=25)  # the grace is over: the old secret revokes nothing
    assert guard.revoke_by_value(issued.token) is None
    assert guard.get_token(issued.info.id).status == "active"

    again = guard.rotate(issued.info.id, grace=GRACE)
    revoked = guard.revoke_by_value(issued.token)  # a secret that no longer works, still
    assert revoked is None
    newest = guard.rotate(issued.info.id, grace=GRACE)
    revoked = guard.revoke_by_value(again.token)  # within its grace: whoever holds it may kill it
    assert revoked is not None and revoked.status == "revoked"
    assert refused(guard, newest.token, RevokedToken)


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(seconds=-1), 3600, "1h"])
def test_a_bad_grace_is_refused(guard: TokenGuard, grace: Any) -> None:
    issued = guard.create_token("alice", "ci")
    with pytest.raises(ValidationError) as caught:
        guard.rotate(issued.info.id, grace=grace)
    assert caught.value.field == "grace"
    assert guard.authenticate(issued.token).id == issued.info.id  # nothing changed
