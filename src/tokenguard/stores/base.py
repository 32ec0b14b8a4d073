"""The storage contract every backend keeps (memory, SQLAlchemy, plugins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict, runtime_checkable

from tokenguard.models import TokenInfo


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What a store keeps for one token: its public info and its HMAC digest."""

    info: TokenInfo
    #: HMAC-SHA256 of the token under the guard's key, 64 lowercase hex chars.
    digest: str


class TokenChanges(TypedDict, total=False):
    """Fields :meth:`Store.update` may change; absent keys stay as they are."""

    name: str
    projects: frozenset[str]
    revoked_at: datetime | None
    expires_at: datetime | None
    digest: str
    hint: str


@runtime_checkable
class Store(Protocol):
    """Persistence for token records. Every method may raise ``StoreUnavailable``.

    Implementations must make :meth:`insert` atomic with respect to the
    per-owner limit and the id's uniqueness, across threads and processes.
    """

    def insert(self, record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        """Add ``record``, or raise ``TokenIdConflict`` / ``TokenLimitExceeded``.

        The limit counts the owner's tokens whose ``expires_at`` is unset or
        after ``now`` (revoked ones included: only deletion frees a slot early).
        """
        ...

    def get(self, token_id: str) -> TokenRecord | None:
        """The record with this id, or ``None``."""
        ...

    def find(self, digest: str) -> TokenRecord | None:
        """The record with this digest, or ``None``: the hot path, one indexed look-up."""
        ...

    def list(self, owner: str | None = None) -> Sequence[TokenRecord]:
        """Records of one owner (or all), oldest first."""
        ...

    def update(self, token_id: str, changes: TokenChanges) -> TokenRecord | None:
        """Apply ``changes``; return the new record, or ``None`` if the id is unknown."""
        ...

    def delete(self, token_id: str) -> TokenRecord | None:
        """Remove and return the record, or ``None`` if the id is unknown."""
        ...

    def revoke_owner(self, owner: str, at: datetime) -> Sequence[str]:
        """Revoke every unrevoked token of ``owner`` at once; return their ids."""
        ...

    def touch(self, token_id: str, at: datetime) -> None:
        """Record a use (``last_used_at``); the guard throttles the calls."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
