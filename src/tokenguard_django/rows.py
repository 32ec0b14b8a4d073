"""Between ``TokenRecord`` and rows of ``tokenguard_token``: columns, values, records.

The core's value objects grow with the Store protocol (Round 2: descriptions,
networks, the last client, rotation grace). Rows always hold every column; a
record is built with the fields the installed core's ``TokenInfo`` and
``TokenRecord`` have, so this module works with the core on either side of that change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from tokenguard.models import TokenInfo
from tokenguard.stores.base import TokenChanges, TokenRecord

#: Columns of every read of a whole record, in this order (see :func:`record_from_row`).
COLUMNS = ("id", "digest", "owner", "name", "scopes", "projects", "admin", "created_at", "expires_at",
           "last_used_at", "revoked_at", "hint", "parent_id", "description", "allowed_networks",
           "last_used_ip", "last_used_agent", "previous_digest", "previous_valid_until")
#: Columns holding a set of words (space-separated, sorted).
_WORD_COLUMNS = frozenset({"scopes", "projects", "allowed_networks"})
_INFO_FIELDS = frozenset(f.name for f in dataclasses.fields(TokenInfo))
_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(TokenRecord)) - {"info"}
_CHANGEABLE = frozenset({"name", "description", "projects", "allowed_networks", "revoked_at", "expires_at",
                         "digest", "hint", "previous_digest", "previous_valid_until"})


def _words(values: frozenset[str]) -> str:
    # Scope, project and network names never contain whitespace (validated by the guard).
    return " ".join(sorted(values))


def row_values(record: TokenRecord) -> dict[str, Any]:
    """The column values of ``record`` (fields the core does not have yet: their defaults)."""
    info = record.info
    values: dict[str, Any] = {
        "id": info.id, "digest": record.digest, "owner": info.owner, "name": info.name,
        "scopes": _words(info.scopes), "projects": _words(info.projects), "admin": info.admin,
        "created_at": info.created_at, "expires_at": info.expires_at,
        "last_used_at": info.last_used_at, "revoked_at": info.revoked_at, "hint": info.hint,
        "parent_id": info.parent_id,
        "description": getattr(info, "description", ""),
        "allowed_networks": _words(getattr(info, "allowed_networks", frozenset())),
        "last_used_ip": getattr(info, "last_used_ip", None),
        "last_used_agent": getattr(info, "last_used_agent", None),
        "previous_digest": getattr(record, "previous_digest", None),
        "previous_valid_until": getattr(record, "previous_valid_until", None),
    }
    return values


def change_values(changes: TokenChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in _CHANGEABLE:
            raise ValueError(f"{key!r} cannot be changed")
        values[key] = _words(value) if key in _WORD_COLUMNS else value  # type: ignore[arg-type]
    return values


def record_from_row(row: Sequence[Any]) -> TokenRecord:
    """A record from the values of :data:`COLUMNS`, as the ORM returns them."""
    values = dict(zip(COLUMNS, row, strict=True))
    for column in _WORD_COLUMNS:
        values[column] = frozenset(values[column].split())
    values["admin"] = bool(values["admin"])
    digest = values.pop("digest")
    info = TokenInfo(**{k: v for k, v in values.items() if k in _INFO_FIELDS})
    extra = {k: v for k, v in values.items() if k in _RECORD_FIELDS}
    return TokenRecord(info, digest, **extra)
