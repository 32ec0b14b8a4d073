"""Between ``TokenRecord`` and rows of ``tokenguard_tokens``: columns, values, statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select

from tokenguard.models import TokenInfo
from tokenguard.stores.base import TokenChanges, TokenRecord
from tokenguard.stores.sql_schema import tokens_table

#: Column order of every ``select`` of a whole record (see :func:`record_from_row`).
RECORD_COLUMNS = (
    "id", "digest", "owner", "name", "scopes", "projects", "admin",
    "created_at", "expires_at", "last_used_at", "revoked_at", "hint", "parent_id",
)
_columns = [tokens_table.c[name] for name in RECORD_COLUMNS]
_CHANGE_COLUMNS = frozenset({"name", "projects", "revoked_at", "expires_at", "digest", "hint"})


def select_records() -> Select[Any]:
    return select(*_columns)


#: The hot path: one unique-index look-up.
FIND_BY_DIGEST = select_records().where(tokens_table.c.digest == bindparam("digest"))
GET_BY_ID = select_records().where(tokens_table.c.id == bindparam("id"))


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
        "parent_id": info.parent_id,
    }


def change_values(changes: TokenChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in _CHANGE_COLUMNS:
            raise ValueError(f"{key!r} cannot be changed")
        values[key] = _words(value) if key == "projects" else value  # type: ignore[arg-type]
    return values


def record_from_row(row: Sequence[Any]) -> TokenRecord:
    """A record from the values of :data:`RECORD_COLUMNS`, already converted to Python types."""
    (token_id, digest, owner, name, scopes, projects, admin,
     created_at, expires_at, last_used_at, revoked_at, hint, parent_id) = row
    info = TokenInfo(
        id=token_id, owner=owner, name=name, scopes=frozenset(scopes.split()),
        projects=frozenset(projects.split()), admin=bool(admin), created_at=created_at,
        expires_at=expires_at, last_used_at=last_used_at, revoked_at=revoked_at, hint=hint,
        parent_id=parent_id,
    )
    return TokenRecord(info, digest)
