"""Every store call has a client-side deadline (SECURITY.md 9 and 23).

A database that accepts connections and never answers (a black hole: a hung
server, a firewall swallowing packets) must cost a request one deadline and a
503, not minutes; the connection it hung on is discarded, and once the database
answers again the same store serves again, without a restart. The black hole is
our TCP proxy (``tests/faults.py``) reading every byte and answering none. The
tests wait on the behaviour (an exception, a status), never on the clock: the
short deadline is set only while the database is a black hole (where it must
pass); a database that answers has a generous one, which a slow machine never
reaches.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine

from _keys import SECRET
from _testclock import ManualClock
from faults import TcpProxy, through
from tokenguard import InvalidToken, StoreUnavailable, TokenGuard, ValidationError, tokens
from tokenguard.stores import SQLAlchemyStore
from tokenguard.stores.sql_deadline import (
    DEFAULT_TIMEOUT,
    WATCHDOG,
    DeadlineExceeded,
    call_deadline,
    current,
)
from tokenguard.stores.sql_migrate import upgrade

#: The deadline while the database is a black hole: short, so that each black-holed call ends soon.
DEADLINE = 0.5
#: The deadline while it answers: never reached, however slow the machine.
GENEROUS = 60.0
PORTS = {"postgresql": 5432, "mysql": 3306}
UNAVAILABLE_BODY_KEYS = {"error", "error_description"}


@pytest.fixture(params=sorted(PORTS))
def server(request: pytest.FixtureRequest) -> tuple[str, int]:
    """A fresh database's URL on the real server, and the server's port."""
    fixture = "postgres_url" if request.param == "postgresql" else "mysql_url"
    return request.getfixturevalue(fixture), PORTS[request.param]


@pytest.fixture
def proxy(server: tuple[str, int]) -> Iterator[TcpProxy]:
    with TcpProxy("127.0.0.1", server[1]) as running:
        yield running


@pytest.fixture
def proxied_url(server: tuple[str, int], proxy: TcpProxy) -> str:
    return through(server[0], proxy, server[1])


@pytest.fixture
def stores() -> Iterator[Callable[..., SQLAlchemyStore]]:
    made: list[SQLAlchemyStore] = []

    def make(url: Any, **options: Any) -> SQLAlchemyStore:
        store = SQLAlchemyStore(url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def make_guard(store: SQLAlchemyStore | str, **options: Any) -> TokenGuard:
    return TokenGuard(store, secret_key=SECRET, load_entry_points=False, **options)


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@contextmanager
def black_hole(proxy: TcpProxy, store: SQLAlchemyStore) -> Iterator[None]:
    """The database stops answering, and the store's deadline is short meanwhile."""
    store.timeout = DEADLINE
    proxy.black_hole()
    try:
        yield
    finally:
        proxy.forward()
        store.timeout = GENEROUS


# -- a server that turns into a black hole after start-up -------------------------------


