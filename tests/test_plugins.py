"""Plugins: audit events with their data, a creation veto, stores for new URL schemes, entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from _testclock import ManualClock as Clock
from tokenguard import (
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    MemoryStore,
    RevokedToken,
    Store,
    TokenGuard,
    TokenGuardError,
    TokenInfo,
    TokenLimitExceeded,
    ValidationError,
    hookimpl,
)

KEY = "plugin-test-key-0123456789abcdefghijklmnop"
START = datetime(2030, 1, 1, tzinfo=UTC)


class Recorder:
    """A plugin that records every event it receives, with its arguments."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def named(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == event]

    @hookimpl
    def tokenguard_token_created(self, info: TokenInfo, actor: str | None) -> None:
        self.events.append(("created", {"info": info, "actor": actor}))

    @hookimpl
    def tokenguard_token_revoked(self, info: TokenInfo, actor: str | None) -> None:
        self.events.append(("revoked", {"info": info, "actor": actor}))

    @hookimpl
    def tokenguard_token_reapproved(self, info: TokenInfo, actor: str | None) -> None:
        self.events.append(("reapproved", {"info": info, "actor": actor}))

    @hookimpl
    def tokenguard_token_rotated(self, info: TokenInfo, actor: str | None) -> None:
        self.events.append(("rotated", {"info": info, "actor": actor}))

    @hookimpl
    def tokenguard_token_updated(self, info: TokenInfo, actor: str | None) -> None:
        self.events.append(("updated", {"info": info, "actor": actor}))

    @hookimpl
    def tokenguard_token_deleted(self, info: TokenInfo, actor: str | None) -> None:
        self.events.append(("deleted", {"info": info, "actor": actor}))

    @hookimpl
    def tokenguard_owner_revoked(self, owner: str, token_ids: Sequence[str], actor: str | None) -> None:
        self.events.append(("owner_revoked", {"owner": owner, "token_ids": list(token_ids), "actor": actor}))

    @hookimpl
    def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
        self.events.append(("auth_failed", {"reason": reason, "hint": hint, "remote": remote}))

    @hookimpl
    def tokenguard_scope_denied(
        self, info: TokenInfo, required: Sequence[str], project: str | None, remote: str | None
    ) -> None:
        self.events.append(("scope_denied", {"info": info, "required": list(required),
                                             "project": project, "remote": remote}))

    @hookimpl
    def tokenguard_limit_reached(self, owner: str, limit: int) -> None:
        self.events.append(("limit_reached", {"owner": owner, "limit": limit}))

    @hookimpl
    def tokenguard_token_invalidated(self, token_id: str, digest: str | None) -> None:
        self.events.append(("invalidated", {"token_id": token_id, "digest": digest}))




@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def guard(recorder: Recorder, clock: Clock) -> TokenGuard:
    return TokenGuard("memory://", secret_key=KEY, plugins=[recorder], clock=clock,
                      max_tokens_per_owner=2, load_entry_points=False)


def test_lifecycle_events_carry_the_token_info_and_actor(guard: TokenGuard, recorder: Recorder) -> None:
    issued = guard.create_token("alice", "ci", scopes=["write"], token_id="ci", actor="admin:bob")
    guard.update_token("ci", name="ci renamed", actor="alice")
    guard.revoke("ci", actor="alice")
    guard.reapprove("ci", actor="alice")
    rotated = guard.rotate("ci", actor="alice")
    guard.delete("ci", actor="alice")
    names = [name for name, _ in recorder.events if name != "invalidated"]
    assert names == ["created", "updated", "revoked", "reapproved", "rotated", "deleted"]
    created = recorder.named("created")[0]
    assert created["actor"] == "admin:bob"
    assert created["info"].id == "ci" and created["info"].scopes == {"write"}
    assert created["info"].owner == "alice" and created["info"].name == "ci"
    assert recorder.named("updated")[0]["info"].name == "ci renamed"
    assert recorder.named("revoked")[0]["info"].revoked_at == START
    assert recorder.named("reapproved")[0]["info"].revoked_at is None
    assert recorder.named("rotated")[0]["info"].hint == rotated.info.hint != issued.info.hint
    assert recorder.named("deleted")[0]["info"].id == "ci"
    assert all(data["actor"] == "alice" for name, data in recorder.events
               if name not in ("created", "invalidated"))


def test_invalidation_events_for_caches(guard: TokenGuard, recorder: Recorder) -> None:
    guard.create_token("alice", "ci", token_id="ci")
    guard.rotate("ci")
    guard.revoke("ci")
    guard.delete("ci")
    invalidated = recorder.named("invalidated")
    assert [e["token_id"] for e in invalidated] == ["ci", "ci", "ci"]
    # Each names the digest that became stale: rotation drops the old one.
    assert all(isinstance(e["digest"], str) and len(e["digest"]) == 64 for e in invalidated)
    assert invalidated[0]["digest"] != invalidated[1]["digest"]


