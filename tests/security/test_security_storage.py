"""Items 4, 5 and 6 in the real tables: only an HMAC is stored, and the key stays outside."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from _security_helpers import SECRET, backend_url
from sqlalchemy import create_engine, text

from tokenguard import InvalidToken, TokenGuard

OTHER_KEY = "another-secret-key-0123456789-abcdefghijklmnop"


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def url(request: pytest.FixtureRequest) -> str:
    return backend_url(request, request.param)


@pytest.fixture
def guard(url: str) -> Iterator[TokenGuard]:
    made = TokenGuard(url, secret_key=SECRET, load_entry_points=False)
    yield made
    made.close()


def all_cells(url: str) -> list[tuple[str, dict[str, Any]]]:
    """Every row of every tokenguard table, read directly."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in engine.dialect.get_table_names(conn) if n.startswith("tokenguard_")]
            return [(name, dict(row._mapping)) for name in names
                    for row in conn.execute(text(f"SELECT * FROM {name}"))]
    finally:
        engine.dispose()


def test_the_table_holds_no_secret_only_its_hmac(guard: TokenGuard, url: str) -> None:
    issued = guard.create_token("alice", "ci", token_id="ci")
    rotated = guard.rotate("ci")
    guard.authenticate(rotated.token)
    rows = all_cells(url)
    dump = repr(rows)
    for secret in (issued.token, rotated.token):
        assert secret[3:] not in dump and secret[3:-4] not in dump
    row = next(cells for table, cells in rows if table == "tokenguard_tokens")
    expected = hmac.new(SECRET.encode(), rotated.token.encode(), hashlib.sha256).hexdigest()
    assert row["digest"] == expected
    assert row["id"] == "ci" and row["hint"] == rotated.info.hint == f"tg_…{rotated.token[-4:]}"


def test_a_stolen_table_is_useless_without_the_key(guard: TokenGuard, url: str) -> None:
    issued = guard.create_token("alice", "ci")
    thief = TokenGuard(url, secret_key=OTHER_KEY, load_entry_points=False)
    try:
        with pytest.raises(InvalidToken):
            thief.authenticate(issued.token)   # the right token, the wrong key: no match
        row = next(c for t, c in all_cells(url) if t == "tokenguard_tokens")
        unkeyed = hashlib.sha256(issued.token.encode()).hexdigest()
        assert row["digest"] != unkeyed   # a plain hash of a guess would not find it either
    finally:
        thief.close()


def test_the_documented_key_rotation_procedure(url: str) -> None:
    """SECURITY.md: new key first, old kept; old tokens verify; rotate; then drop the old key."""
    old_key, new_key = SECRET, OTHER_KEY
    before = TokenGuard(url, secret_key=[old_key], load_entry_points=False, cache_ttl=None)
    legacy = before.create_token("alice", "made under the old key", token_id="legacy")
    before.close()
    both = TokenGuard(url, secret_key=[new_key, old_key], load_entry_points=False, cache_ttl=None)
    fresh = both.create_token("alice", "made under the new key")
    assert both.authenticate(legacy.token).id == "legacy"
    assert both.authenticate(fresh.token).id == fresh.info.id
    moved = both.rotate("legacy")
    both.close()
    after = TokenGuard(url, secret_key=[new_key], load_entry_points=False, cache_ttl=None)
    try:
        assert after.authenticate(moved.token).id == "legacy"
        assert after.authenticate(fresh.token).id == fresh.info.id
        with pytest.raises(InvalidToken):
            after.authenticate(legacy.token)
    finally:
        after.close()
