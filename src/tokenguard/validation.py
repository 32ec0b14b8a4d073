"""Checks on every value a caller hands the core: each failure is a ``ValidationError``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tokenguard.errors import ValidationError

MAX_NAME_LENGTH = 100
MAX_OWNER_LENGTH = 255
MAX_PROJECTS = 50
TOKEN_ID_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
PROJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
# Cc: control; Cf: format (bidi overrides, zero-width); Zl/Zp: line and paragraph
# separators; Cs: lone surrogates (not encodable); Co/Cn: private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _check_text(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    text = value.strip()
    if not text:
        raise ValidationError(f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise ValidationError(f"{field} must be at most {max_length} characters", field=field)
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValidationError(
                f"{field} must not contain control, format or bidirectional characters "
                f"(found U+{ord(char):04X})",
                field=field,
            )
    return text


def name(value: object) -> str:
    """A token name: 1 to 100 printable characters, surrounding spaces trimmed."""
    return _check_text(value, "name", MAX_NAME_LENGTH)


def owner(value: object) -> str:
    """An owner id as the host app knows it (a user id or login), exactly: never trimmed.

    ``"alice "`` is not ``"alice"``: trimming would let one user act as another, and
    so would a database collation that ignores trailing spaces (MariaDB's PAD SPACE).
    An id with whitespace around it is refused instead.
    """
    text = _check_text(value, "owner", MAX_OWNER_LENGTH)
    if text != value:
        raise ValidationError("owner must not begin or end with whitespace", field="owner")
    return text


def token_id(value: object) -> str:
    if not isinstance(value, str) or not TOKEN_ID_PATTERN.fullmatch(value):
        raise ValidationError("id must match [a-z0-9_-]{1,64}", field="id")
    return value


def is_token_id(value: object) -> bool:
    return isinstance(value, str) and TOKEN_ID_PATTERN.fullmatch(value) is not None


def projects(values: object) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError("projects must be a list of project names", field="projects")
    result = set()
    for value in values:
        if not isinstance(value, str) or not PROJECT_PATTERN.fullmatch(value):
            raise ValidationError(
                "each project must match [A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}", field="projects"
            )
        result.add(value)
    if len(result) > MAX_PROJECTS:
        raise ValidationError(f"at most {MAX_PROJECTS} projects", field="projects")
    return frozenset(result)


def lifetime(value: object, field: str) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError(f"{field} must be a positive timedelta or None", field=field)
    return value


def expiry(
    now: datetime,
    expires_in: object,
    expires_at: object,
    max_lifetime: timedelta | None,
) -> datetime | None:
    """The absolute expiry from a relative or absolute request, within ``max_lifetime``."""
    if expires_at is not None:
        if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
            raise ValidationError("expires_at must be a timezone-aware datetime", "expires_at")
        if expires_in is not None:
            raise ValidationError("give expires_in or expires_at, not both", "expires_at")
        try:  # UTC, as the stores keep it; an offset may push a far date past datetime.max
            when: datetime | None = expires_at.astimezone(UTC)
        except OverflowError:
            raise ValidationError("expiry is too far in the future", field="expires_at") from None
    elif expires_in is None:
        when = None
    elif isinstance(expires_in, timedelta):
        try:
            when = now + expires_in
        except OverflowError:
            raise ValidationError("expiry is too far in the future", field="expires_in") from None
    else:
        raise ValidationError("expires_in must be a timedelta or None", field="expires_in")
    field = "expires_at" if expires_at is not None else "expires_in"
    if when is not None and when <= now:
        raise ValidationError("expiry must be in the future", field=field)
    if max_lifetime is not None:
        if when is None:
            raise ValidationError(
                f"tokens must expire within {max_lifetime} (max_lifetime)", field=field
            )
        if when - now > max_lifetime:
            raise ValidationError(f"expiry is beyond the maximum lifetime of {max_lifetime}", field)
    return when
