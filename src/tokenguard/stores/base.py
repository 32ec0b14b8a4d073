"""The storage contract every backend keeps (memory, SQLAlchemy, plugins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict, runtime_checkable

from tokenguard.models import OwnerState, TokenInfo


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What a store keeps for one token: its public info and its HMAC digest."""

    info: TokenInfo
    #: HMAC-SHA256 of the token under the guard's key, 64 lowercase hex chars.
    digest: str
    #: After a rotation with a grace period: the digest of the secret it replaced, which
    #: the guard accepts until ``previous_valid_until`` (both ``None`` otherwise).
    previous_digest: str | None = None
    previous_valid_until: datetime | None = None


class TokenChanges(TypedDict, total=False):
    """Fields :meth:`Store.update` may change; absent keys stay as they are."""

    name: str
    description: str
    projects: frozenset[str]
    allowed_networks: frozenset[str]
    revoked_at: datetime | None
    expires_at: datetime | None
    digest: str
    hint: str
    previous_digest: str | None
    previous_valid_until: datetime | None


@runtime_checkable
class Store(Protocol):
    """Persistence for token records. Every method may raise ``StoreUnavailable``.

    Implementations must make :meth:`insert` atomic with respect to the
    per-owner limit, the id's uniqueness and the owner's deactivation, across
    threads and processes.
    """

    def insert(self, record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        """Add ``record``, or raise ``TokenIdConflict`` / ``TokenLimitExceeded`` / ``OwnerInactive``.

        The limit counts the owner's tokens whose ``expires_at`` is unset or
        after ``now`` (revoked ones included: only deletion frees a slot early).
        An owner :meth:`deactivate_owner` marked inactive gets no token (``OwnerInactive``),
        checked atomically with the deactivation: no insert slips in beside it.
        """
        ...

    def get(self, token_id: str) -> TokenRecord | None:
        """The record with this id, or ``None``."""
        ...

    def find(self, digest: str) -> TokenRecord | None:
        """The record with this digest, or ``None``: the hot path, one indexed look-up.

        A record whose ``previous_digest`` is ``digest`` is found too, whatever its
        ``previous_valid_until`` (the guard decides): the current digest is looked up first.
        """
        ...

    def list(self, owner: str | None = None) -> Sequence[TokenRecord]:
        """Records of one owner (or all), oldest first."""
        ...

    def update(self, token_id: str, changes: TokenChanges) -> TokenRecord | None:
        """Apply ``changes``; return the new record, or ``None`` if the id is unknown."""
        ...

    def delete(self, token_id: str) -> TokenRecord | None:
        """Remove and return the record, or ``None`` if the id is unknown; its reminders go too."""
        ...

    def revoke_owner(self, owner: str, at: datetime) -> Sequence[str]:
        """Revoke every unrevoked token of ``owner`` at once; return their ids."""
        ...

    def touch(self, token_id: str, at: datetime, *, ip: str | None = None,
              agent: str | None = None) -> None:
        """Record a use: ``last_used_at``, ``last_used_ip`` and ``last_used_agent`` at once.

        The guard throttles the calls and bounds ``ip`` (64) and ``agent`` (200 characters).
        """
        ...

    # -- owners ---------------------------------------------------------------------------

    def get_owner(self, owner: str) -> OwnerState | None:
        """The owner's state, or ``None`` when nothing is recorded of them (active)."""
        ...

    def deactivate_owner(self, owner: str, at: datetime, actor: str | None) -> Sequence[str]:
        """Mark ``owner`` inactive and revoke every unrevoked token of theirs, at once; their ids.

        Atomic with :meth:`insert`. Deactivating an inactive owner keeps the first
        ``deactivated_at`` and ``deactivated_by`` (and revokes what may be left).
        """
        ...

    def reactivate_owner(self, owner: str) -> bool:
        """Mark ``owner`` active again (revoking nothing back); ``True`` if they were inactive."""
        ...

    # -- expiry and stale tokens -------------------------------------------------------------

    def expiring(self, now: datetime, until: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        """Unrevoked records with ``now < expires_at <= until``, soonest first (then by id).

        Indexed on ``expires_at``: the cost follows the records found, not the table.
        """
        ...

    def unused(self, now: datetime, before: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        """Unrevoked, unexpired records (``expires_at`` unset or after ``now``) last used before
        ``before``, or never used and created before it; least recently seen first (then by id).

        Indexed on (``last_used_at``, ``created_at``).
        """
        ...

    def claim_reminder(self, token_id: str, threshold: int, expires_at: datetime) -> bool:
        """``True`` for exactly one caller per token, threshold and expiry, across processes.

        The reminder is recorded under (``token_id``, ``threshold``), unique: an insert that
        conflicts means another caller sent it. Once the token's expiry has moved (a rotation
        gave it a new lifetime), the record is claimed again, by one caller.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
