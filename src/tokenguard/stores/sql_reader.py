"""The hot path of the SQLAlchemy store: one indexed look-up by digest, per request.

SQLAlchemy compiles the ``select`` once; every call then runs the compiled SQL
on a DBAPI connection kept by the calling thread, in autocommit mode (so a
revocation committed anywhere is seen by the very next look-up, even under
MariaDB's REPEATABLE READ). Each kept connection is detached from the
engine's pool, so it never holds one of the pool's slots (the app's, when it
shares its engine); it is closed when its thread ends, when the store closes,
or after any error. A connection found dead (the server restarted) is
replaced once, transparently.
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

RowConverter = Callable[[Sequence[Any]], TokenRecord]


class _Kept:
    """One thread's connection and cursor, and the generation it belongs to."""

    __slots__ = ("__weakref__", "connection", "cursor", "finalizer", "generation")

    def __init__(self, connection: Any, generation: int) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.generation = generation
        self.finalizer = weakref.finalize(self, _close_quietly, connection)


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # closing a connection that is already broken
        connection.close()


class ThreadLocalReader:
    """Runs one compiled single-row ``select`` on per-thread DBAPI connections."""

    def __init__(self, engine: Engine, statement: Select[Any], convert: RowConverter) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._dialect = dialect
        self._sql = str(compiled)
        names = list(compiled.params)
        if len(names) != 1:
            raise ValueError("the reader takes a statement with exactly one parameter")
        self._positional = dialect.positional
        self._param_name = names[0]
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in statement.selected_columns]
        #: (position, converter) of the columns the driver does not return as Python wants them.
        self._conversions = [(index, proc) for index, proc in enumerate(processors) if proc is not None]
        self._convert = convert
        #: Errors raised by the driver itself (not wrapped by SQLAlchemy).
        self.driver_error: type[Exception] = dialect.loaded_dbapi.Error
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generation = 0
        self._all: weakref.WeakSet[_Kept] = weakref.WeakSet()
        _after_fork_in_child.add(self)

    def find(self, value: str) -> TokenRecord | None:
        """The converted row, or ``None``; raises driver or SQLAlchemy errors."""
        params: Any = (value,) if self._positional else {self._param_name: value}
        for attempt in (1, 2):
            kept = self._kept()
            try:
                kept.cursor.execute(self._sql, params)
                row = kept.cursor.fetchone()
            except self.driver_error as exc:
                dead = self._dialect.is_disconnect(cast(Any, exc), kept.connection, kept.cursor)
                self._discard(kept)
                if dead and attempt == 1:
                    continue
                raise
            if row is None:
                return None
            values = list(row)
            for index, convert in self._conversions:
                values[index] = convert(values[index])
            return self._convert(values)
        raise AssertionError("unreachable")  # pragma: no cover

    def _kept(self) -> _Kept:
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None and kept.generation == self._generation:
            return kept
        if kept is not None:  # from before close() or a fork
            self._discard(kept)
        pooled = self._engine.raw_connection()  # may wrap a driver error: DBAPIError
        pooled.detach()
        connection = pooled.dbapi_connection
        try:
            self._dialect.set_isolation_level(connection, "AUTOCOMMIT")  # type: ignore[arg-type]
            kept = _Kept(connection, self._generation)
        except BaseException:
            _close_quietly(connection)
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