def test_owner_revoked_event(guard: TokenGuard, recorder: Recorder) -> None:
    ids = [guard.create_token("alice", f"t{i}").info.id for i in range(2)]
    assert guard.revoke_owner("alice", actor="ops") == 2
    event = recorder.named("owner_revoked")[0]
    assert event == {"owner": "alice", "token_ids": ids, "actor": "ops"}
    assert {e["token_id"] for e in recorder.named("invalidated")} == set(ids)


def test_auth_failed_reasons_hints_and_remote(guard: TokenGuard, recorder: Recorder, clock: Clock) -> None:
    with pytest.raises(InvalidToken):
        guard.authenticate("garbage", remote="192.0.2.1")
    stranger = TokenGuard("memory://", secret_key=KEY, load_entry_points=False).create_token("x", "y")
    with pytest.raises(InvalidToken):
        guard.authenticate(stranger.token, remote="192.0.2.2")
    revoked = guard.create_token("alice", "r")
    guard.revoke(revoked.info.id)
    with pytest.raises(RevokedToken):
        guard.authenticate(revoked.token, remote="192.0.2.3")
    expiring = guard.create_token("alice", "e", expires_in=timedelta(minutes=1))
    clock.now += timedelta(minutes=1)
    with pytest.raises(ExpiredToken):
        guard.authenticate(expiring.token)
    failures = recorder.named("auth_failed")
    assert failures[0] == {"reason": "malformed token", "hint": None, "remote": "192.0.2.1"}
    assert failures[1] == {"reason": "unknown", "hint": stranger.info.hint, "remote": "192.0.2.2"}
    assert failures[2] == {"reason": "revoked", "hint": revoked.info.hint, "remote": "192.0.2.3"}
    assert failures[3] == {"reason": "expired", "hint": expiring.info.hint, "remote": None}


def test_scope_denied_and_limit_reached(guard: TokenGuard, recorder: Recorder) -> None:
    info = guard.authenticate(guard.create_token("alice", "r", scopes=["read"], projects=["a"]).token)
    with pytest.raises(InsufficientScope):
        guard.require(info, "write", remote="198.51.100.7")
    with pytest.raises(InsufficientScope):
        guard.require(info, "read", project="b")
    denied = recorder.named("scope_denied")
    assert denied[0] == {"info": info, "required": ["write"], "project": None, "remote": "198.51.100.7"}
    assert denied[1]["project"] == "b" and denied[1]["required"] == ["read"]
    guard.create_token("alice", "second")
    with pytest.raises(TokenLimitExceeded):
        guard.create_token("alice", "third")
    assert recorder.named("limit_reached") == [{"owner": "alice", "limit": 2}]
    assert len(recorder.named("created")) == 2


def test_successful_checks_emit_no_failure_events(guard: TokenGuard, recorder: Recorder) -> None:
    info = guard.authenticate(guard.create_token("alice", "w", scopes=["write"]).token)
    guard.require(info, "read")
    assert not recorder.named("auth_failed") and not recorder.named("scope_denied")


