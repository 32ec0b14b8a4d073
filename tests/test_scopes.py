"""Scope hierarchies: a scope implies what it lists, transitively."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenguard import InsufficientScope, MemoryStore, ScopeHierarchy, TokenGuard, TokenInfo, ValidationError

KEY = "s" * 32


def test_default_hierarchy() -> None:
    scopes = ScopeHierarchy()
    assert scopes.order == ("read", "write", "management")
    assert scopes.expand(frozenset({"read"})) == {"read"}
    assert scopes.expand(frozenset({"write"})) == {"read", "write"}
    assert scopes.expand(frozenset({"management"})) == {"read", "write", "management"}
    assert scopes.covers(frozenset({"write"}), frozenset({"read"}))
    assert not scopes.covers(frozenset({"read"}), frozenset({"write"}))
    assert not scopes.covers(frozenset({"write"}), frozenset({"management"}))


def test_closure_is_transitive_over_long_chains() -> None:
    chain = {f"s{i}": ([f"s{i - 1}"] if i else []) for i in range(30)}
    scopes = ScopeHierarchy(chain)
    assert scopes.expand(frozenset({"s29"})) == frozenset(chain)
    assert scopes.expand(frozenset({"s5"})) == {f"s{i}" for i in range(6)}


def test_custom_hierarchy_with_branches() -> None:
    scopes = ScopeHierarchy({
        "billing:read": [], "billing:write": ["billing:read"],
        "repo:read": [], "repo:write": ["repo:read"],
        "owner": ["billing:write", "repo:write"],
    })
    assert scopes.expand(frozenset({"owner"})) == {
        "owner", "billing:write", "billing:read", "repo:write", "repo:read"}
    assert scopes.expand(frozenset({"repo:write", "billing:read"})) == {
        "repo:write", "repo:read", "billing:read"}
    assert not scopes.covers(frozenset({"repo:write"}), frozenset({"billing:read"}))
    assert scopes.level(frozenset({"owner"})) == "owner"
    assert scopes.level(frozenset({"repo:read"})) == "repo:read"


def test_cycles_are_tolerated_and_mean_equivalence() -> None:
    scopes = ScopeHierarchy({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    for name in "abc":
        assert scopes.expand(frozenset({name})) == {"a", "b", "c"}
    assert scopes.expand(frozenset({"d"})) == {"d"}
    selfloop = ScopeHierarchy({"x": ["x"]})
    assert selfloop.expand(frozenset({"x"})) == {"x"}


def test_unknown_implied_scope_is_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="'write' implies unknown scope 'raed'") as caught:
        ScopeHierarchy({"read": [], "write": ["raed"]})
    assert caught.value.field == "scopes"


@pytest.mark.parametrize("spec", [
    {},
    {"Read": []},
    {"9lives": []},
    {"has space": []},
    {"x" * 65: []},
    {5: []},
])
def test_bad_scope_names_are_refused(spec: dict[object, list[str]]) -> None:
    with pytest.raises(ValidationError):
        ScopeHierarchy(spec)  # type: ignore[arg-type]


def test_implied_scopes_given_as_a_string_are_refused() -> None:
    # "read" as a bare string would otherwise be read as the scopes r, e, a, d.
    with pytest.raises(ValidationError, match="list"):
        ScopeHierarchy({"read": [], "write": "read"})


def test_validate_refuses_unknown_empty_and_bare_strings() -> None:
    scopes = ScopeHierarchy()
    assert scopes.validate(["write", "read"]) == {"write", "read"}
    with pytest.raises(ValidationError, match="unknown scope 'admin'; expected one of: read, write"):
        scopes.validate(["admin"])
    with pytest.raises(ValidationError, match="at least one"):
        scopes.validate([])
    with pytest.raises(ValidationError, match="list"):
        scopes.validate("read")
    with pytest.raises(ValidationError, match="list"):
        scopes.validate(None)
    with pytest.raises(ValidationError):
        scopes.validate([None])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        scopes.validate(5)  # type: ignore[arg-type]


def test_membership() -> None:
    scopes = ScopeHierarchy()
    assert "write" in scopes
    assert "admin" not in scopes


def test_level_is_the_highest_scope_held() -> None:
    scopes = ScopeHierarchy()
    assert scopes.level(frozenset({"read", "write"})) == "write"
    assert scopes.level(frozenset({"management"})) == "management"
    assert scopes.level(frozenset({"read"})) == "read"


def test_a_guard_uses_its_custom_hierarchy_end_to_end() -> None:
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False,
                       scopes={"view": [], "edit": ["view"], "publish": ["edit"]})
    issued = guard.create_token("alice", "editor", scopes=["edit"])
    info = guard.authenticate(issued.token)
    assert info.effective_scopes == {"edit", "view"}
    assert info.has_scope("view") and not info.has_scope("publish")
    guard.require(info, "view")
    guard.require(info, "edit", "view")
    with pytest.raises(InsufficientScope) as caught:
        guard.require(info, "publish")
    assert caught.value.required == ("publish",)
    with pytest.raises(ValidationError, match="unknown scope"):
        guard.require(info, "write")  # not in this hierarchy: a programming error
    with pytest.raises(ValidationError, match="unknown scope 'write'"):
        guard.create_token("alice", "bad", scopes=["write"])
    # Without scopes, a token gets the lowest configured one.
    assert guard.create_token("alice", "default").info.scopes == {"view"}


def test_has_scope_on_info_uses_the_hierarchy() -> None:
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False)
    info = guard.create_token("bob", "mgmt", scopes=["management"]).info
    assert all(info.has_scope(s) for s in ("read", "write", "management"))
    assert not info.has_scope("other")


def test_a_scope_the_hierarchy_does_not_configure_grants_nothing() -> None:
    """A token stored under an older configuration: its unknown names are not effective."""
    scopes = ScopeHierarchy()
    assert scopes.expand(frozenset({"write", "legacy"})) == {"read", "write"}
    assert scopes.expand(frozenset({"legacy"})) == frozenset()
    assert not scopes.grants(frozenset({"legacy"}), "legacy")


@pytest.mark.parametrize("url", ["memory", "sqlite"])
def test_a_token_whose_only_scope_left_the_configuration_holds_nothing(url: str, tmp_path: Path) -> None:
    """Not its raw scope back: an empty effective set stays empty, on every store."""
    store: MemoryStore | str = MemoryStore() if url == "memory" else f"sqlite:///{tmp_path}/s.db"
    before = TokenGuard(store, secret_key="k" * 40, load_entry_points=False,
                        scopes={"read": [], "deploy": []})
    only = before.create_token("alice", "deploy only", scopes=["deploy"]).token
    both = before.create_token("alice", "deploy and read", scopes=["deploy", "read"]).token
    after = TokenGuard(before.store, secret_key="k" * 40, load_entry_points=False,
                       scopes={"read": [], "write": ["read"]})
    for token, effective in ((only, frozenset()), (both, frozenset({"read"}))):
        for _ in range(2):  # cold, then from the verification cache
            info = after.authenticate(token)
            assert info.effective_scopes == effective and not info.has_scope("deploy")
    assert TokenInfo("x", "o", "n", frozenset({"read"})).effective_scopes == {"read"}  # not given: scopes
