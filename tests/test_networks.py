"""Allowed networks: a token used from anywhere else is refused, warm or cold, and fails closed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from _testclock import ManualClock
from tokenguard import InvalidToken, MemoryStore, TokenGuard, ValidationError, hookimpl
from tokenguard.stores.base import TokenRecord

KEY = "networks-suite-secret-key-0123456789abcdef"
START = datetime(2031, 9, 10, 11, 12, 13, tzinfo=UTC)


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.finds = 0

    def find(self, digest: str) -> TokenRecord | None:
        self.finds += 1
        return super().find(digest)


class Failures:
    def __init__(self) -> None:
        self.reasons: list[tuple[str, str | None, str | None]] = []

    @hookimpl
    def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
        self.reasons.append((reason, hint, remote))


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def failures() -> Failures:
    return Failures()


@pytest.fixture
def guard(store: CountingStore, failures: Failures) -> TokenGuard:
    return TokenGuard(store, secret_key=KEY, clock=ManualClock(START), plugins=[failures],
                      load_entry_points=False, limiter=None, cache_ttl=3600)


# -- validation -------------------------------------------------------------------------------


def test_networks_are_kept_canonical() -> None:
    from tokenguard.validation import networks

    assert networks(["203.0.113.0/24", "2001:DB8:0::/32", " 192.0.2.7 ", "::1"]) == {
        "203.0.113.0/24", "2001:db8::/32", "192.0.2.7/32", "::1/128"}
    assert networks(None) == networks([]) == frozenset()


@pytest.mark.parametrize(("value", "message"), [
    ("10.1.2.3/8", "host bits set: write the network, 10.0.0.0/8"),
    ("2001:db8::1/32", "host bits set: write the network, 2001:db8::/32"),
    ("10.0.0.0/33", "not a CIDR network"),
    ("example.com", "not a CIDR network"),
    ("", "must be a CIDR network"),
    ("\u0661\u0660.0.0.0/8", "must be a CIDR network"),  # Arabic-Indic digits are not an address
])
def test_bad_networks_are_refused_with_a_clear_message(guard: TokenGuard, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        guard.create_token("alice", "n", allowed_networks=[value])
    assert message in str(caught.value) and caught.value.field == "allowed_networks"


def test_a_bare_string_or_too_many_networks_are_refused(guard: TokenGuard) -> None:
    with pytest.raises(ValidationError):
        guard.create_token("alice", "n", allowed_networks="10.0.0.0/8")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        guard.create_token("alice", "n", allowed_networks=[f"10.0.{i}.0/24" for i in range(51)])


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(("remote", "allowed"), [
    ("203.0.113.1", True), ("203.0.113.255", True), ("203.0.114.1", False),
    ("2001:db8:1::5", True), ("2001:db9::5", False), ("::ffff:203.0.113.9", True),
    ("fe80::1%eth0", False), (None, False), ("testclient", False), ("", False),
])
def test_only_clients_within_the_networks_may_use_the_token(
    guard: TokenGuard, failures: Failures, remote: str | None, allowed: bool,
) -> None:
    issued = guard.create_token("alice", "n", allowed_networks=["203.0.113.0/24", "2001:db8::/32"])
    for _ in range(2):  # cold, then warm
        if allowed:
            assert guard.authenticate(issued.token, remote=remote).id == issued.info.id
        else:
            with pytest.raises(InvalidToken):
                guard.authenticate(issued.token, remote=remote)
    if not allowed:
        assert failures.reasons == [("network_not_allowed", issued.info.hint, remote)] * 2


def test_an_unrestricted_token_works_from_anywhere(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "n")
    for remote in (None, "198.51.100.1", "testclient"):
        assert guard.authenticate(issued.token, remote=remote).allowed_networks == frozenset()


def test_the_network_check_is_after_the_cache_and_costs_no_query(
    guard: TokenGuard, store: CountingStore,
) -> None:
    issued = guard.create_token("alice", "n", allowed_networks=["10.0.0.0/8"])
    guard.authenticate(issued.token, remote="10.1.1.1")
    assert store.finds == 1
    for remote in ("10.2.2.2", "10.3.3.3", "192.0.2.1", None):
        try:
            found = guard.authenticate_cached(issued.token, remote=remote)
        except InvalidToken:
            assert remote in ("192.0.2.1", None)
        else:
            assert found is not None and remote is not None and remote.startswith("10.")
    assert store.finds == 1


def test_narrowing_a_tokens_networks_applies_at_once(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "n", allowed_networks=["10.0.0.0/8"])
    guard.authenticate(issued.token, remote="10.9.9.9")  # warm
    guard.update_token(issued.info.id, allowed_networks=["10.1.0.0/16"])
    with pytest.raises(InvalidToken):
        guard.authenticate(issued.token, remote="10.9.9.9")
    assert guard.authenticate(issued.token, remote="10.1.2.3").allowed_networks == {"10.1.0.0/16"}
    guard.update_token(issued.info.id, allowed_networks=[])  # anywhere again
    assert guard.authenticate(issued.token, remote="192.0.2.1").allowed_networks == frozenset()


# -- tokens minted by another ------------------------------------------------------------------------


def test_a_child_is_never_wider_than_its_parent(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"],
                                allowed_networks=["10.0.0.0/8", "2001:db8::/32"])
    inherits = guard.create_token("alice", "anywhere?", parent=parent.info)
    assert inherits.info.allowed_networks == parent.info.allowed_networks
    narrower = guard.create_token("alice", "narrower", parent=parent.info,
                                  allowed_networks=["10.1.0.0/16", "2001:db8:5::/48"])
    assert narrower.info.allowed_networks == {"10.1.0.0/16", "2001:db8:5::/48"}
    for wider in (["0.0.0.0/0"], ["192.0.2.0/24"], ["10.0.0.0/8", "2001:db9::/32"]):
        with pytest.raises(ValidationError) as caught:
            guard.create_token("alice", "wider", parent=parent.info, allowed_networks=wider)
        assert caught.value.field == "allowed_networks"
    with pytest.raises(ValidationError):
        guard.update_token(narrower.info.id, allowed_networks=["192.0.2.0/24"])
    assert guard.update_token(narrower.info.id, allowed_networks=[]).allowed_networks == (
        parent.info.allowed_networks)  # unrestricted: the parent's


def test_narrowing_a_parent_narrows_or_revokes_its_children(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"])
    wide = guard.create_token("alice", "wide", parent=parent.info)  # anywhere
    inside = guard.create_token("alice", "inside", parent=parent.info, allowed_networks=["10.1.0.0/16"])
    around = guard.create_token("alice", "around", parent=parent.info, allowed_networks=["10.0.0.0/8"])
    elsewhere = guard.create_token("alice", "elsewhere", parent=parent.info,
                                   allowed_networks=["192.0.2.0/24"])

    guard.update_token(parent.info.id, allowed_networks=["10.1.0.0/16", "10.2.0.0/16"])

    assert guard.get_token(wide.info.id).allowed_networks == {"10.1.0.0/16", "10.2.0.0/16"}
    assert guard.get_token(inside.info.id).allowed_networks == {"10.1.0.0/16"}
    assert guard.get_token(around.info.id).allowed_networks == {"10.1.0.0/16", "10.2.0.0/16"}
    assert guard.get_token(elsewhere.info.id).status == "revoked"
    assert guard.get_token(inside.info.id).status == "active"


def test_networks_and_projects_narrow_together(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"], projects=["a", "b"])
    child = guard.create_token("alice", "child", parent=parent.info, projects=["a"],
                               allowed_networks=["10.0.0.0/8"])
    guard.update_token(parent.info.id, projects=["a"], allowed_networks=["10.5.0.0/16"])
    info = guard.get_token(child.info.id)
    assert (info.projects, info.allowed_networks, info.status) == ({"a"}, {"10.5.0.0/16"}, "active")


def test_the_memo_of_decisions_stays_bounded(guard: TokenGuard, monkeypatch: Any) -> None:
    from tokenguard import verification

    monkeypatch.setattr(verification, "_MAX_ALLOWED_PAIRS", 4)
    issued = guard.create_token("alice", "n", allowed_networks=["10.0.0.0/8"])
    for index in range(20):
        assert guard.authenticate(issued.token, remote=f"10.0.0.{index}").id == issued.info.id
    assert len(verification._allowed_pairs) <= 4