class NoProductionWrites:
    """A policy: tokens on the 'prod' project may only read; and it records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    @hookimpl
    def tokenguard_check_create(
        self, owner: str, name: str, scopes: frozenset[str], projects: frozenset[str]
    ) -> None:
        self.asked.append({"owner": owner, "name": name, "scopes": scopes, "projects": projects})
        if "prod" in projects and scopes - {"read"}:
            raise ValidationError("prod tokens are read-only", field="scopes")


def test_check_create_can_veto() -> None:
    policy = NoProductionWrites()
    guard = TokenGuard("memory://", secret_key=KEY, plugins=[policy], load_entry_points=False)
    with pytest.raises(ValidationError, match="read-only"):
        guard.create_token("alice", " deploy ", scopes=["write"], projects=["prod"])  # asked as stored
    assert guard.list_tokens() == []
    assert policy.asked == [{"owner": "alice", "name": "deploy", "scopes": {"write"}, "projects": {"prod"}}]
    assert guard.create_token("alice", "reader", scopes=["read"], projects=["prod"]).info.name == "reader"
    assert guard.create_token("alice", "dev", scopes=["write"], projects=["dev"]).info.name == "dev"


def test_any_tokenguard_error_from_a_policy_propagates() -> None:
    class Quota:
        @hookimpl
        def tokenguard_check_create(
            self, owner: str, name: str, scopes: frozenset[str], projects: frozenset[str]
        ) -> None:
            raise TokenLimitExceeded(owner, 0)

    guard = TokenGuard("memory://", secret_key=KEY, plugins=[Quota()], load_entry_points=False)
    with pytest.raises(TokenGuardError):
        guard.create_token("alice", "x")
    assert guard.list_tokens() == []


class LabelledStore(MemoryStore):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


class CustomScheme:
    @hookimpl
    def tokenguard_make_store(self, url: str) -> Store | None:
        return LabelledStore(url) if url.startswith("custom://") else None


def test_make_store_for_a_custom_scheme() -> None:
    guard = TokenGuard("custom://bucket/tokens", secret_key=KEY, plugins=[CustomScheme()],
                       load_entry_points=False)
    assert isinstance(guard.store, LabelledStore) and guard.store.url == "custom://bucket/tokens"
    issued = guard.create_token("alice", "works")
    assert guard.authenticate(issued.token).id == issued.info.id
    # Other schemes still reach the built-in stores.
    plain = TokenGuard("memory://", secret_key=KEY, plugins=[CustomScheme()], load_entry_points=False)
    assert type(plain.store) is MemoryStore
    with pytest.raises(ValidationError, match="custom"):
        TokenGuard("custom://x", secret_key=KEY, load_entry_points=False)  # without the plugin


def test_a_plugin_store_wins_over_the_builtin_one_for_the_same_scheme() -> None:
    class MemoryOverride:
        @hookimpl
        def tokenguard_make_store(self, url: str) -> Store | None:
            return LabelledStore(url) if url.startswith("memory:") else None

    guard = TokenGuard("memory://", secret_key=KEY, plugins=[MemoryOverride()], load_entry_points=False)
    assert isinstance(guard.store, LabelledStore)


def test_the_same_plugin_passed_twice_is_registered_once(recorder: Recorder) -> None:
    guard = TokenGuard("memory://", secret_key=KEY, plugins=[recorder, recorder], load_entry_points=False)
    guard.create_token("alice", "once")
    assert len(recorder.named("created")) == 1


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real distribution on sys.path whose entry point in the ``tokenguard`` group is a plugin."""
    module = "tokenguard_test_entry_plugin"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent("""
        from tokenguard import MemoryStore, hookimpl

        created = []

        class EntryStore(MemoryStore):
            pass

        @hookimpl
        def tokenguard_make_store(url):
            return EntryStore() if url.startswith("entry://") else None

        @hookimpl
        def tokenguard_token_created(info, actor):
            created.append(info.id)
    """))
    dist = tmp_path / "tokenguard_test_entry_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tokenguard-test-entry-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[tokenguard]\nentry = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_entry_point_plugins_are_loaded(installed_plugin: str) -> None:
    guard = TokenGuard("entry://anything", secret_key=KEY)
    assert type(guard.store).__name__ == "EntryStore"
    issued = guard.create_token("alice", "from entry point")
    assert sys.modules[installed_plugin].created == [issued.info.id]
    assert any(dist.project_name == "tokenguard-test-entry-plugin"
               for _, dist in guard.plugins.list_plugin_distinfo())


def test_entry_points_are_skipped_when_asked(installed_plugin: str) -> None:
    with pytest.raises(ValidationError, match="entry"):
        TokenGuard("entry://anything", secret_key=KEY, load_entry_points=False)
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False)
    assert guard.plugins.list_plugin_distinfo() == []


def test_builtin_plugins_are_registered_like_any_other() -> None:
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False)
    assert guard.plugins.has_plugin("tokenguard.stores.builtin")
    assert guard.plugins.has_plugin("tokenguard.audit")


def test_lifecycle_events_carry_the_client_address_given_to_the_guard() -> None:
    seen: list[tuple[str, str | None]] = []

    class Recorder:
        @hookimpl
        def tokenguard_token_created(self, info: TokenInfo, remote: str | None) -> None:
            seen.append(("created", remote))

        @hookimpl
        def tokenguard_token_revoked(self, info: TokenInfo, remote: str | None) -> None:
            seen.append(("revoked", remote))

        @hookimpl
        def tokenguard_owner_revoked(self, owner: str, remote: str | None) -> None:
            seen.append(("owner", remote))

    guard = TokenGuard("memory://", secret_key="k" * 32, plugins=[Recorder()], load_entry_points=False)
    issued = guard.create_token("alice", "ci", remote="203.0.113.7")
    guard.revoke(issued.info.id, remote="203.0.113.8")
    guard.revoke_owner("alice")
    assert seen == [("created", "203.0.113.7"), ("revoked", "203.0.113.8"), ("owner", None)]


class FailingAlerts:
    """A plugin whose every event fails (an alerting service that is down)."""

    @hookimpl
    def tokenguard_token_revoked(self, info: TokenInfo, actor: str | None) -> None:
        raise ConnectionError("alerts unreachable")

    @hookimpl
    def tokenguard_token_invalidated(self, token_id: str, digest: str | None) -> None:
        raise ConnectionError("alerts unreachable")


def test_a_failing_plugin_neither_spares_minted_tokens_nor_keeps_a_revoked_one_cached() -> None:
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False, plugins=[FailingAlerts()],
                       max_tokens_per_owner=None)
    parent = guard.create_token("alice", "ci", scopes=["write"])
    child = guard.create_token("alice", "minted", scopes=["read"], parent=parent.info)
    guard.authenticate(parent.token)
    guard.authenticate(child.token)
    with pytest.raises(ConnectionError):  # the plugin's failure is not hidden from the caller
        guard.revoke(parent.info.id)
    assert guard.get_token(parent.info.id).status == "revoked"
    assert guard.get_token(child.info.id).status == "revoked"
    for token in (parent.token, child.token):
        assert guard.authenticate_cached(token) is None  # forgotten: the store's answer is next
        with pytest.raises(RevokedToken):
            guard.authenticate(token)
