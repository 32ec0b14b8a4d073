"""Bring a database's tokenguard schema up to date with the migrations shipped in the package.

No ``alembic.ini`` is needed: the configuration is built here. Concurrent
first use by several processes is serialised by a database lock (a
PostgreSQL advisory lock, a MariaDB named lock, an immediate SQLite
transaction), so the second process finds the schema done and does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from tokenguard.errors import StoreUnavailable
from tokenguard.stores.sql_engine import describe, make_engine, sqlite_immediate
from tokenguard.stores.sql_schema import VERSION_TABLE

SCRIPT_LOCATION = "tokenguard.stores:migrations"
#: Any constant unique to tokenguard: the key of its PostgreSQL advisory lock.
PG_LOCK_KEY = 0x746F6B656E6775  # "tokengu"
MYSQL_LOCK_TIMEOUT_SECONDS = 60

_head_lock = threading.Lock()
_head: str | None = None


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing into the package, no ini file involved."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped (read once per process)."""
    global _head
    with _head_lock:
        if _head is None:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert head is not None, "the package ships no migrations"
            _head = head
        return _head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(url_or_engine: str | URL | Engine) -> None:
    """Apply every pending migration; a no-op when the schema is already at head.

    Raises ``StoreUnavailable`` when the database cannot be reached.
    """
    if isinstance(url_or_engine, Engine):
        engine = url_or_engine
    else:
        engine = make_engine(url_or_engine, {"poolclass": NullPool}, bounded_io=False)
    try:
        upgrade_with(engine)
    except (DBAPIError, PoolTimeout) as exc:
        raise StoreUnavailable(describe(exc)) from None
    finally:
        if engine is not url_or_engine:
            engine.dispose()


def _known(revision: str) -> bool:
    """True when this package ships ``revision`` (a newer tokenguard may have made another)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for an unknown id
        return False


def schema_is_current(engine: Engine) -> bool:
    """True when the database's tokenguard schema is at this release's head (one short read)."""
    with engine.connect() as connection:
        return current_revision(connection) == head_revision()


def upgrade_with(engine: Engine) -> None:
    with engine.connect() as connection:
        current = current_revision(connection)
        connection.rollback()
        if current == head_revision():
            return
    if current is not None and not _known(current):
        # rolled back, or an old and a new release side by side during a deploy: this release
        # cannot read what the newer one made, and must not touch it
        raise StoreUnavailable(
            f"the tokenguard schema is at revision {current!r}, newer than this tokenguard "
            f"knows (its newest is {head_revision()!r}): run the tokenguard that made it")
    with _migration_lock(engine) as connection:
        # Another process may have finished while this one waited for the lock.
        if current_revision(connection) != head_revision():
            command.upgrade(alembic_config(connection), "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database-wide migration lock."""
    with engine.connect() as connection:
        dialect = engine.dialect.name
        if dialect == "sqlite":
            connection.execution_options(isolation_level="AUTOCOMMIT")
            with sqlite_immediate(connection):
                yield connection
        elif dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield connection
            connection.commit()
        elif dialect in ("mysql", "mariadb"):
            with _mysql_named_lock(connection):
                yield connection
                connection.commit()
        else:
            yield connection
            connection.commit()


@contextmanager
def _mysql_named_lock(connection: Connection) -> Iterator[None]:
    # Named locks are server-wide: the database's name keeps databases apart.
    name = "CONCAT('tokenguard_migrate:', DATABASE())"
    got = connection.execute(
        text(f"SELECT GET_LOCK({name}, :timeout)"), {"timeout": MYSQL_LOCK_TIMEOUT_SECONDS}
    ).scalar()
    if got != 1:
        raise StoreUnavailable("timed out waiting for another process to migrate the tokenguard schema")
    try:
        yield
    finally:
        connection.execute(text(f"SELECT RELEASE_LOCK({name})"))
