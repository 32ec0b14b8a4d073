"""Items 9 and 23 at the core: PostgreSQL made unreachable mid-run, through a TCP proxy we cut.

While it is gone every call raises ``StoreUnavailable`` (never ``InvalidToken``:
the adapters answer 503, not 401); when it is back, the same guard works again
without a restart; nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from _security_helpers import SECRET
from sqlalchemy import event

from _testclock import ManualClock
from faults import TcpProxy, through
from tokenguard import RevokedToken, StoreUnavailable, TokenGuard, TokenNotFound
from tokenguard._clock import utcnow

PG_PORT = 5432
#: The verification cache may answer for a token it verified at most this long ago.
CACHE_TTL = 0.5


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", PG_PORT) as running:
        yield running


@pytest.fixture
def guard(postgres_url: str, proxy: TcpProxy) -> Iterator[TokenGuard]:
    made = TokenGuard(through(postgres_url, proxy, PG_PORT), secret_key=SECRET,
                      load_entry_points=False, cache_ttl=CACHE_TTL, clock=ManualClock(utcnow()))
    yield made
    made.close()


def direct_rows(postgres_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the table behind the guard's back, on a direct connection."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def unavailable(call: Callable[[], object], name: str = "") -> None:
    """The call fails closed. How soon is the store's deadline's business (tests/test_store_deadline.py)."""
    with pytest.raises(StoreUnavailable):
        result = call()
        pytest.fail(f"{name or 'the call'} returned {result!r} with the store unreachable")


def test_outage_fails_closed_and_recovers_without_a_restart(guard: TokenGuard, proxy: TcpProxy) -> None:
    issued = guard.create_token("alice", "ci")
    unseen = guard.create_token("alice", "never used yet")
    assert guard.authenticate(issued.token).owner == "alice"
    clock = guard.clock
    assert isinstance(clock, ManualClock)  # the cache's age is read on it: moved by hand, no sleep
    assert guard.authenticate(issued.token).owner == "alice"  # cached at the clock's reading
    proxy.cut()
    unavailable(lambda: guard.authenticate(unseen.token), "a token the cache has not seen")
    assert guard.authenticate(issued.token).owner == "alice"  # within the TTL: the cache answers
    # The cache answers for a verified token no longer than its TTL, then fails closed too.
    clock.advance(seconds=CACHE_TTL)
    calls: dict[str, Callable[[], object]] = {
        "authenticate": lambda: guard.authenticate(issued.token),
        "create": lambda: guard.create_token("alice", "during outage"),
        "list": lambda: guard.list_tokens("alice"),
        "get": lambda: guard.get_token(issued.info.id),
        "revoke": lambda: guard.revoke(issued.info.id),
        "rotate": lambda: guard.rotate(issued.info.id),
        "revoke_owner": lambda: guard.revoke_owner("alice"),
        "revoke_by_value": lambda: guard.revoke_by_value(issued.token),
        "introspect": lambda: guard.introspect(issued.token),
    }
    for name, call in calls.items():
        unavailable(call, name)
    proxy.restore()
    # the very first request after the database is back succeeds, on the same guard
    assert guard.authenticate(issued.token).owner == "alice"
    assert guard.authenticate(unseen.token).owner == "alice"
    assert sorted(t.name for t in guard.list_tokens("alice")) == ["ci", "never used yet"]
    assert guard.get_token(issued.info.id).status == "active"


def test_stale_pooled_connections_after_a_server_restart_are_replaced(
    guard: TokenGuard, proxy: TcpProxy,
) -> None:
    issued = guard.create_token("alice", "ci")
    guard.list_tokens("alice")
    assert guard.authenticate(issued.token).owner == "alice"
    assert proxy.drop_connections() >= 1
    assert guard.authenticate(issued.token).owner == "alice"
    assert guard.create_token("alice", "after restart").info.owner == "alice"
    assert guard.revoke(issued.info.id).status == "revoked"


def test_a_create_that_failed_is_not_in_the_table(
    guard: TokenGuard, proxy: TcpProxy, postgres_url: str,
) -> None:
    guard.create_token("alice", "warm-up")            # schema and pool ready
    with proxy.outage():
        unavailable(lambda: guard.create_token("alice", "refused", token_id="never-connected"))

    # Cut mid-transaction: the INSERT ran, the COMMIT never arrives.
    def cut_after_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO TOKENGUARD_TOKENS"):
            proxy.cut()

    engine = guard.store.engine  # type: ignore[attr-defined]
    event.listen(engine, "after_cursor_execute", cut_after_insert)
    try:
        unavailable(lambda: guard.create_token("alice", "half", token_id="half-written"))
    finally:
        event.remove(engine, "after_cursor_execute", cut_after_insert)
        proxy.restore()
    for token_id in ("never-connected", "half-written"):
        with pytest.raises(TokenNotFound):
            guard.get_token(token_id)
        assert direct_rows(postgres_url, "SELECT id FROM tokenguard_tokens WHERE id = %s", token_id) == []
    assert [t.name for t in guard.list_tokens("alice")] == ["warm-up"]
    assert guard.create_token("alice", "retried", token_id="half-written").info.id == "half-written"


def test_a_revoke_that_returned_is_durable(guard: TokenGuard, proxy: TcpProxy, postgres_url: str) -> None:
    issued = guard.create_token("alice", "ci")
    guard.revoke(issued.info.id)
    proxy.cut()                                     # every connection of this guard dies now
    rows = direct_rows(postgres_url, "SELECT revoked_at FROM tokenguard_tokens WHERE id = %s",
                       issued.info.id)
    assert rows and rows[0][0] is not None
    proxy.restore()
    fresh = TokenGuard(postgres_url, secret_key=SECRET, load_entry_points=False)
    try:
        assert fresh.get_token(issued.info.id).status == "revoked"
        assert fresh.introspect(issued.token) is not None
        with pytest.raises(RevokedToken):
            fresh.authenticate(issued.token)
    finally:
        fresh.close()


def test_a_revoke_that_failed_changed_nothing_and_can_be_retried(
    guard: TokenGuard, proxy: TcpProxy,
) -> None:
    issued = guard.create_token("alice", "ci")
    with proxy.outage():
        unavailable(lambda: guard.revoke(issued.info.id))
    assert guard.get_token(issued.info.id).status == "active"
    assert guard.revoke(issued.info.id).status == "revoked"


def test_outage_errors_say_unavailable_and_carry_no_secret(guard: TokenGuard, proxy: TcpProxy) -> None:
    issued = guard.create_token("alice", "ci")
    with proxy.outage(), pytest.raises(StoreUnavailable) as caught:
        guard.authenticate(issued.token)
    message = str(caught.value)
    assert "unavailable" in message
    assert issued.token[3:] not in message and SECRET not in message
    assert caught.value.status_code == 503
