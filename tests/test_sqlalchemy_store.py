"""What only the SQLAlchemy store does: fail closed, recover, share an engine, keep connections tidy."""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, event, make_url, select, text
from sqlalchemy.pool import QueuePool

from _lock_waits import call_beside_lock
from faults import TcpProxy, through
from tokenguard import TokenGuard, tokens
from tokenguard.errors import StoreUnavailable, TokenGuardError, TokenIdConflict, ValidationError
from tokenguard.models import TokenInfo
from tokenguard.stores import sql_engine
from tokenguard.stores.base import Store, TokenRecord
from tokenguard.stores.sqlalchemy import SQLAlchemyStore, upgrade

KEY = "sqlalchemy-store-secret-key-0123456789abcdef"
NOW = datetime(2032, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mysql_url"}
SERVER_PORTS = {"postgresql": 5432, "mariadb": 3306}
UNREACHABLE = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:1/test",
    "sqlite": "sqlite:////nonexistent-directory/for/tokens.db",
}


def record(token_id: str, owner: str = "alice", digest_seed: str | None = None,
           **fields: datetime | None) -> TokenRecord:
    info = TokenInfo(id=token_id, owner=owner, name=f"name of {token_id}", scopes=frozenset({"read"}),
                     created_at=NOW, hint="tg_…abcd", **fields)  # type: ignore[arg-type]
    return TokenRecord(info, hashlib.sha256((digest_seed or token_id).encode()).hexdigest())


def make_guard(store: Store | str, limit: int | None = 5) -> TokenGuard:
    """A guard without a verification cache: every authentication reaches the store."""
    return TokenGuard(store, secret_key=KEY, max_tokens_per_owner=limit, load_entry_points=False,
                      cache_ttl=None)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sql_url(sql_backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(URL_FIXTURES[sql_backend]))


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(URL_FIXTURES[request.param]))


