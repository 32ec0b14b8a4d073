"""The hot path of the SQLAlchemy store: one indexed look-up by digest, per request.

SQLAlchemy compiles the ``select`` once; every call then runs the compiled SQL
on a DBAPI connection kept by the calling thread, in autocommit mode (so a
revocation committed anywhere is seen by the very next look-up, even under
MariaDB's REPEATABLE READ). Each kept connection is detached from the
engine's pool, so it never holds one of the pool's slots (the app's, when it
shares its engine); it is closed when its thread ends, when the store closes,
or after any error. At most ``max_kept`` threads keep one at a time: any other
thread is served through the pool, so a server with many threads never opens
more connections than the database accepts. A connection found dead (the server restarted) is
replaced once, transparently.

Every look-up has the store's deadline (:mod:`~tokenguard.stores.sql_deadline`): on the
thread's kept connection it is armed on the connection's socket, no thread hop; opening a
connection (or the pool's turn) runs under the call's deadline. A look-up whose deadline
passes raises ``DeadlineExceeded``, and its connection is discarded, not replaced.

On psycopg 3 the statement is prepared on each kept connection and run through
libpq (:class:`PreparedLibpq`), whose sessions are set to UTC so timestamps need
no conversion. The row goes, as the driver returns it, to the converter
(:class:`~tokenguard.stores.sql_rows.RecordBuilder`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Engine, Select

from tokenguard.stores.base import TokenRecord
from tokenguard.stores.sql_deadline import WATCHDOG, Deadline, call_deadline, duplicate_socket

RowConverter = Callable[[Sequence[Any]], TokenRecord]


Fetch = Callable[[str], "Sequence[Any] | None"]


class _Kept:
    """One thread's connection and cursor, the generation it belongs to, and how it runs the query.

    ``sock``: a socket on a duplicate of the connection's descriptor, for its deadlines
    (``None`` when the driver has none, as SQLite).
    """

    __slots__ = ("__weakref__", "connection", "cursor", "fetch", "finalizer", "generation", "sock")

    def __init__(self, connection: Any, generation: int) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.generation = generation
        self.sock = duplicate_socket(connection)
        self.finalizer = weakref.finalize(self, _close_quietly, connection, self.sock)
        self.fetch: Fetch = _not_ready  # replaced once the connection is ready


def _not_ready(value: str) -> Sequence[Any] | None:
    raise RuntimeError("the connection is not ready")  # pragma: no cover (never kept unready)


def _close_quietly(connection: Any, sock: Any = None) -> None:
    with contextlib.suppress(Exception):  # closing a connection that is already broken
        connection.close()
    if sock is not None:
        sock.close()


class ThreadLocalReader:
    """Runs one compiled single-row ``select`` on per-thread DBAPI connections."""

    def __init__(self, engine: Engine, statement: Select[Any], convert: RowConverter, *,
                 max_kept: int, fallback: Callable[[str], TokenRecord | None],
                 timeout: float | None = None) -> None:
        dialect = engine.dialect
        #: Seconds a look-up may wait for the database (``None``: no deadline); the store sets it.
        self.timeout = timeout
        #: At most this many threads keep a connection; the others take ``fallback`` (the
        #: engine's pool, bounded by it), so many threads never exhaust the server's slots.
        self._max_kept = max_kept
        self._fallback = fallback
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._dialect = dialect
        self._sql = str(compiled)
        names = list(compiled.params)
        if len(names) != 1:
            raise ValueError("the reader takes a statement with exactly one parameter")
        self._positional = dialect.positional
        self._param_name = names[0]
        named = f"%({self._param_name})s"
        if not self._positional and dialect.paramstyle == "pyformat" and self._sql.count(named) == 1:
            # psycopg, MySQLdb, PyMySQL: a tuple is cheaper to bind than a dict.
            self._sql, self._positional = self._sql.replace(named, "%s"), True
        #: psycopg 3: the statement, prepared on each connection and run through libpq.
        self._libpq_sql = (self._sql.replace("%s", "$1")
                           if dialect.driver == "psycopg" and self._positional
                           and self._sql.count("%") == 1 and "%s" in self._sql else None)
        #: PostgreSQL: timestamps come back in UTC, as the store returns them (no conversion).
        self._session_sql = ["SET TIME ZONE 'UTC'"] if dialect.name == "postgresql" else []
        #: Turns the driver's row into a record: every conversion is its business.
        self._convert = convert
        #: Errors raised by the driver itself (not wrapped by SQLAlchemy).
        self.driver_error: type[Exception] = dialect.loaded_dbapi.Error
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generation = 0
        self._all: weakref.WeakSet[_Kept] = weakref.WeakSet()
        self._opening = 0
        _after_fork_in_child.add(self)

    def find(self, value: str) -> TokenRecord | None:
        """The converted row, or ``None``; raises driver, SQLAlchemy or deadline errors."""
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is None or kept.generation != self._generation:
            return self._find_on_new_connection(value)
        sock, timeout = kept.sock, self.timeout
        if sock is None or timeout is None:  # no socket to watch (SQLite), or no deadline
            try:
                row = kept.fetch(value)
            except self.driver_error as exc:
                return self._after_failure(kept, exc, value)
            return None if row is None else self._convert(row)
        deadline = WATCHDOG.arm(timeout, sock)
        try:  # the hot path: one query on the thread's connection
            row = kept.fetch(value)
        except BaseException as exc:  # disarmed whatever happened: the socket is used again
            if WATCHDOG.disarm(deadline):
                self._discard(kept)
                raise deadline.exceeded() from None
            if not isinstance(exc, self.driver_error):
                raise
            return self._after_failure(kept, exc, value)
        if WATCHDOG.disarm(deadline):  # answered as the deadline passed: the socket is shut
            self._discard(kept)
            raise deadline.exceeded()
        return None if row is None else self._convert(row)

    def _after_failure(self, kept: _Kept, exc: Exception, value: str) -> TokenRecord | None:
        """A dead connection (the server restarted) is replaced once; any other error propagates."""
        dead = self._dialect.is_disconnect(cast(Any, exc), kept.connection, kept.cursor)
        self._discard(kept)
        if not dead:
            raise exc
        return self._find_on_new_connection(value)

    def _find_on_new_connection(self, value: str) -> TokenRecord | None:
        """Open this thread's connection (or take the pool's turn), within one deadline."""
        with call_deadline(self.timeout) as deadline:
            return self._open_and_find(value, deadline)

    def _open_and_find(self, value: str, deadline: Deadline | None) -> TokenRecord | None:
        with self._lock:  # kept, or being opened by another thread right now
            full = len(self._all) + self._opening >= self._max_kept
            if not full:
                self._opening += 1
        if full:
            return self._fallback(value)  # every slot kept by a live thread: the pool's turn
        try:
            kept = self._kept(deadline)
        finally:
            with self._lock:
                self._opening -= 1
        try:
            row = kept.fetch(value)
        except self.driver_error:
            self._discard(kept)
            raise
        finally:
            if deadline is not None and kept.sock is not None and WATCHDOG.unwatch(deadline, kept):
                self._discard(kept)  # shut down as the deadline passed: never to be used again
        return None if row is None else self._convert(row)

    def _fetcher(self, kept: _Kept) -> Fetch:
        """How ``kept`` runs the query: psycopg 3 under its cursor (libpq), else the DBAPI cursor."""
        if self._libpq_sql is not None:
            return PreparedLibpq(kept.connection, self._libpq_sql).fetch
        execute, fetchone, sql = kept.cursor.execute, kept.cursor.fetchone, self._sql
        if self._positional:
            def fetch(value: str) -> Sequence[Any] | None:
                execute(sql, (value,))
                return fetchone()  # type: ignore[no-any-return]
        else:
            name = self._param_name

            def fetch(value: str) -> Sequence[Any] | None:
                execute(sql, {name: value})
                return fetchone()  # type: ignore[no-any-return]
        return fetch

    def _kept(self, deadline: Deadline | None) -> _Kept:
        """This thread's connection, opened and set up; watched until ``deadline``'s call ends."""
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None and kept.generation == self._generation:
            return kept
        if kept is not None:  # from before close() or a fork
            self._discard(kept)
        pooled = self._engine.raw_connection()  # may wrap a driver error: DBAPIError
        pooled.detach()
        connection = pooled.dbapi_connection
        kept = None
        try:
            kept = _Kept(connection, self._generation)
            if deadline is not None and kept.sock is not None:
                WATCHDOG.watch(deadline, kept, kept.sock, owned=False)
            self._dialect.set_isolation_level(connection, "AUTOCOMMIT")  # type: ignore[arg-type]
            for statement in self._session_sql:
                kept.cursor.execute(statement)
            kept.fetch = self._fetcher(kept)
        except BaseException:
            if kept is None:
                _close_quietly(connection)
            else:
                if deadline is not None:
                    WATCHDOG.unwatch(deadline, kept)
                kept.finalizer()
            raise
        with self._lock:
            self._all.add(kept)
        self._local.kept = kept
        return kept

    def _discard(self, kept: _Kept) -> None:
        if getattr(self._local, "kept", None) is kept:
            del self._local.kept
        kept.finalizer()

    def close(self) -> None:
        """Close every thread's connection; threads open new ones if used again."""
        with self._lock:
            self._generation += 1
            kept_now = list(self._all)
            self._all.clear()
        for kept in kept_now:
            kept.finalizer()

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's connections without closing them."""
        self._lock = threading.Lock()
        self._generation += 1
        self._opening = 0
        for kept in list(self._all):
            kept.finalizer.detach()
        self._all = weakref.WeakSet()


