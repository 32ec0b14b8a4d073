"""Between ``TokenRecord`` and rows of ``tokenguard_tokens``: columns, values, statements."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Dialect, Select, and_, bindparam, func, or_, select

from tokenguard.models import TokenInfo
from tokenguard.stores.base import TokenChanges, TokenRecord
from tokenguard.stores.sql_schema import tokens_table

#: Column order of every ``select`` of a whole record (see :func:`record_from_row`).
RECORD_COLUMNS = (
    "id", "digest", "owner", "name", "scopes", "projects", "admin",
    "created_at", "expires_at", "last_used_at", "revoked_at", "hint", "parent_id",
    "description", "allowed_networks", "last_used_ip", "last_used_agent",
    "previous_digest", "previous_valid_until",
)
_columns = [tokens_table.c[name] for name in RECORD_COLUMNS]
_CHANGE_COLUMNS = frozenset({"name", "description", "projects", "allowed_networks", "revoked_at",
                             "expires_at", "digest", "hint", "previous_digest",
                             "previous_valid_until"})
#: Changes kept as space-separated words.
_WORD_COLUMNS = frozenset({"projects", "allowed_networks"})
_t = tokens_table.c


def select_records() -> Select[Any]:
    return select(*_columns)


#: The hot path: one unique-index look-up.
FIND_BY_DIGEST = select_records().where(_t.digest == bindparam("digest"))
#: After a miss: the old secret of a rotation with a grace period.
FIND_BY_PREVIOUS = select_records().where(_t.previous_digest == bindparam("digest"))
GET_BY_ID = select_records().where(_t.id == bindparam("id"))


def expiring(now: datetime, until: datetime, owner: str | None) -> Select[Any]:
    """Unrevoked tokens with ``now < expires_at <= until``: a range of ``ix_…_expires_at``."""
    statement = select_records().where(_t.expires_at > now, _t.expires_at <= until,
                                       _t.revoked_at.is_(None))
    if owner is not None:
        statement = statement.where(_t.owner == owner)
    return statement.order_by(_t.expires_at, _t.id)


def unused(now: datetime, before: datetime, owner: str | None) -> Select[Any]:
    """Live tokens last used before ``before``, or never used and created before it.

    Two ranges of ``ix_…_last_used_at`` (``last_used_at``, ``created_at``): the used ones,
    and the never used ones (``NULL``) by creation.
    """
    statement = select_records().where(
        or_(_t.last_used_at < before, and_(_t.last_used_at.is_(None), _t.created_at < before)),
        _t.revoked_at.is_(None), or_(_t.expires_at.is_(None), _t.expires_at > now))
    if owner is not None:
        statement = statement.where(_t.owner == owner)
    return statement.order_by(func.coalesce(_t.last_used_at, _t.created_at), _t.id)


def count_live(owner: str, now: datetime) -> Select[Any]:
    """Tokens of ``owner`` that count toward the limit: unexpired (revoked ones too)."""
    expires_at = tokens_table.c.expires_at
    return (
        select(func.count())
        .select_from(tokens_table)
        .where(tokens_table.c.owner == owner, or_(expires_at.is_(None), expires_at > now))
    )


def _words(values: frozenset[str]) -> str:
    # Scope and project names never contain whitespace (validated by the guard).
    return " ".join(sorted(values))


def row_values(record: TokenRecord) -> dict[str, Any]:
    info = record.info
    return {
        "id": info.id, "digest": record.digest, "owner": info.owner, "name": info.name,
        "scopes": _words(info.scopes), "projects": _words(info.projects), "admin": info.admin,
        "created_at": info.created_at, "expires_at": info.expires_at,
        "last_used_at": info.last_used_at, "revoked_at": info.revoked_at, "hint": info.hint,
        "parent_id": info.parent_id, "description": info.description,
        "allowed_networks": _words(info.allowed_networks), "last_used_ip": info.last_used_ip,
        "last_used_agent": info.last_used_agent, "previous_digest": record.previous_digest,
        "previous_valid_until": record.previous_valid_until,
    }


def change_values(changes: TokenChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in _CHANGE_COLUMNS:
            raise ValueError(f"{key!r} cannot be changed")
        values[key] = _words(value) if key in _WORD_COLUMNS else value  # type: ignore[arg-type]
    return values


def record_from_row(row: Sequence[Any]) -> TokenRecord:
    """A record from the values of :data:`RECORD_COLUMNS`, already converted to Python types."""
    (token_id, digest, owner, name, scopes, projects, admin,
     created_at, expires_at, last_used_at, revoked_at, hint, parent_id,
     description, networks, last_used_ip, last_used_agent, previous_digest, previous_valid_until) = row
    info = TokenInfo(
        id=token_id, owner=owner, name=name, scopes=frozenset(scopes.split()),
        projects=frozenset(projects.split()), admin=bool(admin), created_at=created_at,
        expires_at=expires_at, last_used_at=last_used_at, revoked_at=revoked_at, hint=hint,
        parent_id=parent_id, description=description, allowed_networks=frozenset(networks.split()),
        last_used_ip=last_used_ip, last_used_agent=last_used_agent,
    )
    return TokenRecord(info, digest, previous_digest, previous_valid_until)


Expander = Callable[[frozenset[str]], frozenset[str]]
#: Distinct scope and project texts remembered (they repeat: a handful of values per app).
MAX_REMEMBERED_TEXTS = 4096
#: Records of the most recently read rows kept, to be handed out again while their row is unchanged.
MAX_RECENT_ROWS = 1024
_EMPTY: frozenset[str] = frozenset()


def _unchanged(scopes: frozenset[str]) -> frozenset[str]:
    return scopes


class RecordBuilder:
    """The hot path's rows into records, built once, in the form the guard presents.

    The driver's raw row goes straight to one :class:`TokenInfo`: datetimes by the
    cheapest correct conversion for the backend (none on PostgreSQL), NULL columns
    left alone, scope and project texts parsed once per distinct text, and
    ``effective_scopes`` computed with the guard's hierarchy (``expand_scopes_with``),
    so the guard has nothing left to build.

    A record is immutable and a function of its row alone: when a token's row comes
    back exactly as it was last read (every column equal), the record built then is
    handed out again. Any change (revoked, expiry, last use, rotation) is a
    different row, hence a new record: nothing read from the database is skipped.
    """

    def __init__(self, dialect: Dialect) -> None:
        self._when = _datetime_reader(dialect)
        self._expand: Expander = _unchanged
        self._scopes: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self._projects: dict[str, frozenset[str]] = {"": _EMPTY}
        #: digest -> (the row as read, its record); the oldest dropped beyond MAX_RECENT_ROWS.
        self._recent: OrderedDict[str, tuple[Sequence[Any], TokenRecord]] = OrderedDict()
        self._recent_lock = threading.Lock()

    def expand_scopes_with(self, expand: Expander) -> None:
        """Records carry ``effective_scopes = expand(scopes)`` from now on."""
        self._expand = expand
        self._scopes = {}  # pairs made with the previous expansion are not reused
        with self._recent_lock:
            self._recent = OrderedDict()

    def record(self, row: Sequence[Any]) -> TokenRecord:
        """The record of ``row`` (a tuple of :data:`RECORD_COLUMNS` as the driver returns them)."""
        recent = self._recent
        seen = recent.get(row[1])
        if seen is not None and seen[0] == row:
            return seen[1]
        record = self.build(row)
        with self._recent_lock:
            if recent is self._recent:  # not made with an expansion replaced meanwhile
                recent[row[1]] = (row, record)
                recent.move_to_end(row[1])
                if len(recent) > MAX_RECENT_ROWS:
                    recent.popitem(last=False)
        return record

    def build(self, row: Sequence[Any]) -> TokenRecord:
        """A new record from ``row``."""
        (token_id, digest, owner, name, scopes, projects, admin,
         created_at, expires_at, last_used_at, revoked_at, hint, parent_id,
         description, networks, last_used_ip, last_used_agent, previous_digest, previous_valid_until) = row
        held = self._scopes.get(scopes)
        if held is None:
            held = self._remember_scopes(scopes)
        project_set = self._projects.get(projects)
        if project_set is None:
            project_set = self._remember_projects(projects)
        network_set = self._projects.get(networks)  # words, as projects are: shared per text
        if network_set is None:
            network_set = self._remember_projects(networks)
        when = self._when
        info = TokenInfo(
            token_id, owner, name, held[0], project_set, bool(admin), when(created_at),
            None if expires_at is None else when(expires_at),
            None if last_used_at is None else when(last_used_at),
            None if revoked_at is None else when(revoked_at),
            hint, parent_id, description, network_set, last_used_ip, last_used_agent, None, held[1],
        )
        return TokenRecord(info, digest, previous_digest,
                           None if previous_valid_until is None else when(previous_valid_until))

    def _remember_scopes(self, text: str) -> tuple[frozenset[str], frozenset[str]]:
        remembered = self._scopes
        scopes = frozenset(text.split()) or _EMPTY
        held = (scopes, self._expand(scopes))
        if len(remembered) < MAX_REMEMBERED_TEXTS:
            remembered[text] = held
        return held

    def _remember_projects(self, text: str) -> frozenset[str]:
        projects = frozenset(text.split()) or _EMPTY
        if len(self._projects) < MAX_REMEMBERED_TEXTS:
            self._projects[text] = projects
        return projects


def _datetime_reader(dialect: Dialect) -> Callable[[Any], datetime]:
    """What turns a non-``NULL`` datetime column, as the driver returns it, into an aware UTC datetime."""
    column_type = tokens_table.c.created_at.type
    process = column_type.dialect_impl(dialect).result_processor(dialect, None)
    general = cast(Callable[[Any], datetime], process) if process is not None else _aware_utc
    if dialect.name == "sqlite":
        return _sqlite_reader(general)
    if dialect.name == "postgresql":
        return _aware_utc
    return general


def _aware_utc(value: Any) -> datetime:
    """PostgreSQL: aware already (and in UTC on the reader's connections)."""
    when: datetime = value
    if when.tzinfo is UTC:
        return when
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _sqlite_reader(general: Callable[[Any], datetime]) -> Callable[[Any], datetime]:
    """SQLite keeps naive UTC as ISO text (``2026-01-02 03:04:05.000006``): one C call reads it."""
    fromisoformat = datetime.fromisoformat

    def read(value: Any) -> datetime:
        try:
            return fromisoformat(value + "+00:00")
        except (TypeError, ValueError):  # not text, or not SQLAlchemy's format: the general way
            return general(value)

    return read
