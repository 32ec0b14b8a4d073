"""The SQLAlchemy store: tokens in SQLite, PostgreSQL or MariaDB, in ``tokenguard_*`` tables.

* ``find`` (every authenticated request) runs one compiled ``select`` on a
  connection kept per thread: see :mod:`tokenguard.stores.sql_reader`.
* ``insert`` keeps the per-owner limit under concurrency: on PostgreSQL and
  MariaDB a lock row per owner (``tokenguard_owners``, ``SELECT … FOR UPDATE``)
  queues creators of the same owner; on SQLite every write is an immediate
  transaction (``BEGIN IMMEDIATE``), so writers queue on the database lock.
* Every call has a client-side deadline (``timeout``, 5 s by default; the URL's
  ``tokenguard_timeout`` parameter sets it too): a database that accepts connections
  but never answers gets a 503 once it passes, and the connection is discarded
  (:mod:`tokenguard.stores.sql_deadline`).
* Every database failure is raised as :class:`~tokenguard.errors.StoreUnavailable`.
* The schema is brought up to date (Alembic) on first use unless ``migrate=False``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, delete, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tokenguard.errors import (
    OwnerInactive,
    StoreUnavailable,
    TokenGuardError,
    TokenIdConflict,
    TokenLimitExceeded,
    ValidationError,
)
from tokenguard.models import OwnerState
from tokenguard.stores import sql_deadline, sql_rows
from tokenguard.stores.base import TokenChanges, TokenRecord
from tokenguard.stores.sql_deadline import DeadlineExceeded, call_deadline, checked_timeout
from tokenguard.stores.sql_engine import (
    describe,
    is_single_connection,
    is_transient,
    make_engine,
    split_timeout,
    sqlite_busy_timeout,
    sqlite_immediate,
)
from tokenguard.stores.sql_migrate import schema_is_current, upgrade, upgrade_with
from tokenguard.stores.sql_reader import ThreadLocalReader
from tokenguard.stores.sql_schema import owners_table, reminders_table, tokens_table

__all__ = ["SQLAlchemyStore", "upgrade"]

T = TypeVar("T")
#: Attempts of a write transaction that hit a deadlock or serialisation failure.
WRITE_ATTEMPTS = 5
#: Seconds a ``touch`` waits for SQLite's write lock before giving up (it is bookkeeping).
TOUCH_BUSY_TIMEOUT = 0.2
#: ``revoke_owner`` updates ids in batches of this many (bound-parameter limits).
ID_BATCH = 500
_tokens = tokens_table.c
_owners = owners_table.c
_reminders = reminders_table.c


class SQLAlchemyStore:
    """Token records in SQL through SQLAlchemy 2: a URL, or an ``Engine`` the app shares.

    ``timeout``: seconds any store call may wait for the database (5 by default), after
    which it raises ``StoreUnavailable`` and the connection is discarded; a URL may carry
    it instead, as ``?tokenguard_timeout=2`` (not both). On SQLite it changes nothing (no
    server to wait for). With an ``Engine`` the app shares, connecting and its pre-ping
    (if any) stay as the app configured them; the queries have the deadline.
    ``engine_kwargs`` go to :func:`sqlalchemy.create_engine` when the store builds
    the engine from a URL; ``close()`` disposes only an engine built that way.
    ``reader_connections``: how many threads at most keep a connection of their own
    for the verification look-up (the others use the engine's pool).
    """

    def __init__(self, url_or_engine: str | URL | Engine, *, timeout: float | None = None,
                 migrate: bool = True, reader_connections: int = 8, **engine_kwargs: Any) -> None:
        given = None if timeout is None else checked_timeout(timeout)
        if isinstance(url_or_engine, Engine):
            if engine_kwargs:
                raise TypeError("engine options apply only when the store is given a URL")
            self.engine, self._owns_engine = url_or_engine, False
            self._unhook = sql_deadline.install(self.engine, ping=False, bounded_connect=False)
        else:
            url, in_url = split_timeout(url_or_engine)
            if given is not None and in_url is not None:
                raise ValidationError(f"give the timeout once: as timeout= or as the URL's "
                                      f"{sql_deadline.URL_OPTION}", field="timeout")
            given = given if in_url is None else in_url
            seconds = sql_deadline.DEFAULT_TIMEOUT if given is None else given
            self.engine = make_engine(url, engine_kwargs, timeout=seconds)
            self._owns_engine, self._unhook = True, _nothing
        self._dialect = self.engine.dialect.name
        self._timeout = None if self._dialect == "sqlite" else (
            sql_deadline.DEFAULT_TIMEOUT if given is None else given)
        self._schema_ready = not migrate
        self._schema_lock = threading.Lock()
        # One shared connection (in-memory SQLite): every operation takes turns.
        single = is_single_connection(self.engine.pool)
        self._serial: AbstractContextManager[Any] = threading.RLock() if single else nullcontext()
        self._builder = sql_rows.RecordBuilder(self.engine.dialect)
        if isinstance(reader_connections, bool) or not isinstance(reader_connections, int) \
                or reader_connections < 1:
            raise ValidationError("reader_connections must be a positive int", field="reader_connections")
        self._reader = None if single else ThreadLocalReader(
            self.engine, sql_rows.FIND_BY_DIGEST, self._builder.record, max_kept=reader_connections,
            fallback=lambda digest: self._select_one(sql_rows.FIND_BY_DIGEST, {"digest": digest}),
            timeout=self._timeout)
        driver_error = self.engine.dialect.loaded_dbapi.Error
        self._failures: tuple[type[BaseException], ...] = (
            DBAPIError, PoolTimeout, DeadlineExceeded, driver_error)

    @property
    def timeout(self) -> float | None:
        """Seconds a call may wait for the database (``None`` on SQLite: no server to wait for).

        It may be changed at any time (a positive number); calls in progress keep theirs.
        """
        return self._timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        checked = checked_timeout(seconds)
        self._timeout = None if self._dialect == "sqlite" else checked
        if self._reader is not None:
            self._reader.timeout = self._timeout

    def __repr__(self) -> str:
        return f"SQLAlchemyStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def expand_scopes_with(self, expand: sql_rows.Expander) -> None:
        """``find`` returns records whose ``effective_scopes`` are ``expand(scopes)``.

        The guard passes its hierarchy's (memoised) ``expand``: the records of the hot
        path then need no second ``TokenInfo`` to be presented.
        """
        self._builder.expand_scopes_with(expand)

    # -- reads ------------------------------------------------------------------------

    def find(self, digest: str) -> TokenRecord | None:
        """By digest on the hot path; not found, by the old secret of a rotation's grace period."""
        try:
            if not self._schema_ready:
                self._ensure_schema()
            if self._reader is not None:
                found = self._reader.find(digest)  # keeps the deadline itself
                if found is not None:
                    return found
                with call_deadline(self.timeout):
                    return self._select_one(sql_rows.FIND_BY_PREVIOUS, {"digest": digest})
            with call_deadline(self.timeout):
                found = self._select_one(sql_rows.FIND_BY_DIGEST, {"digest": digest})
                if found is None:
                    found = self._select_one(sql_rows.FIND_BY_PREVIOUS, {"digest": digest})
                return found
        except self._failures as exc:
            raise StoreUnavailable(describe(exc)) from None

    def get(self, token_id: str) -> TokenRecord | None:
        with self._unavailable_on_failure():
            return self._select_one(sql_rows.GET_BY_ID, {"id": token_id})

    def list(self, owner: str | None = None) -> Sequence[TokenRecord]:
        statement = sql_rows.select_records().order_by(_tokens.created_at, _tokens.id)
        if owner is not None:
            statement = statement.where(_tokens.owner == owner)
        return self._select_all(statement)

    def expiring(self, now: datetime, until: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        return self._select_all(sql_rows.expiring(now, until, owner))

    def unused(self, now: datetime, before: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        return self._select_all(sql_rows.unused(now, before, owner))

    def get_owner(self, owner: str) -> OwnerState | None:
        statement = select(_owners.owner, _owners.active, _owners.deactivated_at,
                           _owners.deactivated_by).where(_owners.owner == owner)
        with self._unavailable_on_failure(), self._reading() as connection:
            row = connection.execute(statement).first()
        return None if row is None else OwnerState(row[0], bool(row[1]), row[2], row[3])

    def _select_all(self, statement: Any) -> Sequence[TokenRecord]:
        with self._unavailable_on_failure(), self._reading() as connection:
            rows = connection.execute(statement).all()
        return [sql_rows.record_from_row(row) for row in rows]

    def _select_one(self, statement: Any, params: dict[str, str]) -> TokenRecord | None:
        with self._reading() as connection:
            row = connection.execute(statement, params).first()
        return None if row is None else sql_rows.record_from_row(row)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if not self._schema_ready:
            self._ensure_schema()
        with self._serial, self._connect() as connection:
            yield connection

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection from the pool; discarded, not returned, if the call's deadline passed."""
        with self.engine.connect() as connection:
            try:
                yield connection
            finally:
                deadline = sql_deadline.current()
                if deadline is not None and deadline.fired:
                    connection.invalidate()  # its socket is shut down

    # -- writes -----------------------------------------------------------------------

    def insert(self, record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        info = record.info

        def work(connection: Connection) -> None:
            if not self._lock_owner(connection, info.owner, create=True):
                raise OwnerInactive(info.owner)
            if limit is not None:
                # a taken id is a conflict, full or not, as in every store (the settings
                # page tells a form sent again by its id)
                if connection.execute(sql_rows.GET_BY_ID, {"id": info.id}).first() is not None:
                    raise TokenIdConflict(info.id)
                live = connection.execute(sql_rows.count_live(info.owner, now)).scalar_one()
                if live >= limit:
                    raise TokenLimitExceeded(info.owner, limit)
            connection.execute(insert(tokens_table).values(sql_rows.row_values(record)))

        with self._unavailable_on_failure():
            try:
                self._write(work)
            except IntegrityError:
                self._raise_conflict(record)

    def _raise_conflict(self, record: TokenRecord) -> None:
        """The id is taken (``TokenIdConflict``), or, against all odds, the digest is."""
        if self._select_one(sql_rows.GET_BY_ID, {"id": record.info.id}) is not None:
            raise TokenIdConflict(record.info.id) from None
        raise TokenGuardError("a token with the same digest already exists") from None

    def update(self, token_id: str, changes: TokenChanges) -> TokenRecord | None:
        values = sql_rows.change_values(changes)

        def work(connection: Connection) -> TokenRecord | None:
            if values:
                connection.execute(update(tokens_table).where(_tokens.id == token_id).values(values))
            row = connection.execute(sql_rows.GET_BY_ID, {"id": token_id}).first()
            return None if row is None else sql_rows.record_from_row(row)

        with self._unavailable_on_failure():
            return self._write(work)

    def delete(self, token_id: str) -> TokenRecord | None:
        def work(connection: Connection) -> TokenRecord | None:
            row = connection.execute(sql_rows.GET_BY_ID.with_for_update(), {"id": token_id}).first()
            if row is None:
                return None
            connection.execute(delete(tokens_table).where(_tokens.id == token_id))
            connection.execute(delete(reminders_table).where(_reminders.token_id == token_id))
            return sql_rows.record_from_row(row)

        with self._unavailable_on_failure():
            return self._write(work)

    def revoke_owner(self, owner: str, at: datetime) -> Sequence[str]:
        def work(connection: Connection) -> Sequence[str]:
            # The owner's lock row keeps creators of this owner out meanwhile.
            self._lock_owner(connection, owner, create=False)
            return self._revoke_tokens_of(connection, owner, at)

        with self._unavailable_on_failure():
            return self._write(work)

    def _revoke_tokens_of(self, connection: Connection, owner: str, at: datetime) -> Sequence[str]:
        unrevoked = select(_tokens.id).where(_tokens.owner == owner, _tokens.revoked_at.is_(None))
        ids = list(connection.execute(unrevoked.with_for_update()).scalars())
        for start in range(0, len(ids), ID_BATCH):
            batch = ids[start:start + ID_BATCH]
            connection.execute(update(tokens_table).where(_tokens.id.in_(batch)).values(revoked_at=at))
        return ids

    def deactivate_owner(self, owner: str, at: datetime, actor: str | None) -> Sequence[str]:
        """In one transaction on the owner's lock row: creators of the owner wait, then find them inactive."""
        def work(connection: Connection) -> Sequence[str]:
            self._lock_owner(connection, owner, create=True)
            connection.execute(update(owners_table).where(_owners.owner == owner, _owners.active.is_(True))
                               .values(active=False, deactivated_at=at, deactivated_by=actor))
            return self._revoke_tokens_of(connection, owner, at)

        with self._unavailable_on_failure():
            return self._write(work)

    def reactivate_owner(self, owner: str) -> bool:
        def work(connection: Connection) -> bool:
            lifted = connection.execute(
                update(owners_table).where(_owners.owner == owner, _owners.active.is_(False))
                .values(active=True, deactivated_at=None, deactivated_by=None))
            return bool(lifted.rowcount)

        with self._unavailable_on_failure():
            return self._write(work)

    def claim_reminder(self, token_id: str, threshold: int, expires_at: datetime) -> bool:
        """The reminder's row, locked: absent, the claim is an insert (one that conflicts is
        another caller's); made for an earlier expiry, it is claimed again by an update."""
        key = (_reminders.token_id == token_id, _reminders.threshold == threshold)

        def work(connection: Connection) -> bool:
            reading = select(_reminders.expires_at).where(*key)
            if self._dialect != "sqlite":
                reading = reading.with_for_update()
            sent_for = connection.execute(reading).scalar()
            if sent_for is None:
                values = {"token_id": token_id, "threshold": threshold, "expires_at": expires_at}
                return self._insert_unless_present(connection, reminders_table, values)
            if sent_for == expires_at:
                return False
            connection.execute(update(reminders_table).where(*key).values(expires_at=expires_at))
            return True

        with self._unavailable_on_failure():
            return self._write(work)

    def touch(self, token_id: str, at: datetime, *, ip: str | None = None,
              agent: str | None = None) -> None:
        """Bookkeeping on the request path: skipped, never waited for, when the row is locked."""
        skip_locked = self._supports_skip_locked()

        def work(connection: Connection) -> None:
            if skip_locked:
                row = select(_tokens.id).where(_tokens.id == token_id)
                if connection.execute(row.with_for_update(skip_locked=True)).first() is None:
                    return  # unknown, or locked by a writer: the next use records it
            connection.execute(update(tokens_table).where(_tokens.id == token_id)
                               .values(last_used_at=at, last_used_ip=ip, last_used_agent=agent))

        with self._unavailable_on_failure():
            self._write(work, busy_timeout=TOUCH_BUSY_TIMEOUT)

    def _supports_skip_locked(self) -> bool:
        version = self.engine.dialect.server_version_info or ()
        if self._dialect == "postgresql":
            return True
        if self._dialect in ("mysql", "mariadb"):
            is_mariadb = getattr(self.engine.dialect, "is_mariadb", False)
            return tuple(version) >= ((10, 6) if is_mariadb else (8, 0))
        return False

    def _lock_owner(self, connection: Connection, owner: str, *, create: bool) -> bool:
        """Hold the owner's lock row until commit (SQLite: the immediate transaction does);
        whether the owner is active (no row: active)."""
        if create:
            self._create_owner_row(connection, owner)
        reading = select(_owners.active).where(_owners.owner == owner)
        if self._dialect != "sqlite":
            reading = reading.with_for_update()
        active = connection.execute(reading).scalar()
        return active is None or bool(active)

    def _create_owner_row(self, connection: Connection, owner: str) -> None:
        """Insert the owner's lock row unless it exists; a concurrent insert is no error."""
        values = {"owner": owner}
        if self._dialect in ("mysql", "mariadb"):  # locked at once, as FOR UPDATE locks it next
            statement = mysql.insert(owners_table).values(values)
            connection.execute(statement.on_duplicate_key_update(owner=statement.inserted.owner))
        else:
            self._insert_unless_present(connection, owners_table, values)

    def _insert_unless_present(self, connection: Connection, table: Any, values: dict[str, Any]) -> bool:
        """Insert the row unless its key exists (a concurrent insert included); ``True`` if inserted."""
        key = next(iter(table.primary_key))
        if self._dialect in ("postgresql", "sqlite"):  # their drivers' row counts say -1 here
            dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            statement = dialect_insert(table).values(values).on_conflict_do_nothing().returning(key)
            return connection.execute(statement).first() is not None
        if self._dialect in ("mysql", "mariadb"):
            ignoring = mysql.insert(table).values(values).prefix_with("IGNORE")
            return connection.execute(ignoring).rowcount == 1
        try:
            with connection.begin_nested():
                connection.execute(insert(table).values(values))
        except IntegrityError:
            return False
        return True

    # -- transactions, schema, errors ---------------------------------------------------

    def _write(self, work: Callable[[Connection], T], *, busy_timeout: float | None = None) -> T:
        """Run ``work`` in a write transaction, again if the database picked it as a deadlock victim.

        ``busy_timeout`` (SQLite): seconds to wait for the database's write lock, if not the default.
        """
        if not self._schema_ready:
            self._ensure_schema()
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._serial, self._transaction(busy_timeout) as connection:
                    return work(connection)
            except DBAPIError as exc:
                if attempt == WRITE_ATTEMPTS or not is_transient(exc):
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _transaction(self, busy_timeout: float | None = None) -> Iterator[Connection]:
        with self._connect() as connection:
            if self._dialect == "sqlite":
                # Autocommit first: the busy-timeout PRAGMA must not open a transaction.
                connection.execution_options(isolation_level="AUTOCOMMIT")
                with sqlite_busy_timeout(connection, busy_timeout), sqlite_immediate(connection):
                    yield connection
                return
            if self._dialect in ("mysql", "mariadb"):
                # Each statement sees the latest commits (no stale snapshot, no gap locks).
                connection.execution_options(isolation_level="READ COMMITTED")
            with connection.begin():
                yield connection

    def _ensure_schema(self) -> None:
        """Check the schema within the deadline; migrating it (rare, maybe long) has none."""
        with self._schema_lock, self._serial:
            if not self._schema_ready:
                with call_deadline(self.timeout):
                    current = schema_is_current(self.engine)
                if not current:
                    upgrade_with(self.engine)
                self._schema_ready = True

    @contextmanager
    def _unavailable_on_failure(self) -> Iterator[None]:
        """The call's deadline, and its failures raised as ``StoreUnavailable``."""
        try:
            if not self._schema_ready:
                self._ensure_schema()
            with call_deadline(self.timeout):
                yield
        except self._failures as exc:
            raise StoreUnavailable(describe(exc)) from None
        except StatementError as exc:  # a bound value refused by a column type
            if isinstance(exc.orig, TokenGuardError):
                raise exc.orig from None
            raise

    def close(self) -> None:
        """Close the kept connections; dispose of the engine if the store created it."""
        if self._reader is not None:
            self._reader.close()
        if self._owns_engine:
            self.engine.dispose()
        else:
            self._unhook()  # the app's engine keeps no hook of a closed store


def _nothing() -> None:
    pass
