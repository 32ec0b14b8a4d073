"""Engines for the SQLAlchemy store, and what its database errors mean."""

from __future__ import annotations

import importlib.util
import math
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.pool import Pool, SingletonThreadPool, StaticPool

from tokenguard.errors import ValidationError
from tokenguard.stores import sql_deadline

#: Seconds a SQLite writer waits for another one (SQLite's busy timeout).
SQLITE_BUSY_TIMEOUT = 30.0
#: Seconds the drivers wait for a database server to accept a connection: a backstop, as within
#: a store call the wait ends at the call's deadline (and a helper thread gives up by this).
CONNECT_TIMEOUT = 10
#: Seconds the drivers let a read or write go unanswered: a backstop, as a store call's
#: deadline (:mod:`~tokenguard.stores.sql_deadline`) ends the wait sooner.
IO_TIMEOUT = 15
#: PostgreSQL SQLSTATEs and MariaDB error numbers that mean "run the transaction again".
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_RETRY_MYSQL_ERRORS = frozenset({1213})  # ER_LOCK_DEADLOCK
#: Where a bare scheme names a driver that is not installed, the one tokenguard's extras install.
#: Driver errors whose message may quote a value (a digest, an owner): named, not quoted.
_VALUE_QUOTING_ERRORS = frozenset({"IntegrityError", "DataError", "UniqueViolation"})
_FALLBACK_DRIVERS = {"mysql": ("MySQLdb", "pymysql"), "mariadb": ("MySQLdb", "pymysql")}


def normalise_url(url: str | URL) -> URL:
    """A URL SQLAlchemy can load: ``postgres://`` and driverless MariaDB URLs are common."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ValidationError("the store URL is not a valid database URL", field="store") from None
    if parsed.drivername == "postgres" or parsed.drivername.startswith("postgres+"):
        parsed = parsed.set(drivername="postgresql" + parsed.drivername[len("postgres"):])
    fallback = _FALLBACK_DRIVERS.get(parsed.drivername)
    if fallback and importlib.util.find_spec(fallback[0]) is None:
        parsed = parsed.set(drivername=f"{parsed.drivername}+{fallback[1]}")
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or url.query.get("mode") == "memory"
        or database.startswith("file::memory:")
    )


def make_engine(url: str | URL, overrides: dict[str, Any], *, bounded_io: bool = True,
                timeout: float | None = None) -> Engine:
    """An engine with safe defaults: bounded waits, parameters kept out of errors, a pre-ping.

    ``bounded_io=False`` lifts the read and write timeout (a schema migration may run long).
    ``timeout``: the store's deadline (:mod:`~tokenguard.stores.sql_deadline`); the drivers'
    own timeouts, backstops, are never shorter. On PostgreSQL and MariaDB the pool's hooks
    keep the deadline of the store call in progress, and the pre-ping is theirs, within it.
    """
    parsed = normalise_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    connect_args: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    server = backend in ("postgresql", "mysql", "mariadb")
    if backend == "sqlite" and is_memory_sqlite(parsed):
        # One in-memory database shared by every thread (the store serialises access).
        options["poolclass"] = StaticPool
        connect_args["check_same_thread"] = False
    elif backend == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT
    elif backend == "postgresql":
        # a backstop: within a store call, the pool's hooks give up at its deadline
        connect_args["connect_timeout"] = max(CONNECT_TIMEOUT, math.ceil(timeout or 0))
        # libpq: a request the network never acknowledges fails, and so does a silent peer
        connect_args.update(tcp_user_timeout=IO_TIMEOUT * 1000, keepalives=1, keepalives_idle=10,
                            keepalives_interval=5, keepalives_count=4)
    elif backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = max(CONNECT_TIMEOUT, timeout or 0)
        if bounded_io:
            io_timeout = max(IO_TIMEOUT, timeout or 0)
            connect_args.update(read_timeout=io_timeout, write_timeout=io_timeout)
    connect_args.update(overrides.pop("connect_args", {}))
    ping = bool(overrides.pop("pool_pre_ping", True))
    options.update(overrides)
    if server:
        options["pool_pre_ping"] = False  # the hooks ping, within the call's deadline
    else:
        options["pool_pre_ping"] = ping
    engine = create_engine(parsed, connect_args=connect_args, **options)
    if server:
        sql_deadline.install(engine, ping=ping, bounded_connect=True)
    _own_engines.add(engine)
    return engine


def split_timeout(url: str | URL) -> tuple[URL, float | None]:
    """``url`` without its ``tokenguard_timeout`` query parameter, and that parameter's seconds."""
    parsed = normalise_url(url)
    value = parsed.query.get(sql_deadline.URL_OPTION)
    if value is None:
        return parsed, None
    if not isinstance(value, str):  # given twice
        raise ValidationError(f"{sql_deadline.URL_OPTION} is given more than once",
                              field=sql_deadline.URL_OPTION)
    seconds = sql_deadline.checked_timeout(value, sql_deadline.URL_OPTION)
    return parsed.difference_update_query([sql_deadline.URL_OPTION]), seconds


#: Engines tokenguard created: a forked child must not share their pooled connections.
_own_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_pools_after_fork() -> None:
    for engine in list(_own_engines):
        engine.dispose(close=False)  # the parent's connections stay the parent's


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


def rollback_sqlite(connection: Connection) -> None:
    """End an explicit SQLite transaction, unless SQLite already ended it (e.g. on SQLITE_FULL)."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    if dbapi_connection is not None and dbapi_connection.in_transaction:
        connection.exec_driver_sql("ROLLBACK")


@contextmanager
def sqlite_immediate(connection: Connection) -> Iterator[Connection]:
    """An explicit SQLite transaction that holds the write lock from its start.

    pysqlite would begin a deferred transaction, which takes the lock only at
    the first write: two writers could then both read before either writes.
    The connection must already be in autocommit mode (set before any statement).
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        rollback_sqlite(connection)
        raise
    connection.exec_driver_sql("COMMIT")


@contextmanager
def sqlite_busy_timeout(connection: Connection, seconds: float | None) -> Iterator[None]:
    """SQLite waits at most ``seconds`` for a lock on this connection meanwhile (``None``: unchanged)."""
    if seconds is None:
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(previous or 0)}")


def is_single_connection(pool: Pool) -> bool:
    """Pools that hand every thread the same connection (or one per thread)."""
    return isinstance(pool, StaticPool | SingletonThreadPool)


def is_transient(exc: DBAPIError) -> bool:
    """A deadlock or serialisation failure: the transaction can simply be run again."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    args: Any = getattr(orig, "args", None) or (None,)
    return args[0] in _RETRY_MYSQL_ERRORS


def describe(exc: BaseException) -> str:
    """Why the store is unavailable: the driver's first line, unless it may quote values."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    kind = type(orig).__name__
    quotes_values = isinstance(exc, IntegrityError | DataError) or kind in _VALUE_QUOTING_ERRORS
    lines = str(orig).strip().splitlines()
    if lines and not quotes_values:
        return f"token store unavailable: {kind}: {lines[0][:200]}"
    return f"token store unavailable: {kind}"
