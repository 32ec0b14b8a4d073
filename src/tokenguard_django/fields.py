"""Model fields that keep tokenguard's rules on every database Django supports.

* Text is compared exactly: ``"alice"``, ``"Alice"`` and ``"alicé"`` are three owners.
  PostgreSQL and SQLite compare that way already; MariaDB/MySQL columns get the
  ``utf8mb4_bin`` collation (which also makes them 4-byte UTF-8, whatever the
  table's own character set), as the SQLAlchemy store's tables have.
* Datetimes come back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import models

#: MariaDB/MySQL: 4-byte UTF-8 and binary comparison (no case or accent folding).
MYSQL_EXACT_COLLATION = "utf8mb4_bin"


def _exact(params: dict[str, Any], connection: Any, collation: str | None) -> dict[str, Any]:
    if connection.vendor == "mysql" and collation is None:
        params["collation"] = MYSQL_EXACT_COLLATION
    return params


class ExactCharField(models.CharField):  # type: ignore[type-arg]
    """A ``CharField`` compared character for character on every backend."""

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        return _exact(super().db_parameters(connection), connection, getattr(self, "db_collation", None))


class ExactTextField(models.TextField):  # type: ignore[type-arg]
    """A ``TextField`` stored as 4-byte UTF-8 on MariaDB/MySQL too."""

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        return _exact(super().db_parameters(connection), connection, getattr(self, "db_collation", None))


class UTCDateTimeField(models.DateTimeField):  # type: ignore[type-arg]
    """A ``DateTimeField`` read back as an aware UTC datetime on every backend."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> datetime | None:
        if value is None:
            return None
        when: datetime = value
        if when.tzinfo is None:
            return when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
