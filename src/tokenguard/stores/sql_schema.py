"""The SQL schema of the SQLAlchemy store: typed models of the ``tokenguard_*`` tables.

The Alembic migrations in ``tokenguard/stores/migrations`` create this same
schema; a test compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Boolean, DateTime, Dialect, Index, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from tokenguard._clock import ensure_aware

#: Names for constraints and indexes, so every backend (and Alembic) agrees on them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: MariaDB/MySQL: 4-byte UTF-8 (emoji) and binary comparison, so "alice" and
#: "Alice" are different owners, as on every other backend.
MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
VERSION_TABLE = "tokenguard_alembic_version"

#: ``DATETIME`` on MariaDB drops microseconds unless its precision is given.
_DATETIME: TypeEngine[datetime] = DateTime(timezone=True).with_variant(
    mysql.DATETIME(fsp=6), "mysql", "mariadb"
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps the zone (``timestamptz``); SQLite and MariaDB store naive
    UTC, which is converted back to aware UTC when read.
    """

    impl = _DATETIME
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_aware(value)  # a naive datetime is a ValidationError
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when = cast(datetime, value)
        if when.tzinfo is None:
            return when.replace(tzinfo=UTC)
        return when.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TokenRow(Base):
    """One token: its public info and the HMAC digest of its secret (never the secret)."""

    __tablename__ = "tokenguard_tokens"
    __table_args__ = (
        Index("ix_tokenguard_tokens_digest", "digest", unique=True),
        Index("ix_tokenguard_tokens_owner", "owner"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    #: Space-separated, sorted: scope and project names never contain spaces.
    scopes: Mapped[str] = mapped_column(Text)
    projects: Mapped[str] = mapped_column(Text)
    admin: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hint: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[str | None] = mapped_column(String(64))


class OwnerRow(Base):
    """A lock row per owner: creators of one owner's tokens queue on it (the per-owner limit)."""

    __tablename__ = "tokenguard_owners"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)


tokens_table = cast(Table, TokenRow.__table__)
owners_table = cast(Table, OwnerRow.__table__)