@pytest.fixture
def stores() -> Iterator[Callable[..., SQLAlchemyStore]]:
    made: list[SQLAlchemyStore] = []

    def make(*args: object, **kwargs: object) -> SQLAlchemyStore:
        store = SQLAlchemyStore(*args, **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def server_connections(url: str) -> int:
    """How many connections the server holds open to this test's database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as admin:
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                (parsed.database,)).fetchone()
    else:
        import pymysql

        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")
        with admin, admin.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM information_schema.processlist WHERE db = %s",
                           (parsed.database,))
            row = cursor.fetchone()
    assert row is not None
    return int(row[0])


# -- failing closed ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", sorted(UNREACHABLE))
def test_an_unreachable_database_raises_store_unavailable(backend: str) -> None:
    store = SQLAlchemyStore(UNREACHABLE[backend])  # lazy: constructing does not connect
    guard = make_guard(store)
    token = tokens.generate(guard.prefix)
    calls: list[Callable[[], object]] = [
        lambda: guard.authenticate(token), lambda: guard.create_token("alice", "ci"),
        lambda: guard.list_tokens("alice"), lambda: guard.get_token("some-id"),
        lambda: guard.revoke_owner("alice"), lambda: store.touch("some-id", NOW),
    ]
    try:
        for call in calls:
            with pytest.raises(StoreUnavailable) as caught:
                call()
            error = caught.value
            assert type(error) is StoreUnavailable
            assert error.__cause__ is None and error.__suppress_context__
            assert token not in str(error) and token[3:] not in repr(error.args)
            assert error.status_code == 503
    finally:
        store.close()


def test_a_store_without_its_tables_raises_store_unavailable(sql_url: str) -> None:
    store = SQLAlchemyStore(sql_url, migrate=False)
    try:
        with pytest.raises(StoreUnavailable, match="tokenguard_tokens"):
            store.find(hashlib.sha256(b"x").hexdigest())
        with pytest.raises(StoreUnavailable):
            store.insert(record("t1"), limit=5, now=NOW)
    finally:
        store.close()


def test_the_store_serves_again_when_the_database_comes_back(
    server_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    port = make_url(server_url).port
    assert port is not None
    with TcpProxy("127.0.0.1", port) as proxy:
        guard = make_guard(stores(through(server_url, proxy, port)))
        issued = guard.create_token("alice", "before the outage")
        assert guard.authenticate(issued.token).id == issued.info.id

        with proxy.outage():
            with pytest.raises(StoreUnavailable):
                guard.authenticate(issued.token)
            with pytest.raises(StoreUnavailable):
                guard.create_token("alice", "during the outage")
            with pytest.raises(StoreUnavailable):
                guard.list_tokens("alice")

        # Same store, no restart: pre-ping and the reader replace the dead connections.
        assert guard.authenticate(issued.token).id == issued.info.id
        guard.create_token("alice", "after the outage")
        assert len(guard.list_tokens("alice")) == 2

        proxy.drop_connections()  # the server restarted behind a warm pool
        assert guard.authenticate(issued.token).id == issued.info.id
        assert len(guard.list_tokens("alice")) == 2


def test_a_database_that_stops_answering_is_unavailable_not_a_hang(
    mysql_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MariaDB: reads and writes time out (``IO_TIMEOUT``, shortened here), then a 503, then service.

    (PostgreSQL's libpq is given a TCP user timeout and keepalives: a partition that drops
    packets ends the same way, a peer that acknowledges yet never answers is not bounded.)
    """
    monkeypatch.setattr(sql_engine, "IO_TIMEOUT", 2)
    port = make_url(mysql_url).port
    assert port is not None
    with TcpProxy("127.0.0.1", port) as proxy:
        store = SQLAlchemyStore(through(mysql_url, proxy, port))
        guard = make_guard(store)
        issued = guard.create_token("alice", "before")
        assert guard.authenticate(issued.token).id == issued.info.id
        with proxy.frozen():
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                guard.authenticate(issued.token)
            assert time.monotonic() - started < 30
        assert guard.authenticate(issued.token).id == issued.info.id
        store.close()


def test_a_pool_that_stays_exhausted_raises_store_unavailable(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(sql_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    store.insert(record("t1"), limit=None, now=NOW)
    with store.engine.connect():  # the pool's only connection is taken
        with pytest.raises(StoreUnavailable, match="TimeoutError"):
            store.get("t1")
        with pytest.raises(StoreUnavailable):
            store.insert(record("t2"), limit=None, now=NOW)
    assert store.get("t1") is not None


@pytest.mark.parametrize("backend", sorted(UNREACHABLE))
def test_upgrade_of_an_unreachable_database_raises_store_unavailable(backend: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        upgrade(UNREACHABLE[backend])
    assert caught.value.__cause__ is None


def find_repeatedly(store: SQLAlchemyStore, token: TokenRecord, rounds: int) -> bool:
    return all(store.find(token.digest) == token for _ in range(rounds))


def test_a_forked_child_never_shares_the_parents_connections(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(sql_url)
    token = record("forked")
    store.insert(token, limit=None, now=NOW)
    assert find_repeatedly(store, token, 3)  # the parent's kept and pooled connections are warm
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=lambda: results.put(
        find_repeatedly(store, token, 300) and store.get("forked") == token))
    child.start()
    # Both processes query at the same time: a shared socket would garble the protocol.
    parent_ok = find_repeatedly(store, token, 300) and store.get("forked") == token
    child_ok = results.get(timeout=60)
    child.join(timeout=30)
    assert (parent_ok, child_ok, child.exitcode) == (True, True, 0)
    assert find_repeatedly(store, token, 3)


# -- reads see every commit ---------------------------------------------------------------------


def test_a_change_through_one_store_is_seen_at_once_through_another(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    first, second = stores(sql_url), stores(sql_url)
    token = record("shared")
    first.insert(token, limit=None, now=NOW)
    assert second.find(token.digest) == token  # the second store's connection is now warm

    first.update("shared", {"revoked_at": NOW})
    assert second.find(token.digest).info.revoked_at == NOW  # type: ignore[union-attr]
    first.delete("shared")
    assert second.find(token.digest) is None


def test_datetimes_in_another_zone_come_back_as_the_same_instant_in_utc(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(sql_url)
    kolkata = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2032, 2, 3, 9, 35, 6, 789012, tzinfo=kolkata)
    store.insert(record("zoned", expires_at=local), limit=None, now=NOW)
    expires_at = store.get("zoned").info.expires_at  # type: ignore[union-attr]
    assert expires_at == local == NOW
    assert expires_at is not None and expires_at.tzinfo is UTC


def test_a_naive_datetime_is_refused_not_guessed(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(sql_url)
    store.insert(record("aware"), limit=None, now=NOW)
    naive = datetime(2032, 2, 3, 4, 5, 6)
    with pytest.raises(ValidationError):
        store.insert(record("naive", expires_at=naive), limit=None, now=NOW)
    with pytest.raises(ValidationError):
        store.touch("aware", naive)
    assert store.get("naive") is None
    assert store.get("aware").info.last_used_at is None  # type: ignore[union-attr]


@contextmanager
def sqlite_lock_waits(store: SQLAlchemyStore) -> Iterator[list[int]]:
    """Meanwhile, the busy timeout (ms) in effect each time ``store`` asks SQLite for its write lock."""
    waits: list[int] = []

    def seen(conn: object, cursor: Any, statement: str, *args: object) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            waits.append(cursor.connection.execute("PRAGMA busy_timeout").fetchone()[0])

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield waits
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def test_touch_never_waits_for_a_lock_held_elsewhere(
    sql_backend: str, sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    """Not timed: the server says whether touch waited (PostgreSQL, MariaDB), and SQLite
    waits no longer than the busy timeout in effect when touch asks for its lock."""
    store = stores(sql_url)
    store.insert(record("busy"), limit=None, now=NOW)
    holder = create_engine(sql_url)
    with holder.connect() as connection:
        if sql_backend == "sqlite":  # SQLite locks the whole database for a writer
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            with sqlite_lock_waits(store) as waits, pytest.raises(StoreUnavailable):
                store.touch("busy", NOW)  # the guard logs it and carries on
            connection.exec_driver_sql("ROLLBACK")
            assert waits and sum(waits) < 1000  # ms, over all its attempts
        else:
            connection.execute(text("SELECT id FROM tokenguard_tokens WHERE id = 'busy' FOR UPDATE"))
            _, waited = call_beside_lock(connection, lambda: store.touch("busy", NOW))
            assert not waited  # the locked row is skipped
    holder.dispose()
    assert store.get("busy").info.last_used_at is None  # type: ignore[union-attr]
    store.touch("busy", NOW)
    assert store.get("busy").info.last_used_at == NOW  # type: ignore[union-attr]


# -- ids, digests, concurrency -------------------------------------------------------------------


def test_a_digest_collision_is_not_mistaken_for_an_id_conflict(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(sql_url)
    store.insert(record("first", digest_seed="same"), limit=None, now=NOW)
    with pytest.raises(TokenGuardError) as caught:
        store.insert(record("second", digest_seed="same"), limit=None, now=NOW)
    assert not isinstance(caught.value, TokenIdConflict | StoreUnavailable)
    assert store.get("second") is None


def test_the_same_id_raced_by_two_owners_is_won_once(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(sql_url)
    store.list()  # schema ready before the race
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def insert(owner: str) -> None:
        barrier.wait(timeout=30)
        try:
            store.insert(record("contested", owner, digest_seed=owner), limit=5, now=NOW)
            outcomes.append("inserted")
        except TokenIdConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=insert, args=(owner,)) for owner in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "inserted"]
    assert len(store.list()) == 1


def test_finds_from_many_threads_are_correct(sql_url: str, stores: Callable[..., SQLAlchemyStore]) -> None:
    store = stores(sql_url)
    known = [record(f"t{index}") for index in range(20)]
    for item in known:
        store.insert(item, limit=None, now=NOW)
    errors: list[str] = []

    def look_up(offset: int) -> None:
        for round_ in range(100):
            expected = known[(offset + round_) % len(known)]
            if store.find(expected.digest) != expected or store.find("0" * 64) is not None:
                errors.append(f"wrong answer in thread {offset}")
                return

    threads = [threading.Thread(target=look_up, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def finds_held_at_once(store: SQLAlchemyStore, token: TokenRecord, threads: int,
                       server_url: str) -> tuple[list[TokenRecord | None], int]:
    """``threads`` threads find ``token`` and wait together: their answers, and the server's
    connection count while they all still hold whatever they opened."""
    looked_up, release = threading.Barrier(threads + 1), threading.Event()
    answers: list[TokenRecord | None] = []

    def look_up() -> None:
        answers.append(store.find(token.digest))
        looked_up.wait(timeout=30)
        release.wait(timeout=30)

    running = [threading.Thread(target=look_up) for _ in range(threads)]
    for thread in running:
        thread.start()
    looked_up.wait(timeout=30)
    during = server_connections(server_url)
    release.set()
    for thread in running:
        thread.join(timeout=30)
    return answers, during


def test_kept_connections_are_per_thread_and_closed_when_threads_end(
    server_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    store = stores(server_url)
    token = record("t")
    store.insert(token, limit=None, now=NOW)
    idle = server_connections(server_url)
    answers, during = finds_held_at_once(store, token, 6, server_url)
    assert answers == [token] * 6
    gc.collect()
    # One connection per looking-up thread (the first one may take the pool's idle
    # connection out of the pool rather than open another), each closed with its thread.
    assert idle + 5 <= during <= idle + 6
    assert server_connections(server_url) == during - 6


def test_at_most_reader_connections_threads_keep_one_and_the_rest_use_the_pool(
    server_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    """Forty threads at once: all answered, and no more connections than 4 kept plus the pool."""
    store = stores(server_url, reader_connections=4, pool_size=2, max_overflow=2)
    token = record("t")
    store.insert(token, limit=None, now=NOW)
    idle = server_connections(server_url)
    answers, during = finds_held_at_once(store, token, 40, server_url)
    assert answers == [token] * 40
    assert during <= idle + 4 + 4  # the kept ones, and the pool's at most (2 + 2 overflow)
    with pytest.raises(ValidationError, match="reader_connections"):
        SQLAlchemyStore(server_url, reader_connections=0)


# -- engines ---------------------------------------------------------------------------------------


def test_a_shared_engine_is_used_and_left_open(sql_url: str) -> None:
    engine = create_engine(sql_url, poolclass=QueuePool)
    store = SQLAlchemyStore(engine)
    store.insert(record("shared-engine"), limit=None, now=NOW)
    assert store.find(record("shared-engine").digest) is not None
    pool = engine.pool
    store.close()
    assert engine.pool is pool and pool.checkedin() >= 1  # not disposed
    with engine.connect() as connection:
        assert connection.execute(select(1)).scalar_one() == 1
    with pytest.raises(TypeError):
        SQLAlchemyStore(engine, pool_size=3)
    engine.dispose()


def test_close_releases_every_connection_of_an_own_engine(server_url: str) -> None:
    store = SQLAlchemyStore(server_url)
    store.insert(record("own-engine"), limit=None, now=NOW)
    assert store.find(record("own-engine").digest) is not None
    store.insert(record("own-engine-2"), limit=None, now=NOW)  # the pool opens another
    assert server_connections(server_url) == 2  # the pool's and this thread's kept one
    store.close()
    # the client side closes at once; the server's backend may take a moment to leave its view
    deadline = time.monotonic() + 5
    while server_connections(server_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_connections(server_url) == 0


def test_an_in_memory_sqlite_database_is_shared_by_threads() -> None:
    guard = make_guard(SQLAlchemyStore("sqlite://"))
    issued = guard.create_token("alice", "in memory")
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(guard.authenticate(issued.token).id))
    thread.start()
    thread.join(timeout=30)
    assert seen == [issued.info.id]
    guard.close()


def test_urls_the_builtin_plugin_hands_over(tmp_path: object, postgres_url: str, mysql_url: str) -> None:
    # postgres:// (Heroku style) and mysql:// without a driver name both work.
    legacy_pg = postgres_url.replace("postgresql+psycopg://", "postgres://")
    bare_mysql = mysql_url.replace("mysql+pymysql://", "mysql://")
    for url in (legacy_pg, bare_mysql, f"sqlite:///{tmp_path}/plugin.db"):
        guard = make_guard(url)
        try:
            assert isinstance(guard.store, SQLAlchemyStore)
            issued = guard.create_token("alice", "through the plugin")
            assert guard.authenticate(issued.token).id == issued.info.id
        finally:
            guard.close()


def test_the_url_password_never_shows() -> None:
    store = SQLAlchemyStore("postgresql+psycopg://user:hunter2-secret@127.0.0.1:1/x")
    try:
        assert "hunter2-secret" not in repr(store)
        with pytest.raises(StoreUnavailable) as caught:
            store.get("x")
        assert "hunter2-secret" not in str(caught.value)
    finally:
        store.close()


def test_it_is_a_store(sql_url: str, stores: Callable[..., SQLAlchemyStore]) -> None:
    assert isinstance(stores(sql_url), Store)


def test_a_schema_made_by_a_newer_tokenguard_is_unavailable_not_a_crash(
    sql_url: str, stores: Callable[..., SQLAlchemyStore],
) -> None:
    """A rollback, or two releases side by side in a deploy: a clear 503, and nothing touched."""
    from sqlalchemy import create_engine, text

    issued = make_guard(stores(sql_url)).create_token("alice", "before")
    engine = create_engine(sql_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE tokenguard_alembic_version SET version_num = '9999'"))
    guard = make_guard(stores(sql_url))
    with pytest.raises(StoreUnavailable, match="revision '9999', newer than this tokenguard knows"):
        guard.authenticate(issued.token)
    with pytest.raises(StoreUnavailable, match="newer than this tokenguard knows"):
        upgrade(sql_url)
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM tokenguard_alembic_version"))
        assert version.scalar() == "9999"
    engine.dispose()
