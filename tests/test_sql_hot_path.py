"""The SQLAlchemy store's hot path (``find``): records built once, as the guard presents them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from faults import TcpProxy, through
from tokenguard import TokenGuard
from tokenguard.errors import ExpiredToken, RevokedToken, StoreUnavailable
from tokenguard.stores import sql_rows
from tokenguard.stores.sqlalchemy import SQLAlchemyStore

KEY = "hot-path-secret-key-0123456789abcdefghijkl"
URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mysql_url"}
SCOPES = {"read": [], "write": ["read"], "admin": ["write"]}


@pytest.fixture(params=list(URL_FIXTURES))
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(URL_FIXTURES[request.param]))


def uncached(url: str) -> TokenGuard:
    return TokenGuard(url, secret_key=KEY, load_entry_points=False, cache_ttl=None, scopes=SCOPES)


def test_find_returns_the_effective_scopes_of_the_guards_hierarchy(url: str) -> None:
    guard = uncached(url)
    try:
        issued = guard.create_token("alice", "ci", scopes=["write"], projects=["p1", "p2"])
        found = guard.store.find(guard._hasher.digest(issued.token))
        assert found is not None
        info = found.info
        assert info.scopes == {"write"}
        assert info.effective_scopes == {"write", "read"}
        assert info.projects == {"p1", "p2"}
        assert info == issued.info  # every column read back as written
        for when in (info.created_at, info.expires_at):
            assert when is not None and when.utcoffset() == timedelta(0)
        assert guard.authenticate(issued.token).has_scope("read")
    finally:
        guard.close()


def test_an_unchanged_row_gives_the_same_record_and_any_change_a_new_one(url: str) -> None:
    guard = uncached(url)
    try:
        issued = guard.create_token("alice", "ci", scopes=["read"])
        guard.authenticate(issued.token)  # the first use writes last_used_at
        first = guard.authenticate(issued.token)
        assert guard.authenticate(issued.token) is first  # nothing new to build, nothing rebuilt
        guard.update_token(first.id, projects=["p9"])
        changed = guard.authenticate(issued.token)
        assert changed is not first and changed.projects == {"p9"}
        guard.revoke(first.id)
        with pytest.raises(RevokedToken):
            guard.authenticate(issued.token)
    finally:
        guard.close()


def test_a_row_changed_by_another_process_is_seen_at_once(url: str) -> None:
    guard, other = uncached(url), uncached(url)
    try:
        issued = guard.create_token("alice", "ci", scopes=["read"])
        guard.authenticate(issued.token)
        guard.authenticate(issued.token)
        past = datetime.now(UTC) - timedelta(seconds=1)
        assert other.store.update(issued.info.id, {"expires_at": past}) is not None
        with pytest.raises(ExpiredToken):
            guard.authenticate(issued.token)
    finally:
        guard.close()
        other.close()


def test_a_store_shared_by_guards_with_other_hierarchies_presents_each_ones_scopes(url: str) -> None:
    store = SQLAlchemyStore(url)
    flat = TokenGuard(store, secret_key=KEY, load_entry_points=False, cache_ttl=None,
                      scopes={"read": [], "write": []})
    nested = TokenGuard(store, secret_key=KEY, load_entry_points=False, cache_ttl=None, scopes=SCOPES)
    try:
        issued = nested.create_token("alice", "ci", scopes=["write"])
        for _ in range(2):
            assert nested.authenticate(issued.token).effective_scopes == {"write", "read"}
            assert flat.authenticate(issued.token).effective_scopes == {"write"}
    finally:
        store.close()


def test_remembered_records_are_bounded(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_rows, "MAX_RECENT_ROWS", 3)
    guard = TokenGuard(sqlite_url, secret_key=KEY, load_entry_points=False, cache_ttl=None,
                       max_tokens_per_owner=None)
    try:
        made = [guard.create_token("alice", f"t{i}", scopes=["read"]).token for i in range(6)]
        for token in made * 2:
            assert guard.authenticate(token).owner == "alice"
        store = guard.store
        assert isinstance(store, SQLAlchemyStore)
        assert len(store._builder._recent) == 3
    finally:
        guard.close()


def test_threads_verify_concurrently_while_a_token_is_revoked(url: str) -> None:
    guard = uncached(url)
    try:
        kept = guard.create_token("alice", "kept", scopes=["read"]).token
        doomed = guard.create_token("bob", "doomed", scopes=["read"])
        errors: list[BaseException] = []

        def verify() -> None:
            try:
                for _ in range(50):
                    assert guard.authenticate(kept).owner == "alice"
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=verify) for _ in range(4)]
        for thread in threads:
            thread.start()
        guard.revoke(doomed.info.id)
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        with pytest.raises(RevokedToken):
            guard.authenticate(doomed.token)
    finally:
        guard.close()


SERVER_PORTS = {"postgresql": 5432, "mariadb": 3306}


@pytest.mark.parametrize("backend", list(SERVER_PORTS))
def test_the_kept_connection_is_replaced_after_a_server_restart_and_fails_closed_meanwhile(
    backend: str, request: pytest.FixtureRequest,
) -> None:
    url = str(request.getfixturevalue(URL_FIXTURES[backend]))
    port = SERVER_PORTS[backend]
    with TcpProxy("127.0.0.1", port) as proxy:
        guard = uncached(through(url, proxy, port))
        try:
            issued = guard.create_token("alice", "ci", scopes=["read"])
            for _ in range(3):
                assert guard.authenticate(issued.token).owner == "alice"
            assert proxy.drop_connections() >= 1
            assert guard.authenticate(issued.token).owner == "alice"  # reconnected, transparently
            proxy.cut()
            with pytest.raises(StoreUnavailable):
                guard.authenticate(issued.token)
            proxy.restore()
            assert guard.authenticate(issued.token).owner == "alice"
            guard.revoke(issued.info.id)
            with pytest.raises(RevokedToken):
                guard.authenticate(issued.token)
        finally:
            guard.close()
