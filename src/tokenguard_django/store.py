"""``DjangoStore``: the Store protocol on the project's own database, through Django's ORM.

* Rows live in ``tokenguard_token`` (see :mod:`tokenguard_django.models`) on one
  alias of ``DATABASES`` (``TOKENGUARD["database"]``, default ``"default"``).
* ``insert`` keeps the per-owner limit under concurrency: on PostgreSQL and
  MariaDB/MySQL creators of one owner queue on the owner's row of
  ``tokenguard_owner`` (``SELECT … FOR UPDATE``); on SQLite every write
  transaction starts with a write, so writers queue on the database's lock
  instead of failing at once when a reader would have to become a writer.
* Writes run in ``transaction.atomic``: inside a project's own transaction they
  are a savepoint of it, and commit or roll back with it.
* Every database failure is raised as :class:`~tokenguard.errors.StoreUnavailable`
  (the adapters answer 503), and a broken connection is dropped, so the next call
  reconnects once the database is back.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from tokenguard import errors, models
from tokenguard.errors import StoreUnavailable, TokenGuardError, TokenIdConflict, TokenLimitExceeded
from tokenguard.stores.base import TokenChanges, TokenRecord
from tokenguard_django.models import Owner, Reminder, Token
from tokenguard_django.rows import COLUMNS, change_values, record_from_row, row_values

__all__ = ["DjangoStore"]

T = TypeVar("T")
#: Attempts of a write transaction the database picked as a deadlock victim (outermost only).
WRITE_ATTEMPTS = 5
#: ``revoke_owner`` updates ids in batches of this many (bound-parameter limits).
ID_BATCH = 500
#: PostgreSQL: serialization failure, deadlock; MariaDB/MySQL: lock wait timeout, deadlock.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
_TRANSIENT_MYSQL_CODES = frozenset({1205, 1213})


class DjangoStore:
    """Token records in the project's database (``using``: an alias of ``DATABASES``)."""

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._by_digest = _CompiledRead(using, "digest")
        self._by_previous_digest = _CompiledRead(using, "previous_digest")

    def __repr__(self) -> str:
        return f"DjangoStore(using={self.using!r})"

    @property
    def _tokens(self) -> Any:
        return Token.objects.using(self.using)

    # -- reads ----------------------------------------------------------------------------

    def find(self, digest: str) -> TokenRecord | None:
        """By the digest, then by the digest a rotation with a grace period replaced.

        The read of every verification the cache cannot answer: both queries are
        compiled once (:class:`_CompiledRead`) rather than built by the ORM per call.
        """
        with self._failures():
            found = self._by_digest.one(digest)
            return found if found is not None else self._by_previous_digest.one(digest)

    def get(self, token_id: str) -> TokenRecord | None:
        return self._one(self._tokens.filter(pk=token_id))

    def list(self, owner: str | None = None) -> Sequence[TokenRecord]:
        rows = self._tokens.order_by("created_at", "id")
        if owner is not None:
            rows = rows.filter(owner=owner)
        with self._failures():
            return [record_from_row(row) for row in rows.values_list(*COLUMNS)]

    def _one(self, rows: Any) -> TokenRecord | None:
        with self._failures():
            found = list(rows.values_list(*COLUMNS)[:1])
        return record_from_row(found[0]) if found else None

    # -- writes ---------------------------------------------------------------------------

    def insert(self, record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        info = record.info

        def work() -> None:
            self._lock_owner(info.owner, create=True)
            if self._owners.filter(owner=info.owner, active=False).exists():
                raise _owner_inactive(info.owner)  # atomic with deactivate_owner: the same row lock
            if limit is not None:
                # a taken id is a conflict, full or not, as in every store
                if self._tokens.filter(pk=info.id).exists():
                    raise TokenIdConflict(info.id)
                unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
                if self._tokens.filter(unexpired, owner=info.owner).count() >= limit:
                    raise TokenLimitExceeded(info.owner, limit)
            try:
                with transaction.atomic(using=self.using):  # a savepoint: a conflict spoils nothing
                    self._tokens.create(**row_values(record))
            except IntegrityError:
                if self._tokens.filter(pk=info.id).exists():
                    raise TokenIdConflict(info.id) from None
                raise TokenGuardError("a token with the same digest already exists") from None

        self._write(work)

    def update(self, token_id: str, changes: TokenChanges) -> TokenRecord | None:
        values = change_values(changes)

        def work() -> TokenRecord | None:
            if values:
                self._tokens.filter(pk=token_id).update(**values)
            return self.get(token_id)

        return self._write(work)

    def delete(self, token_id: str) -> TokenRecord | None:
        def work() -> TokenRecord | None:
            found = self._one(self._tokens.select_for_update().filter(pk=token_id))
            if found is not None:
                self._tokens.filter(pk=token_id).delete()
                Reminder.objects.using(self.using).filter(token_id=token_id).delete()
            return found

        return self._write(work)

    def revoke_owner(self, owner: str, at: datetime) -> Sequence[str]:
        def work() -> builtins.list[str]:
            # The owner's lock row keeps creators of this owner out meanwhile.
            self._lock_owner(owner, create=False)
            return self._revoke_unrevoked(owner, at)

        return self._write(work)

    def _revoke_unrevoked(self, owner: str, at: datetime) -> builtins.list[str]:
        unrevoked = self._tokens.select_for_update().filter(owner=owner, revoked_at__isnull=True)
        ids = [str(token_id) for token_id in unrevoked.values_list("id", flat=True)]
        for start in range(0, len(ids), ID_BATCH):
            self._tokens.filter(pk__in=ids[start:start + ID_BATCH]).update(revoked_at=at)
        return ids

    def touch(self, token_id: str, at: datetime, *, ip: str | None = None,
              agent: str | None = None) -> None:
        """Bookkeeping on the request path: skipped, never waited for, when the row is locked."""
        skip_locked = connections[self.using].features.has_select_for_update_skip_locked

        def work() -> None:
            rows = self._tokens.filter(pk=token_id)
            if skip_locked and not rows.select_for_update(skip_locked=True).values_list("id").exists():
                return  # unknown, or locked by a writer: the next use records it
            rows.update(last_used_at=at, last_used_ip=ip, last_used_agent=agent)

        self._write(work)

    # -- owners -----------------------------------------------------------------------------

    @property
    def _owners(self) -> Any:
        return Owner.objects.using(self.using)

    def get_owner(self, owner: str) -> Any:
        """The owner's ``OwnerState``, or ``None`` when nothing is recorded of them (active)."""
        with self._failures():
            found = list(self._owners.filter(owner=owner).values_list(
                "owner", "active", "deactivated_at", "deactivated_by")[:1])
        owner_state = getattr(models, "OwnerState")  # noqa: B009 - Round 2's core
        return owner_state(*found[0]) if found else None

    def deactivate_owner(self, owner: str, at: datetime, actor: str | None) -> Sequence[str]:
        """Mark ``owner`` inactive (the first deactivation's time and actor stay) and revoke every
        unrevoked token of theirs, in one transaction under the owner's row lock."""
        def work() -> builtins.list[str]:
            self._lock_owner(owner, create=True)
            self._owners.filter(owner=owner, active=True).update(
                active=False, deactivated_at=at, deactivated_by=actor)
            return self._revoke_unrevoked(owner, at)

        return self._write(work)

    def reactivate_owner(self, owner: str) -> bool:
        def work() -> bool:
            self._lock_owner(owner, create=False)
            changed: int = self._owners.filter(owner=owner, active=False).update(
                active=True, deactivated_at=None, deactivated_by=None)
            return changed > 0

        return self._write(work)

    # -- expiry and stale tokens -------------------------------------------------------------

    def expiring(self, now: datetime, until: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        rows = self._tokens.filter(revoked_at__isnull=True, expires_at__gt=now, expires_at__lte=until)
        return self._records(rows, owner, "expires_at", "id")

    def unused(self, now: datetime, before: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        seen = Q(last_used_at__lt=before) | Q(last_used_at__isnull=True, created_at__lt=before)
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        rows = self._tokens.filter(seen, unexpired, revoked_at__isnull=True).alias(
            last_seen=Coalesce(F("last_used_at"), F("created_at")))
        return self._records(rows, owner, "last_seen", "id")

    def _records(self, rows: Any, owner: str | None, *order: str) -> builtins.list[TokenRecord]:
        if owner is not None:
            rows = rows.filter(owner=owner)
        with self._failures():
            return [record_from_row(row) for row in rows.order_by(*order).values_list(*COLUMNS)]

    def claim_reminder(self, token_id: str, threshold: int, expires_at: datetime) -> bool:
        """One caller per token, threshold and expiry: the row is locked, or its insert conflicts."""
        reminders = Reminder.objects.using(self.using)

        def work() -> bool:
            mine = reminders.select_for_update().filter(token_id=token_id, threshold=threshold)
            sent = list(mine.values_list("expires_at", flat=True)[:1])
            if sent:
                return sent[0] != expires_at and mine.exclude(expires_at=expires_at).update(
                    expires_at=expires_at) > 0
            try:
                with transaction.atomic(using=self.using):
                    reminders.create(token_id=token_id, threshold=threshold, expires_at=expires_at)
            except IntegrityError:
                return False  # another process claimed it first
            return True

        return self._write(work)

    def close(self) -> None:
        """Nothing to release: Django owns the connections."""

    # -- locks, transactions, errors ----------------------------------------------------------

    def _lock_owner(self, owner: str, *, create: bool) -> None:
        """Hold the owner's lock row until the transaction ends (SQLite: the write lock does)."""
        connection = connections[self.using]
        if create:
            self._create_owner_row(owner)
        if connection.vendor != "sqlite":
            locking = self._owners.select_for_update().filter(owner=owner)
            list(locking.values_list("owner", flat=True))

    def _create_owner_row(self, owner: str) -> None:
        """Insert the owner's lock row unless it exists; a concurrent insert is no error."""
        connection = connections[self.using]
        if connection.vendor == "mysql":
            # An exclusive lock on an existing row at once: INSERT IGNORE would take a shared
            # one, and two creators upgrading theirs to FOR UPDATE would deadlock.
            table = connection.ops.quote_name(Owner._meta.db_table)
            column = connection.ops.quote_name("owner")
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {table} ({column}) VALUES (%s) "  # noqa: S608 - names quoted
                               f"ON DUPLICATE KEY UPDATE {column} = {column}", [owner])
        elif connection.features.supports_ignore_conflicts:
            self._owners.bulk_create([Owner(owner=owner)], ignore_conflicts=True)
        else:
            try:
                with transaction.atomic(using=self.using):
                    self._owners.create(owner=owner)
            except IntegrityError:
                pass

    def _write(self, work: Callable[[], T]) -> T:
        """Run ``work`` in a transaction; again if it was a deadlock victim and nothing encloses it."""
        connection = connections[self.using]
        attempts = 1 if connection.in_atomic_block else WRITE_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                with self._failures(), transaction.atomic(using=self.using):
                    if connection.vendor == "sqlite":
                        _claim_sqlite_write_lock(connection)
                    return work()
            except StoreUnavailable as exc:
                if attempt == attempts or not _is_transient(exc.__cause__):
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except DatabaseError as exc:
            connection = connections[self.using]
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()  # reconnect on the next call
            raise StoreUnavailable(_describe(exc)) from exc


class _CompiledRead:
    """``Token.objects.using(alias).filter(<column>=value).values_list(*COLUMNS)[:1]``, compiled once.

    Django builds and compiles a queryset's SQL each time it is evaluated, most of the
    time so small a query takes. This keeps the SQL and the column converters Django's
    own compiler made for the alias (at first use, when the connection's features are
    known) and runs them with the one value: the same query, the same values.
    """

    __slots__ = ("_compiled", "column", "using")

    def __init__(self, using: str, column: str) -> None:
        self.using = using
        self.column = column
        self._compiled: tuple[Any, str, Any] | None = None

    def one(self, value: str) -> TokenRecord | None:
        compiler, sql, converters = self._compiled or self._compile()
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, (value,))
            row = cursor.fetchone()
        if row is None:
            return None
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        return record_from_row(row)

    def _compile(self) -> tuple[Any, str, Any]:
        rows = Token.objects.using(self.using).filter(**{self.column: _PARAMETER}).values_list(*COLUMNS)[:1]
        compiler = rows.query.get_compiler(using=self.using)
        sql, params = compiler.as_sql()
        if list(params) != [_PARAMETER]:  # pragma: no cover - Django puts the slice in the SQL
            raise RuntimeError(f"expected one parameter in {sql!r}, got {params!r}")
        converters = compiler.get_converters([column for column, *_ in compiler.select[:compiler.col_count]])
        self._compiled = (compiler, sql, converters)
        return self._compiled


#: the value a read is compiled with, found again among the compiled query's parameters
_PARAMETER = "tokenguard:compiled-parameter"


def _owner_inactive(owner: str) -> TokenGuardError:
    """``OwnerInactive`` (Round 2's core); a plain refusal with a core that predates it."""
    inactive: type[TokenGuardError] | None = getattr(errors, "OwnerInactive", None)
    if inactive is None:  # pragma: no cover - no core without deactivate_owner deactivates
        return TokenGuardError("the owner is deactivated")
    return inactive(owner)


def _claim_sqlite_write_lock(connection: Any) -> None:
    """Make the transaction a writer first, so it waits for the lock (busy timeout).

    A transaction that reads first and writes later may be refused at once ("database is
    locked") while another writes: SQLite does not wait when waiting could deadlock.
    """
    table = connection.ops.quote_name(Owner._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET owner = owner WHERE 0 = 1")  # noqa: S608 - a constant


def _is_transient(exc: BaseException | None) -> bool:
    """A deadlock or serialization failure: the transaction may simply run again."""
    cause = exc.__cause__ if exc is not None else None  # the driver's own error
    if cause is None:
        return False
    if getattr(cause, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    args = getattr(cause, "args", ())
    if args and args[0] in _TRANSIENT_MYSQL_CODES:
        return True
    return "database is locked" in str(cause)  # SQLite, past its busy timeout


def _describe(exc: BaseException) -> str:
    """The error's kind and first line: never a bound value (they are not in driver messages)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
