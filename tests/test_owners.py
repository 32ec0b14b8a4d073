"""Owners deactivated and reactivated: every token revoked, nothing new while inactive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from _testclock import ManualClock
from tokenguard import RevokedToken, TokenGuard, ValidationError, hookimpl
from tokenguard.errors import OwnerInactive, TokenGuardError
from tokenguard.models import OwnerState

KEY = "owners-suite-secret-key-0123456789abcdef-x"
START = datetime(2031, 7, 8, 9, 10, 11, tzinfo=UTC)


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    @hookimpl
    def tokenguard_owner_deactivated(self, owner: str, actor: str | None) -> None:
        self.seen.append(("deactivated", owner, actor))

    @hookimpl
    def tokenguard_owner_reactivated(self, owner: str, actor: str | None) -> None:
        self.seen.append(("reactivated", owner, actor))

    @hookimpl
    def tokenguard_owner_revoked(self, owner: str, token_ids: list[str], actor: str | None,
                                 remote: str | None) -> None:
        self.seen.append(("revoked", owner, sorted(token_ids)))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def guard(clock: ManualClock, events: Events) -> TokenGuard:
    return TokenGuard("memory://", secret_key=KEY, clock=clock, plugins=[events], load_entry_points=False)


def test_deactivate_revokes_every_token_and_keeps_the_owner_out(guard: TokenGuard, events: Events) -> None:
    tokens = [guard.create_token("bob", f"t{index}") for index in range(3)]
    guard.revoke(tokens[2].info.id)
    carol = guard.create_token("carol", "unaffected")

    assert guard.deactivate_owner("bob", actor="admin") == 2

    assert guard.is_owner_active("bob") is False and guard.is_owner_active("carol") is True
    assert guard.owner_state("bob") == OwnerState("bob", False, START, "admin")
    for issued in tokens:
        with pytest.raises(RevokedToken):
            guard.authenticate(issued.token)
    assert guard.authenticate(carol.token).owner == "carol"
    revoked_ids = sorted(t.info.id for t in tokens[:2])
    assert events.seen == [("revoked", "bob", revoked_ids), ("deactivated", "bob", "admin")]


def test_while_inactive_nothing_creates_reapproves_or_rotates(guard: TokenGuard) -> None:
    issued = guard.create_token("bob", "kept")
    guard.deactivate_owner("bob")

    with pytest.raises(OwnerInactive) as caught:
        guard.create_token("bob", "new")
    assert (caught.value.status_code, caught.value.error_code, caught.value.owner) == (
        403, "owner_inactive", "bob")
    assert isinstance(caught.value, TokenGuardError)
    with pytest.raises(OwnerInactive):
        guard.reapprove(issued.info.id)
    assert len(guard.list_tokens("bob")) == 1
    # a token minted by another: refused the same way
    guard.reactivate_owner("bob")
    parent = guard.create_token("bob", "parent", scopes=["management"])
    guard.deactivate_owner("bob")
    with pytest.raises((OwnerInactive, ValidationError)):
        guard.create_token("bob", "child", parent=parent.info)


def test_rotate_is_refused_while_inactive_even_for_a_token_unrevoked_behind_it(guard: TokenGuard) -> None:
    issued = guard.create_token("bob", "rotating")
    guard.deactivate_owner("bob")
    guard.store.update(issued.info.id, {"revoked_at": None})  # as if re-approved behind our back
    with pytest.raises(OwnerInactive):
        guard.rotate(issued.info.id)


def test_reactivate_revives_no_token(guard: TokenGuard, events: Events) -> None:
    issued = guard.create_token("bob", "old")
    guard.deactivate_owner("bob", actor="admin")

    assert guard.reactivate_owner("bob", actor="admin") is True
    assert guard.reactivate_owner("bob") is False  # already active: no event

    assert guard.is_owner_active("bob") and guard.owner_state("bob") == OwnerState("bob")
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    assert guard.reapprove(issued.info.id).status == "active"  # allowed again, one by one
    assert guard.create_token("bob", "new").info.status == "active"
    assert [e[0] for e in events.seen] == ["revoked", "deactivated", "reactivated"]


def test_deactivating_twice_keeps_the_first_record(guard: TokenGuard, clock: ManualClock) -> None:
    guard.deactivate_owner("bob", actor="first")
    clock.advance(hours=1)
    assert guard.deactivate_owner("bob", actor="second") == 0
    assert guard.owner_state("bob") == OwnerState("bob", False, START, "first")


def test_revoke_owner_keeps_its_meaning(guard: TokenGuard) -> None:
    guard.create_token("bob", "t")
    assert guard.revoke_owner("bob") == 1
    assert guard.is_owner_active("bob")
    assert guard.create_token("bob", "again").info.status == "active"


def test_an_unknown_owner_is_active_and_owners_are_validated(guard: TokenGuard) -> None:
    assert guard.is_owner_active("never-seen")
    for bad in ["", " bob", "bo\nb"]:
        with pytest.raises(ValidationError):
            guard.deactivate_owner(bad)


def test_a_reapproval_racing_a_deactivation_is_revoked_again(clock: ManualClock) -> None:
    """The owner is deactivated between reapprove's check and its write: the token is revoked again."""
    guard = TokenGuard("memory://", secret_key=KEY, clock=clock, load_entry_points=False)
    issued = guard.create_token("bob", "t")
    guard.revoke(issued.info.id)
    store = guard.store
    checks = {"count": 0}
    original = store.get_owner

    def get_owner(owner: str) -> OwnerState | None:
        checks["count"] += 1
        if checks["count"] == 1:  # reapprove's first check passes; then the admin acts
            state = original(owner)
            store.deactivate_owner(owner, clock(), "admin")
            return state
        return original(owner)

    store.get_owner = get_owner  # type: ignore[method-assign]
    with pytest.raises(OwnerInactive):
        guard.reapprove(issued.info.id)
    assert guard.get_token(issued.info.id).status == "revoked"
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)


def test_deactivation_is_seen_by_another_guard_on_the_same_database(sqlite_url: str) -> None:
    first = TokenGuard(sqlite_url, secret_key=KEY, load_entry_points=False)
    second = TokenGuard(sqlite_url, secret_key=KEY, load_entry_points=False, cache_ttl=timedelta(hours=1))
    try:
        issued = first.create_token("bob", "t")
        assert second.authenticate(issued.token).owner == "bob"  # warm in the second's cache
        first.deactivate_owner("bob")
        with pytest.raises(RevokedToken):  # the same process: its caches forget at once
            second.authenticate(issued.token)
        assert not second.is_owner_active("bob")
        with pytest.raises(OwnerInactive):
            second.create_token("bob", "refused")
    finally:
        first.close()
        second.close()
