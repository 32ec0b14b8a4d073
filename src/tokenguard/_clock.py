"""Timezone-aware UTC time, the only kind tokenguard uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` in UTC; a naive datetime is a programming error."""
    if value.tzinfo is None or value.utcoffset() is None:
        from tokenguard.errors import ValidationError

        raise ValidationError(f"{what} must be timezone-aware", field=what)
    return value.astimezone(UTC)