#: Readers alive in this process; a forked child must not use its parent's sockets.
_after_fork_in_child: weakref.WeakSet[ThreadLocalReader] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for reader in list(_after_fork_in_child):
        reader.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_after_fork)


class PreparedLibpq:
    """psycopg 3 under its cursor: the statement prepared once on the connection, run by libpq.

    ``PQexecPrepared`` (the GIL released meanwhile) and psycopg's own row loaders,
    without the cursor's per-call machinery; errors are psycopg's, as its cursor
    would raise them (a lost connection leaves ``connection.broken`` true).
    """

    NAME = b"tokenguard_find_by_digest"

    def __init__(self, connection: Any, sql: str) -> None:
        from psycopg import errors, pq
        from psycopg.adapt import Transformer

        self._pgconn = connection.pgconn
        self._encoding: str = connection.info.encoding
        self._error_from_result = errors.error_from_result
        self._tuples_ok = pq.ExecStatus.TUPLES_OK
        prepared = self._pgconn.prepare(self.NAME, sql.encode(self._encoding), None)
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            raise self._error_from_result(prepared, encoding=self._encoding)
        self._transformer = Transformer(connection)

    def fetch(self, value: str) -> tuple[Any, ...] | None:
        result = self._pgconn.exec_prepared(self.NAME, [value.encode(self._encoding)])
        if result.status != self._tuples_ok:
            raise self._error_from_result(result, encoding=self._encoding)
        if not result.ntuples:
            return None
        transformer = self._transformer
        transformer.set_pgresult(result)
        return transformer.load_row(0, tuple)