def test_a_cold_look_up_fails_at_the_deadline_and_its_connection_is_discarded(
    proxied_url: str, proxy: TcpProxy, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(proxied_url, timeout=GENEROUS)
    guard = make_guard(store)
    warm = guard.create_token("alice", "warm")
    cold = guard.create_token("alice", "cold")
    assert guard.authenticate(warm.token).id == warm.info.id  # the thread's connection is kept
    opened = proxy.accepted
    with black_hole(proxy, store):
        with pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
            guard.authenticate(cold.token)
        # the look-up gave up at the deadline: no second connection tried past it
        assert proxy.accepted == opened
    # The hung connection is gone: the next look-up opens a new one, and succeeds.
    assert guard.authenticate(cold.token).id == cold.info.id
    assert proxy.accepted == opened + 1


def test_a_look_up_through_the_pool_fails_at_the_deadline_too(
    proxied_url: str, proxy: TcpProxy, stores: Callable[..., SQLAlchemyStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reader's one slot is kept by another live thread: this thread's look-up takes the pool."""
    store = stores(proxied_url, timeout=GENEROUS, reader_connections=1)
    guard = make_guard(store)
    pooled: list[str] = []
    through_the_pool = store._reader._fallback  # type: ignore[union-attr]
    monkeypatch.setattr(store._reader, "_fallback",
                        lambda digest: pooled.append(digest) or through_the_pool(digest))
    warm = guard.create_token("alice", "warm")
    cold = guard.create_token("alice", "cold")
    holding, release = threading.Event(), threading.Event()

    def hold_the_slot() -> None:
        guard.authenticate(warm.token)
        holding.set()
        release.wait()

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    try:
        assert holding.wait(30)
        with black_hole(proxy, store), pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
            guard.authenticate(cold.token)
        assert len(pooled) == 1
        assert guard.authenticate(cold.token).id == cold.info.id
        assert len(pooled) == 2
    finally:
        release.set()
        holder.join()


def test_calls_through_the_pool_fail_at_the_deadline_and_recover(
    proxied_url: str, proxy: TcpProxy, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(proxied_url, timeout=GENEROUS)
    guard = make_guard(store)
    issued = guard.create_token("alice", "ci")
    assert [t.id for t in guard.list_tokens("alice")] == [issued.info.id]  # a pooled connection
    with black_hole(proxy, store):
        calls: dict[str, Callable[[], object]] = {
            "list": lambda: guard.list_tokens("alice"),
            "get": lambda: guard.get_token(issued.info.id),
            "create": lambda: guard.create_token("alice", "during the black hole"),
            "revoke": lambda: guard.revoke(issued.info.id),
            "touch": lambda: store.touch(issued.info.id, guard.clock()),
        }
        for name, call in calls.items():
            with pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
                call()
                pytest.fail(f"{name} returned with the database a black hole")
    assert [t.name for t in guard.list_tokens("alice")] == ["ci"]
    assert guard.get_token(issued.info.id).status == "active"
    assert guard.create_token("alice", "after").info.name == "after"


def test_a_last_use_write_that_hangs_never_fails_the_request(
    proxied_url: str, proxy: TcpProxy, stores: Callable[..., SQLAlchemyStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    store = stores(proxied_url, timeout=GENEROUS)
    guard = make_guard(store, clock=clock, cache_ttl=3600)  # the token stays warm meanwhile
    issued = guard.create_token("alice", "ci")
    assert guard.authenticate(issued.token).last_used_at == clock.now
    clock.advance(seconds=61)  # a last-use write is due again
    with black_hole(proxy, store), caplog.at_level(logging.WARNING, logger="tokenguard"):
        assert guard.authenticate(issued.token).id == issued.info.id
    assert any("could not record last use" in r.getMessage() for r in caplog.records)
    clock.advance(seconds=61)
    guard.authenticate(issued.token)
    assert store.get(issued.info.id).info.last_used_at == clock.now  # type: ignore[union-attr]


# -- real requests: 503 with the RFC 6750 body ------------------------------------------


def flask_client(guard: TokenGuard) -> Callable[[str], tuple[int, Any]]:
    from flask import Flask

    from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

    app = Flask("tokenguard_deadline_app")
    app.config.update(SECRET_KEY="session-key-for-tests", TESTING=True)
    FlaskTokenGuard(app, guard)

    @app.get("/notes")
    @require_scope("read")
    def notes() -> dict[str, Any]:
        return {"owner": current_token.owner}

    client = app.test_client()

    def get(token: str) -> tuple[int, Any]:
        response = client.get("/notes", headers={"Authorization": f"Bearer {token}"})
        return response.status_code, response.get_json()

    return get


def starlette_client(guard: TokenGuard) -> Callable[[str], tuple[int, Any]]:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from tokenguard_asgi import TokenGuardMiddleware, require_scope

    @require_scope("read")
    async def notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner})

    app = Starlette(routes=[Route("/notes", notes)],
                    middleware=[Middleware(TokenGuardMiddleware, guard=guard)])
    client = TestClient(app)

    def get(token: str) -> tuple[int, Any]:
        response = client.get("/notes", headers={"Authorization": f"Bearer {token}"})
        return response.status_code, response.json()

    return get


@pytest.mark.parametrize("client_for", [flask_client, starlette_client], ids=["flask", "starlette"])
def test_a_request_gets_503_with_the_rfc6750_body_then_succeeds_again(
    proxied_url: str, proxy: TcpProxy, stores: Callable[..., SQLAlchemyStore],
    client_for: Callable[[TokenGuard], Callable[[str], tuple[int, Any]]],
) -> None:
    store = stores(proxied_url, timeout=GENEROUS)
    guard = make_guard(store)
    warm = guard.create_token("alice", "warm", scopes=["read"])
    cold = guard.create_token("alice", "cold", scopes=["read"])
    get = client_for(guard)
    assert get(warm.token) == (200, {"owner": "alice"})
    with black_hole(proxy, store):
        status, body = get(cold.token)
        assert status == 503
        assert set(body) == UNAVAILABLE_BODY_KEYS
        assert body["error"] == "temporarily_unavailable"
        assert cold.token not in str(body)
    assert get(cold.token) == (200, {"owner": "alice"})


# -- a black hole from the start ---------------------------------------------------------


@pytest.mark.parametrize("migrate", [True, False], ids=["schema-check", "look-up"])
def test_connecting_to_a_black_hole_fails_at_the_deadline(
    server: tuple[str, int], proxied_url: str, proxy: TcpProxy,
    stores: Callable[..., SQLAlchemyStore], migrate: bool,
) -> None:
    if not migrate:
        upgrade(server[0])  # the schema exists: the first call is the look-up's own connect
    store = stores(proxied_url, timeout=GENEROUS, migrate=migrate)
    guard = make_guard(store)
    unknown = tokens.generate(guard.prefix)
    with black_hole(proxy, store), pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
        guard.authenticate(unknown)
    # (whether the connect reached the proxy before the deadline depends on the machine's speed:
    # the refusal at the deadline is the behaviour, and it holds either way)
    with pytest.raises(InvalidToken):
        guard.authenticate(unknown)  # answered by the database this time
    issued = guard.create_token("alice", "after")
    assert guard.authenticate(issued.token).id == issued.info.id


# -- how the deadline is given -------------------------------------------------------------


def test_the_url_can_carry_the_deadline(proxied_url: str, proxy: TcpProxy) -> None:
    guard = make_guard(with_query(proxied_url, f"tokenguard_timeout={DEADLINE}"))
    try:
        store = guard.store
        assert isinstance(store, SQLAlchemyStore)
        assert store.timeout == DEADLINE
        assert "tokenguard_timeout" not in str(store.engine.url)  # never given to the driver
        assert store._reader is not None and store._reader.timeout == DEADLINE  # the look-up's
        with proxy.black_holed(), pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
            guard.authenticate(tokens.generate(guard.prefix))  # connect, schema check: in the dark
    finally:
        guard.close()


def test_a_shared_engine_has_the_deadline_on_its_queries(
    proxied_url: str, proxy: TcpProxy,
) -> None:
    engine = create_engine(proxied_url)  # the app's own: no pre-ping, default pool
    store = SQLAlchemyStore(engine, timeout=GENEROUS)
    guard = make_guard(store)
    try:
        warm = guard.create_token("alice", "warm")
        cold = guard.create_token("alice", "cold")
        guard.authenticate(warm.token)
        with black_hole(proxy, store):
            with pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
                guard.authenticate(cold.token)
            with pytest.raises(StoreUnavailable, match="DeadlineExceeded"):
                guard.list_tokens("alice")
        assert guard.authenticate(cold.token).id == cold.info.id
        assert len(guard.list_tokens("alice")) == 2
    finally:
        store.close()
    assert not engine.pool.dispatch.checkout  # a closed store leaves no hook on the app's engine
    engine.dispose()


def test_the_default_deadline_and_a_new_one(stores: Callable[..., SQLAlchemyStore]) -> None:
    for url in ("postgresql+psycopg://u@127.0.0.1:1/db", "mysql+pymysql://u@127.0.0.1:1/db"):
        store = stores(url)  # built, never connected
        assert store.timeout == DEFAULT_TIMEOUT == 5.0
        store.timeout = 2.5
        assert store.timeout == 2.5
        assert store._reader is not None and store._reader.timeout == 2.5
        with pytest.raises(ValidationError):
            store.timeout = 0
        assert store.timeout == 2.5


def test_sqlite_accepts_the_option_and_is_unaffected(
    sqlite_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    for store in (stores(sqlite_url, timeout=DEADLINE), stores("sqlite://", timeout=DEADLINE),
                  stores(with_query(sqlite_url, "tokenguard_timeout=2"))):
        assert store.timeout is None  # no server to wait for
        store.timeout = 2
        assert store.timeout is None
        guard = make_guard(store)
        issued = guard.create_token("alice", "ci")
        assert guard.authenticate(issued.token).id == issued.info.id
        assert issued.info.id in {token.id for token in guard.list_tokens("alice")}


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, True, "5", 86401])
def test_a_bad_timeout_is_refused_at_construction(sqlite_url: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        SQLAlchemyStore(sqlite_url, timeout=value)
    assert caught.value.field == "timeout"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf"])
def test_a_bad_timeout_in_the_url_is_refused(sqlite_url: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SQLAlchemyStore(with_query(sqlite_url, f"tokenguard_timeout={value}"))
    assert caught.value.field == "tokenguard_timeout"


def test_the_timeout_is_given_once(sqlite_url: str) -> None:
    with pytest.raises(ValidationError, match="once"):
        SQLAlchemyStore(with_query(sqlite_url, "tokenguard_timeout=1"), timeout=2)
    with pytest.raises(ValidationError, match="once"):
        SQLAlchemyStore(with_query(sqlite_url, "tokenguard_timeout=1&tokenguard_timeout=2"))


# -- the watchdog itself (no server) ---------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(60)  # a guard against a hang if the watchdog never fires, not a measure
    yield a, b
    a.close()
    b.close()


def test_a_deadline_that_passes_shuts_the_waiting_socket_down(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = pair
    deadline = WATCHDOG.arm(0.05, a)
    assert a.recv(1) == b""  # woken by the shutdown, with nothing received
    assert WATCHDOG.disarm(deadline) is True


def test_a_call_that_ends_in_time_leaves_its_socket_alone(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    for _ in range(1000):
        deadline = WATCHDOG.arm(60, a)
        assert WATCHDOG.disarm(deadline) is False
    assert deadline not in deadline.queue  # ended calls are not kept
    b.sendall(b"x")
    assert a.recv(1) == b"x"


def test_calls_inside_a_call_share_its_deadline_and_one_past_it_is_refused(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = pair
    assert current() is None
    with pytest.raises(DeadlineExceeded), call_deadline(0.05) as outer:
        assert outer is not None
        with call_deadline(60) as inner:
            assert inner is outer and current() is outer
        try:
            WATCHDOG.watch(outer, "key", a, owned=False)
        except DeadlineExceeded:
            pass  # passed already
        else:
            assert a.recv(1) == b""  # returns once the deadline shut it down
        with pytest.raises(DeadlineExceeded):
            WATCHDOG.watch(outer, "another", a, owned=False)  # no new work past the deadline
    assert current() is None
