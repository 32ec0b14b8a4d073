"""Engines for the SQLAlchemy store, and what its database errors mean."""

from __future__ import annotations

import importlib.util
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.pool import Pool, SingletonThreadPool, StaticPool

from tokenguard.errors import ValidationError

#: Seconds a SQLite writer waits for another one (SQLite's busy timeout).
SQLITE_BUSY_TIMEOUT = 30.0
#: Seconds to wait for a database server to accept a connection.
CONNECT_TIMEOUT = 10
#: Seconds a server may leave a read or write unanswered before the request gets a 503
#: (a partitioned network or a frozen server drops nothing, it just never answers).
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


def make_engine(url: str | URL, overrides: dict[str, Any], *, bounded_io: bool = True) -> Engine:
    """An engine with safe defaults: pre-ping, bounded waits, parameters kept out of errors.

    ``bounded_io=False`` lifts the read and write timeout (a schema migration may run long).
    """
    parsed = normalise_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    connect_args: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite" and is_memory_sqlite(parsed):
        # One in-memory database shared by every thread (the store serialises access).
        options["poolclass"] = StaticPool
        connect_args["check_same_thread"] = False
    elif backend == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT
    elif backend == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
        # libpq: a request the network never acknowledges fails, and so does a silent peer
        connect_args.update(tcp_user_timeout=IO_TIMEOUT * 1000, keepalives=1, keepalives_idle=10,
                            keepalives_interval=5, keepalives_count=4)
    elif backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
        if bounded_io:
            connect_args.update(read_timeout=IO_TIMEOUT, write_timeout=IO_TIMEOUT)
    connect_args.update(overrides.pop("connect_args", {}))
    options.update(overrides)
    engine = create_engine(parsed, connect_args=connect_args, **options)
    _own_engines.add(engine)
    return engine


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
