"""The SQL schema of the SQLAlchemy store: typed models of the ``tokenguard_*`` tables.

The Alembic migrations in ``tokenguard/stores/migrations`` create this same
schema; a test compares the two so they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Boolean, DateTime, Dialect, Index, Integer, MetaData, String, Table, Text, true
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
        #: the old secret of a rotation with a grace period, looked up when the digest is not found
        Index("ix_tokenguard_tokens_previous_digest", "previous_digest"),
        #: guard.expiring and guard.remind
        Index("ix_tokenguard_tokens_expires_at", "expires_at"),
        #: guard.unused: used before a date, or never used (NULL) and created before it
        Index("ix_tokenguard_tokens_last_used_at", "last_used_at", "created_at"),
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
    description: Mapped[str] = mapped_column(String(500), server_default="")
    #: Space-separated CIDR networks, sorted; empty: anywhere.
    allowed_networks: Mapped[str] = mapped_column(Text, server_default="")
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    last_used_agent: Mapped[str | None] = mapped_column(String(200))
    #: The digest of the secret a rotation with a grace period replaced, and until when it works.
    previous_digest: Mapped[str | None] = mapped_column(String(64))
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OwnerRow(Base):
    """One row per owner: creators of one owner's tokens queue on it (the per-owner limit), and
    it says whether the owner is active (``deactivate_owner``)."""

    __tablename__ = "tokenguard_owners"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deactivated_by: Mapped[str | None] = mapped_column(String(255))


class ReminderRow(Base):
    """An expiry reminder sent: one per token and threshold (days), for the expiry it was sent for."""

    __tablename__ = "tokenguard_reminders"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


tokens_table = cast(Table, TokenRow.__table__)
owners_table = cast(Table, OwnerRow.__table__)
reminders_table = cast(Table, ReminderRow.__table__)
