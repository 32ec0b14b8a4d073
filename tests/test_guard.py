"""TokenGuard: every method of the core API and each of its error paths."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from _testclock import ManualClock as Clock
from tokenguard import (
    DEFAULT,
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    IssuedToken,
    MemoryStore,
    RevokedToken,
    StoreUnavailable,
    TokenGuard,
    TokenIdConflict,
    TokenInfo,
    TokenLimitExceeded,
    TokenNotFound,
    TokenRecord,
    ValidationError,
    validation,
)
from tokenguard.guard import TOUCH_INTERVAL

KEY = "guard-test-key-0123456789abcdefghijklmnop"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)




class CountingStore(MemoryStore):
    """A real memory store that counts the writes of last use, and can be told to fail them."""

    def __init__(self) -> None:
        super().__init__()
        self.touches: list[tuple[str, datetime]] = []
        self.touch_error: Exception | None = None

    def touch(self, token_id: str, at: datetime) -> None:
        self.touches.append((token_id, at))
        if self.touch_error is not None:
            raise self.touch_error
        super().touch(token_id, at)


class DownStore(MemoryStore):
    """A memory store whose reads fail, as a database that went away."""

    down = False

    def find(self, digest: str) -> TokenRecord | None:
        if self.down:
            raise StoreUnavailable("token store unreachable")
        return super().find(digest)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def guard(store: CountingStore, clock: Clock) -> TokenGuard:
    return TokenGuard(store, secret_key=KEY, clock=clock, max_tokens_per_owner=5,
                      load_entry_points=False)


def make(guard: TokenGuard, owner: str = "alice", name: str = "ci", **kwargs: object) -> IssuedToken:
    return guard.create_token(owner, name, **kwargs)  # type: ignore[arg-type]


# -- construction ------------------------------------------------------------------------


def test_configuration_is_validated_at_construction() -> None:
    with pytest.raises(ValidationError, match="prefix"):
        TokenGuard("memory://", secret_key=KEY, prefix="Bad_", load_entry_points=False)
    for limit in (0, -1, 2.5, "3"):
        with pytest.raises(ValidationError, match="max_tokens_per_owner"):
            TokenGuard("memory://", secret_key=KEY, max_tokens_per_owner=limit,  # type: ignore[arg-type]
                       load_entry_points=False)
    with pytest.raises(ValidationError, match="default_lifetime"):
        TokenGuard("memory://", secret_key=KEY, default_lifetime=timedelta(0), load_entry_points=False)
    with pytest.raises(ValidationError, match="exceeds max_lifetime"):
        TokenGuard("memory://", secret_key=KEY, default_lifetime=timedelta(days=90),
                   max_lifetime=timedelta(days=30), load_entry_points=False)
    with pytest.raises(ValidationError, match="no store handles the URL scheme 'nosuch'"):
        TokenGuard("nosuch://x", secret_key=KEY, load_entry_points=False)


def test_memory_url_and_context_manager() -> None:
    closed: list[bool] = []

    class ClosingStore(MemoryStore):
        def close(self) -> None:
            closed.append(True)

    with TokenGuard(ClosingStore(), secret_key=KEY, load_entry_points=False) as guard:
        assert "ClosingStore" in repr(guard) and KEY not in repr(guard)
    assert closed == [True]
    assert isinstance(TokenGuard("memory://", secret_key=KEY, load_entry_points=False).store, MemoryStore)


# -- create and authenticate --------------------------------------------------------------


def test_create_token_returns_the_secret_once_and_the_info(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, scopes=["write"], expires_in=timedelta(days=30), projects=["alpha"],
                  token_id="ci-pipeline")
    info = issued.info
    assert issued.token.startswith("tg_")
    assert (info.id, info.owner, info.name) == ("ci-pipeline", "alice", "ci")
    assert info.scopes == {"write"} and info.effective_scopes == {"write", "read"}
    assert info.projects == {"alpha"} and info.admin is False
    assert info.created_at == START and info.expires_at == START + timedelta(days=30)
    assert info.last_used_at is None and info.revoked_at is None and info.status_at(START) == "active"
    assert info.hint == f"tg_…{issued.token[-4:]}"
    assert guard.authenticate(issued.token).id == "ci-pipeline"


def test_lifetimes_default_never_and_absolute(guard: TokenGuard) -> None:
    assert make(guard).info.expires_at == START + timedelta(days=90)
    assert make(guard, expires_in=DEFAULT).info.expires_at == START + timedelta(days=90)
    assert make(guard, expires_in=None).info.expires_at is None
    when = START + timedelta(hours=5)
    assert make(guard, expires_at=when).info.expires_at == when
    with pytest.raises(ValidationError, match="not both"):
        make(guard, expires_at=when, expires_in=timedelta(days=1))


def test_generated_ids_are_valid_and_distinct(guard: TokenGuard) -> None:
    ids = {make(guard, owner=f"user{i}").info.id for i in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 16 and set(i) <= set("0123456789abcdef") for i in ids)


def test_default_scope_is_the_lowest(guard: TokenGuard) -> None:
    assert make(guard).info.scopes == {"read"}


def test_secret_token_scheme_authenticates(guard: TokenGuard) -> None:
    issued = make(guard)
    assert guard.authenticate("secret-token:" + issued.token).id == issued.info.id


def test_unknown_but_well_formed_token_is_invalid(guard: TokenGuard) -> None:
    other = TokenGuard("memory://", secret_key=KEY, load_entry_points=False)
    stranger = other.create_token("alice", "elsewhere").token
    with pytest.raises(InvalidToken, match="unknown token"):
        guard.authenticate(stranger)


def test_same_token_under_another_key_is_invalid(store: CountingStore, clock: Clock) -> None:
    first = TokenGuard(store, secret_key=KEY, clock=clock, load_entry_points=False)
    issued = make(first)
    second = TokenGuard(store, secret_key="another-key-" + "x" * 32, clock=clock, load_entry_points=False)
    with pytest.raises(InvalidToken):
        second.authenticate(issued.token)


def test_token_id_conflict(guard: TokenGuard) -> None:
    make(guard, token_id="deploy")
    with pytest.raises(TokenIdConflict) as caught:
        make(guard, owner="bob", token_id="deploy")
    assert caught.value.token_id == "deploy"
    assert [i.id for i in guard.list_tokens("bob")] == []


@pytest.mark.parametrize("route", sorted(validation.RESERVED_TOKEN_IDS))
def test_an_id_the_web_routes_use_is_refused(guard: TokenGuard, route: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make(guard, token_id=route)
    assert caught.value.field == "id" and "reserved" in str(caught.value)
    assert guard.list_tokens("alice") == []


def test_per_owner_limit(guard: TokenGuard, clock: Clock) -> None:
    made = [make(guard, name=f"t{i}") for i in range(5)]
    with pytest.raises(TokenLimitExceeded) as caught:
        make(guard, name="one too many")
    assert (caught.value.owner, caught.value.limit) == ("alice", 5)
    make(guard, owner="bob")  # the limit is per owner
    guard.revoke(made[0].info.id)  # revoked tokens still count
    with pytest.raises(TokenLimitExceeded):
        make(guard)
    guard.delete(made[0].info.id)  # deletion frees a slot
    make(guard, name="replacement", expires_in=timedelta(hours=1))
    clock.advance(hours=1)  # expired tokens no longer count
    make(guard, name="after expiry")


def test_no_limit_when_none(clock: Clock) -> None:
    guard = TokenGuard("memory://", secret_key=KEY, clock=clock, max_tokens_per_owner=None,
                       load_entry_points=False)
    for i in range(30):
        guard.create_token("alice", f"t{i}")
    assert len(guard.list_tokens("alice")) == 30


# -- expiry, revocation, re-approval ------------------------------------------------------


def test_expiry_one_second_either_side_of_the_boundary(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, expires_in=timedelta(hours=1))
    clock.now = START + timedelta(hours=1) - timedelta(seconds=1)
    assert guard.authenticate(issued.token).status_at(clock.now) == "active"
    clock.now = START + timedelta(hours=1)
    with pytest.raises(ExpiredToken):
        guard.authenticate(issued.token)
    clock.now = START + timedelta(hours=1, seconds=1)
    with pytest.raises(ExpiredToken):
        guard.authenticate(issued.token)
    assert guard.get_token(issued.info.id).status_at(clock.now) == "expired"


def test_revoke_is_checked_at_every_use_and_is_idempotent(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard)
    guard.authenticate(issued.token)
    info = guard.revoke(issued.info.id)
    assert info.revoked_at == START and info.status_at(START) == "revoked"
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    clock.advance(minutes=5)
    assert guard.revoke(issued.info.id).revoked_at == START  # unchanged


def test_revoked_wins_over_expired(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, expires_in=timedelta(minutes=1))
    guard.revoke(issued.info.id)
    clock.advance(minutes=2)
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)


def test_reapprove_before_expiry(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, expires_in=timedelta(hours=1))
    guard.revoke(issued.info.id)
    clock.advance(minutes=59, seconds=59)
    assert guard.reapprove(issued.info.id).revoked_at is None
    assert guard.authenticate(issued.token).id == issued.info.id
    assert guard.reapprove(issued.info.id).status_at(clock.now) == "active"  # no-op when active


def test_reapprove_refused_once_expired(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, expires_in=timedelta(hours=1))
    guard.revoke(issued.info.id)
    clock.advance(hours=1)
    with pytest.raises(ValidationError, match="expired"):
        guard.reapprove(issued.info.id)
    assert guard.get_token(issued.info.id).revoked_at is not None


def test_rotate_old_secret_fails_new_works(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, scopes=["write"], expires_in=timedelta(days=7), token_id="bot")
    clock.advance(days=1)
    rotated = guard.rotate("bot")
    assert rotated.token != issued.token
    assert rotated.info.id == "bot" and rotated.info.scopes == {"write"}
    assert rotated.info.expires_at == issued.info.expires_at  # kept
    assert rotated.info.hint == f"tg_…{rotated.token[-4:]}"
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token)
    assert guard.authenticate(rotated.token).id == "bot"


def test_rotate_with_new_lifetime(guard: TokenGuard, clock: Clock) -> None:
    make(guard, token_id="bot", expires_in=timedelta(days=1))
    assert guard.rotate("bot", expires_in=timedelta(days=10)).info.expires_at == START + timedelta(days=10)
    assert guard.rotate("bot", expires_in=None).info.expires_at is None
    with pytest.raises(ValidationError):
        guard.rotate("bot", expires_in=timedelta(seconds=-1))


def test_rotate_refuses_revoked_and_expired(guard: TokenGuard, clock: Clock) -> None:
    make(guard, token_id="revoked")
    guard.revoke("revoked")
    with pytest.raises(ValidationError, match="revoked token cannot be rotated"):
        guard.rotate("revoked")
    make(guard, token_id="short", expires_in=timedelta(minutes=1))
    clock.advance(minutes=1)
    with pytest.raises(ValidationError, match="expired token cannot be rotated"):
        guard.rotate("short")


def test_delete(guard: TokenGuard) -> None:
    issued = make(guard, token_id="gone")
    deleted = guard.delete("gone")
    assert deleted.id == "gone"
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token)
    for call in (guard.get_token, guard.delete, guard.revoke, guard.reapprove, guard.rotate):
        with pytest.raises(TokenNotFound):
            call("gone")


def test_revoke_owner_kills_every_token_of_the_owner(guard: TokenGuard) -> None:
    alices = [make(guard, name=f"a{i}") for i in range(4)]
    guard.revoke(alices[0].info.id)
    bobs = make(guard, owner="bob")
    assert guard.revoke_owner("alice") == 3  # the one already revoked is not counted again
    for issued in alices:
        with pytest.raises(RevokedToken):
            guard.authenticate(issued.token)
    assert guard.authenticate(bobs.token).owner == "bob"
    assert guard.revoke_owner("alice") == 0
    assert guard.revoke_owner("nobody") == 0
    with pytest.raises(ValidationError):
        guard.revoke_owner("")


def test_revoke_by_value(guard: TokenGuard) -> None:
    issued = make(guard)
    info = guard.revoke_by_value(issued.token)
    assert info is not None and info.id == issued.info.id and info.revoked_at is not None
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    assert guard.revoke_by_value("tg_garbage") is None
    assert guard.revoke_by_value(None) is None


def test_introspect_does_not_record_a_use(guard: TokenGuard, store: CountingStore) -> None:
    issued = make(guard)
    info = guard.introspect(issued.token)
    assert info is not None and info.id == issued.info.id
    assert store.touches == []
    guard.revoke(issued.info.id)
    revoked = guard.introspect(issued.token)
    assert revoked is not None and revoked.revoked_at is not None  # any state
    assert guard.introspect("nonsense") is None


# -- scopes, projects, admin ---------------------------------------------------------------


def test_require_scopes_and_projects(guard: TokenGuard) -> None:
    info = guard.authenticate(make(guard, scopes=["write"], projects=["alpha", "beta"]).token)
    guard.require(info, "read")
    guard.require(info, "write", project="alpha")
    guard.require(info)  # nothing required
    with pytest.raises(InsufficientScope) as caught:
        guard.require(info, "management")
    assert caught.value.required == ("management",) and caught.value.project is None
    with pytest.raises(InsufficientScope) as caught:
        guard.require(info, "read", project="gamma")
    assert caught.value.project == "gamma"
    with pytest.raises(ValidationError, match="unknown scope"):
        guard.require(info, "delete-everything")


def test_unrestricted_token_allows_every_project(guard: TokenGuard) -> None:
    info = guard.authenticate(make(guard, scopes=["read"]).token)
    guard.require(info, "read", project="anything")
    assert info.allows_project("anything")


def test_admin_passes_every_scope_and_project(guard: TokenGuard) -> None:
    info = guard.authenticate(make(guard, scopes=["read"], projects=["alpha"], admin=True).token)
    assert info.admin
    guard.require(info, "management", project="elsewhere")
    guard.require(info, "read", "write", "management")
    assert info.has_scope("management") and info.allows_project("zeta")
    with pytest.raises(ValidationError):
        make(guard, admin="yes")


# -- last use ------------------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(
    guard: TokenGuard, store: CountingStore, clock: Clock
) -> None:
    issued = make(guard)
    for _ in range(50):
        info = guard.authenticate(issued.token)
    assert len(store.touches) == 1 and info.last_used_at == START
    clock.advance(seconds=59)
    for _ in range(10):
        guard.authenticate(issued.token)
    assert len(store.touches) == 1
    clock.advance(seconds=1)
    assert guard.authenticate(issued.token).last_used_at == START + TOUCH_INTERVAL
    guard.authenticate(issued.token)
    assert [at for _, at in store.touches] == [START, START + TOUCH_INTERVAL]
    assert guard.get_token(issued.info.id).last_used_at == START + TOUCH_INTERVAL


@pytest.mark.parametrize("error", [StoreUnavailable("down"), RuntimeError("disk full"), OSError(5, "EIO")])
def test_a_failing_touch_never_fails_authenticate(
    guard: TokenGuard, store: CountingStore, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    issued = make(guard)
    store.touch_error = error
    assert guard.authenticate(issued.token).id == issued.info.id
    assert len(store.touches) == 1
    assert issued.token not in caplog.text


def test_store_unavailable_on_lookup_propagates(clock: Clock) -> None:
    store = DownStore()
    guard = TokenGuard(store, secret_key=KEY, clock=clock, load_entry_points=False)
    issued = guard.create_token("alice", "ci")
    store.down = True
    with pytest.raises(StoreUnavailable):
        guard.authenticate(issued.token)
    with pytest.raises(InvalidToken):  # offline checks still answer without the store
        guard.authenticate("tg_not-a-token")
    store.down = False
    assert guard.authenticate(issued.token).id == issued.info.id


# -- listing and updating ------------------------------------------------------------------


def test_get_and_list(guard: TokenGuard, clock: Clock) -> None:
    first = make(guard, name="first")
    clock.advance(seconds=1)
    second = make(guard, name="second")
    make(guard, owner="bob")
    assert [i.id for i in guard.list_tokens("alice")] == [first.info.id, second.info.id]
    assert len(guard.list_tokens()) == 3
    assert guard.list_tokens("nobody") == []
    assert guard.get_token(first.info.id).name == "first"
    assert guard.get_token(second.info.id).effective_scopes == {"read"}


@pytest.mark.parametrize("bad_id", ["unknown", "UPPER", "", "a" * 65, "../etc", "x y", None, 5])
def test_unknown_or_malformed_ids_are_not_found(guard: TokenGuard, bad_id: object) -> None:
    with pytest.raises(TokenNotFound):
        guard.get_token(bad_id)  # type: ignore[arg-type]


def test_update_name_and_projects(guard: TokenGuard) -> None:
    issued = make(guard, projects=["alpha"], token_id="t1")
    updated = guard.update_token("t1", name="  renamed  ", projects=["beta", "gamma"])
    assert updated.name == "renamed" and updated.projects == {"beta", "gamma"}
    assert guard.authenticate(issued.token).projects == {"beta", "gamma"}
    assert guard.update_token("t1").name == "renamed"  # no change
    with pytest.raises(ValidationError):
        guard.update_token("t1", name="\u202eevil")
    with pytest.raises(ValidationError):
        guard.update_token("t1", projects=["bad project"])
    with pytest.raises(TokenNotFound):
        guard.update_token("nope", name="x")


# -- minting with a parent -----------------------------------------------------------------


def test_child_cannot_exceed_parent_scopes_projects_or_expiry(guard: TokenGuard, clock: Clock) -> None:
    parent = guard.authenticate(make(guard, scopes=["write"], projects=["alpha"],
                                     expires_in=timedelta(days=1)).token)
    child = guard.create_token("alice", "child", scopes=["read"], projects=["alpha"],
                               expires_in=timedelta(days=30), parent=parent)
    assert child.info.parent_id == parent.id
    assert child.info.expires_at == parent.expires_at  # capped at the parent's expiry
    with pytest.raises(ValidationError, match="scopes"):
        guard.create_token("alice", "x", scopes=["management"], projects=["alpha"], parent=parent)
    with pytest.raises(ValidationError, match="projects"):
        guard.create_token("alice", "x", scopes=["read"], projects=["beta"], parent=parent)
    with pytest.raises(ValidationError, match="projects"):
        guard.create_token("alice", "x", scopes=["read"], parent=parent)  # unrestricted > restricted
    with pytest.raises(ValidationError, match="admin"):
        guard.create_token("alice", "x", scopes=["read"], projects=["alpha"], admin=True, parent=parent)
    with pytest.raises(ValidationError, match="owner"):
        guard.create_token("bob", "x", scopes=["read"], projects=["alpha"], parent=parent)
    never = guard.create_token("alice", "never", scopes=["read"], projects=["alpha"],
                               expires_in=None, parent=parent)
    assert never.info.expires_at == parent.expires_at


def test_children_die_with_the_parent(guard: TokenGuard) -> None:
    parent = guard.authenticate(make(guard, scopes=["management"], expires_in=None, token_id="p").token)
    child = guard.create_token("alice", "child", scopes=["write"], parent=parent)
    child_info = guard.authenticate(child.token)
    grandchild = guard.create_token("alice", "grandchild", scopes=["read"], parent=child_info)
    sibling = make(guard, name="unrelated")
    guard.revoke("p")
    for token in (child.token, grandchild.token):
        with pytest.raises(RevokedToken):
            guard.authenticate(token)
    assert guard.authenticate(sibling.token).id == sibling.info.id


def test_a_child_is_not_reapproved_while_its_parent_is_revoked(guard: TokenGuard) -> None:
    parent = guard.authenticate(make(guard, scopes=["write"], token_id="p").token)
    child = guard.create_token("alice", "child", scopes=["read"], parent=parent)
    guard.revoke("p")
    with pytest.raises(ValidationError, match="revoked token cannot have its minted tokens"):
        guard.reapprove(child.info.id)
    with pytest.raises(RevokedToken):
        guard.authenticate(child.token)
    guard.reapprove("p")
    guard.reapprove(child.info.id)
    assert guard.authenticate(child.token).id == child.info.id


def test_children_are_revoked_when_the_parent_is_deleted(guard: TokenGuard) -> None:
    parent = guard.authenticate(make(guard, scopes=["write"], token_id="p").token)
    child = guard.create_token("alice", "child", scopes=["read"], parent=parent)
    guard.delete("p")
    with pytest.raises(RevokedToken):
        guard.authenticate(child.token)


@pytest.mark.parametrize("new_owner", ["alice", "bob"])
def test_a_deleted_parents_children_stay_dead_when_its_id_is_taken_again(
    guard: TokenGuard, clock: Clock, new_owner: str,
) -> None:
    """Ids are free once deleted: a newer token under the same id did not mint the child."""
    parent = guard.authenticate(make(guard, scopes=["write"], token_id="p").token)
    child = guard.create_token("alice", "child", scopes=["read"], parent=parent)
    guard.delete("p")
    clock.advance(seconds=1)
    guard.create_token(new_owner, "took the id", scopes=["write"], token_id="p")
    with pytest.raises(ValidationError, match="deleted token cannot have its minted tokens"):
        guard.reapprove(child.info.id)
    with pytest.raises(RevokedToken):
        guard.authenticate(child.token)


@pytest.mark.parametrize("kill", ["revoke", "delete"])
def test_a_child_minted_while_its_parent_is_killed_dies_too(kill: str) -> None:
    """The parent is live when minting checks it, dead by the time the child is stored."""
    store = CountingStore()
    guard = TokenGuard(store, secret_key=KEY, max_tokens_per_owner=None, load_entry_points=False)
    parent = guard.authenticate(make(guard, scopes=["write"], token_id="p").token)
    real_insert = store.insert

    def insert_after_the_kill(record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        if record.info.parent_id == "p":  # what a revoke in another thread does meanwhile
            getattr(guard, kill)("p")
        real_insert(record, limit=limit, now=now)

    store.insert = insert_after_the_kill  # type: ignore[method-assign]
    with pytest.raises(ValidationError, match="token cannot mint tokens"):
        guard.create_token("alice", "persistence", scopes=["read"], parent=parent)
    (child,) = [t for t in guard.list_tokens("alice") if t.name == "persistence"]
    assert child.status == "revoked"


def test_a_revoked_or_expired_parent_cannot_mint(guard: TokenGuard, clock: Clock) -> None:
    parent = guard.authenticate(make(guard, scopes=["write"], token_id="p",
                                     expires_in=timedelta(hours=1)).token)
    guard.revoke("p")
    with pytest.raises(ValidationError, match="revoked"):
        guard.create_token("alice", "late child", scopes=["read"], parent=parent)  # stale snapshot
    guard.reapprove("p")
    clock.advance(hours=1)
    with pytest.raises(ValidationError, match="expired"):
        guard.create_token("alice", "late child", scopes=["read"], parent=parent)
    assert [i.name for i in guard.list_tokens("alice")] == ["ci"]


def test_the_parent_is_bounded_by_its_stored_state_not_a_stale_copy(guard: TokenGuard) -> None:
    parent = guard.authenticate(make(guard, scopes=["write"], projects=["alpha", "beta"], token_id="p").token)
    guard.update_token("p", projects=["alpha"])  # narrowed after the caller authenticated
    with pytest.raises(ValidationError, match="projects"):
        guard.create_token("alice", "child", scopes=["read"], projects=["beta"], parent=parent)
    guard.delete("p")
    with pytest.raises(ValidationError, match="deleted"):
        guard.create_token("alice", "child", scopes=["read"], projects=["alpha"], parent=parent)


def test_admin_parent_can_mint_any_scope_but_not_admin(guard: TokenGuard) -> None:
    parent = guard.authenticate(make(guard, admin=True, projects=["alpha"]).token)
    child = guard.create_token("alice", "child", scopes=["management"], projects=["zeta"], parent=parent)
    assert child.info.scopes == {"management"} and not child.info.admin


# -- validation of names, ids, expiry -------------------------------------------------------


@pytest.mark.parametrize("name", [
    "", "   ", "x" * 101, "tab\there", "new\nline", "nul\x00", "del\x7f", "\u202eevil", "zero\u200bwidth",
    "bom\ufeff", "line\u2028sep", "bidi\u2066isolate", "private\ue000", None, 42,
])
def test_bad_names_are_refused(guard: TokenGuard, name: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make(guard, name=name)  # type: ignore[arg-type]
    assert caught.value.field == "name"
    assert guard.list_tokens() == []


def test_good_names(guard: TokenGuard) -> None:
    assert make(guard, name="x" * 100).info.name == "x" * 100
    assert make(guard, name="  trimmed  ").info.name == "trimmed"
    assert make(guard, name="déploiement 🚀 日本").info.name == "déploiement 🚀 日本"


@pytest.mark.parametrize("token_id", ["", "UPPER", "a" * 65, "with space", "dot.ted", "ümlaut", "a/b", "x\n"])
def test_bad_ids_are_refused(guard: TokenGuard, token_id: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make(guard, token_id=token_id)
    assert caught.value.field == "id"


def test_good_ids(guard: TokenGuard) -> None:
    for token_id in ("a", "0", "ci-pipeline_2", "a" * 64):
        assert make(guard, owner=token_id, token_id=token_id).info.id == token_id


def test_expiry_in_the_past_or_now_is_refused(guard: TokenGuard) -> None:
    for expires_in in (timedelta(0), timedelta(seconds=-1)):
        with pytest.raises(ValidationError, match="future"):
            make(guard, expires_in=expires_in)
    with pytest.raises(ValidationError, match="future"):
        make(guard, expires_at=START - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="timezone-aware"):
        make(guard, expires_at=datetime(2031, 1, 1))  # naive
    with pytest.raises(ValidationError):
        make(guard, expires_in=30)


def test_expiry_too_far_is_a_validation_error_not_an_overflow(guard: TokenGuard) -> None:
    with pytest.raises(ValidationError):
        make(guard, expires_in=timedelta(days=999_999_999))


def test_max_lifetime(clock: Clock) -> None:
    guard = TokenGuard("memory://", secret_key=KEY, clock=clock, default_lifetime=timedelta(days=7),
                       max_lifetime=timedelta(days=30), load_entry_points=False)
    assert guard.create_token("a", "ok", expires_in=timedelta(days=30)).info.expires_at == (
        START + timedelta(days=30))
    with pytest.raises(ValidationError, match="maximum lifetime"):
        guard.create_token("a", "too long", expires_in=timedelta(days=30, seconds=1))
    with pytest.raises(ValidationError, match="must expire"):
        guard.create_token("a", "never", expires_in=None)
    with pytest.raises(ValidationError, match="maximum lifetime"):
        guard.create_token("a", "abs", expires_at=START + timedelta(days=31))
    assert guard.create_token("a", "default").info.expires_at == START + timedelta(days=7)
    guard.create_token("a", "rot", token_id="rot", expires_in=timedelta(days=1))
    with pytest.raises(ValidationError, match="maximum lifetime"):
        guard.rotate("rot", expires_in=timedelta(days=31))


@pytest.mark.parametrize("owner", ["", " ", "x" * 256, "a\nb", None])
def test_bad_owners_are_refused(guard: TokenGuard, owner: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make(guard, owner=owner)  # type: ignore[arg-type]
    assert caught.value.field == "owner"


@pytest.mark.parametrize(
    "projects", ["alpha", ["has space"], [""], [5], ["x" * 65], [f"p{i}" for i in range(51)]])
def test_bad_projects_are_refused(guard: TokenGuard, projects: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make(guard, projects=projects)
    assert caught.value.field == "projects"


# -- secrets stay secret --------------------------------------------------------------------


def test_token_info_never_holds_the_secret_or_digest(guard: TokenGuard, store: CountingStore) -> None:
    issued = make(guard)
    digest = store.get(issued.info.id).digest  # type: ignore[union-attr]
    names = {f.name for f in dataclasses.fields(TokenInfo)}
    assert not names & {"token", "secret", "digest", "hash"}
    for info in (issued.info, guard.authenticate(issued.token), guard.get_token(issued.info.id),
                 *guard.list_tokens()):
        text = repr(info) + str(dataclasses.asdict(info))
        assert issued.token not in text and issued.token[3:] not in text
        assert digest not in text
        assert issued.token[3:35] not in text  # not even the random part


def test_issued_token_repr_hides_the_secret(guard: TokenGuard) -> None:
    issued = make(guard, token_id="visible-id")
    for text in (repr(issued), str(issued), f"{issued}", f"{issued!r}"):
        assert issued.token not in text
        assert issued.token[3:35] not in text
    assert "visible-id" in str(issued)


def test_error_messages_never_contain_the_token(guard: TokenGuard, clock: Clock) -> None:
    issued = make(guard, expires_in=timedelta(minutes=1))
    messages = []
    other_last = "Z" if issued.token[-1] != "Z" else "Y"  # a real change, whatever the last char
    for tweak in (issued.token + "x", issued.token[:-1] + other_last):
        with pytest.raises(InvalidToken) as caught:
            guard.authenticate(tweak)
        messages.append(str(caught.value))
    clock.advance(minutes=1)
    with pytest.raises(ExpiredToken) as expired:
        guard.authenticate(issued.token)
    messages.append(str(expired.value))
    assert all(issued.token[3:35] not in m for m in messages)


def test_status_property_uses_real_time() -> None:
    past = datetime(2000, 1, 1, tzinfo=UTC)
    info = TokenInfo(id="x", owner="o", name="n", scopes=frozenset({"read"}), expires_at=past)
    assert info.status == "expired"
    assert dataclasses.replace(info, expires_at=None).status == "active"
    assert dataclasses.replace(info, revoked_at=past).status == "revoked"


def test_derive_key_is_stable_per_purpose(guard: TokenGuard) -> None:
    assert guard.derive_key("csrf") == guard.derive_key("csrf")
    assert guard.derive_key("csrf") != guard.derive_key("flash")
    again = TokenGuard("memory://", secret_key=KEY, load_entry_points=False)
    assert again.derive_key("csrf") == guard.derive_key("csrf")



@pytest.mark.parametrize("spaced", ["alice ", " alice", "alice\t", "alice\n"])
def test_an_owner_is_never_trimmed_into_another(guard: TokenGuard, spaced: str) -> None:
    """``"alice "`` acting as ``"alice"`` is one user acting as another: refused, everywhere."""
    alices = make(guard)
    with pytest.raises(ValidationError, match="whitespace"):
        guard.create_token(spaced, "mine")
    with pytest.raises(ValidationError, match="whitespace"):
        guard.list_tokens(spaced)
    with pytest.raises(ValidationError, match="whitespace"):
        guard.revoke_owner(spaced)
    assert guard.get_token(alices.info.id).status == "active"
    assert [t.owner for t in guard.list_tokens()] == ["alice"]


def test_an_expiry_given_in_another_zone_is_kept_in_utc(guard: TokenGuard) -> None:
    minus_seven = timezone(timedelta(hours=-7))
    issued = guard.create_token("alice", "ci", expires_at=datetime(2040, 1, 1, 12, tzinfo=minus_seven))
    assert issued.info.expires_at == datetime(2040, 1, 1, 19, tzinfo=UTC)
    assert issued.info.expires_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="too far"):
        guard.create_token("alice", "far", expires_at=datetime(9999, 12, 31, 23, tzinfo=minus_seven))


def test_narrowing_a_parent_narrows_or_revokes_what_it_minted(guard: TokenGuard) -> None:
    """A child stays within its parent: it keeps the projects both have, and dies with none left."""
    parent = guard.create_token("alice", "parent", scopes=["management"], projects=["alpha", "beta"]).info
    both = guard.create_token("alice", "both", scopes=["read"], projects=["alpha", "beta"], parent=parent)
    beta = guard.create_token("alice", "beta", scopes=["read"], projects=["beta"], parent=parent)
    other = guard.create_token("alice", "other", scopes=["read"], projects=["beta"])
    guard.update_token(parent.id, projects=["alpha"])
    assert guard.get_token(both.info.id).projects == {"alpha"}
    assert guard.get_token(both.info.id).status == "active"
    assert guard.get_token(beta.info.id).status == "revoked"
    assert guard.get_token(other.info.id).projects == {"beta"}  # not minted by it
    with pytest.raises(RevokedToken):
        guard.authenticate(beta.token)
    assert guard.authenticate(both.token).projects == {"alpha"}


def test_narrowing_reaches_grandchildren(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"], projects=["alpha", "beta"]).info
    mid = guard.create_token("alice", "mid", scopes=["management"], projects=["alpha", "beta"],
                             parent=parent).info
    grandchild = guard.create_token("alice", "grand", scopes=["read"], projects=["beta"], parent=mid)
    guard.update_token(parent.id, projects=["alpha"])
    assert guard.get_token(mid.id).projects == {"alpha"}
    assert guard.get_token(grandchild.info.id).status == "revoked"


def test_an_unrestricted_child_takes_its_narrowed_parents_projects(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"]).info
    child = guard.create_token("alice", "child", scopes=["read"], parent=parent)
    guard.update_token(parent.id, projects=["gamma"])
    assert guard.get_token(child.info.id).projects == {"gamma"}
    guard.update_token(parent.id, projects=[])  # widening the parent widens no child
    assert guard.get_token(child.info.id).projects == {"gamma"}


def test_a_child_cannot_be_widened_beyond_its_parent(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"], projects=["alpha"]).info
    child = guard.create_token("alice", "child", scopes=["read"], projects=["alpha"], parent=parent)
    with pytest.raises(ValidationError, match="projects"):
        guard.update_token(child.info.id, projects=["alpha", "beta"])
    with pytest.raises(ValidationError, match="projects"):
        guard.update_token(child.info.id, projects=[])  # unrestricted is wider than alpha
    assert guard.get_token(child.info.id).projects == {"alpha"}
