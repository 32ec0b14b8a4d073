"""An in-process store: for tests, demos and single-process apps that accept loss on restart."""

from __future__ import annotations

import builtins
import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from tokenguard.errors import OwnerInactive, TokenIdConflict, TokenLimitExceeded
from tokenguard.models import OwnerState
from tokenguard.stores.base import TokenChanges, TokenRecord

_INFO_FIELDS = frozenset({"name", "description", "projects", "allowed_networks", "revoked_at",
                          "expires_at", "hint"})
_RECORD_FIELDS = frozenset({"digest", "previous_digest", "previous_valid_until"})


class MemoryStore:
    """Dicts by id and by digest under one lock; reads of the digest index take no lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, TokenRecord] = {}
        self._by_digest: dict[str, TokenRecord] = {}
        #: records by the digest of the secret a rotation with a grace period replaced.
        self._by_previous: dict[str, TokenRecord] = {}
        self._owners: dict[str, OwnerState] = {}
        #: (token id, threshold) -> the expiry the reminder was sent for.
        self._reminders: dict[tuple[str, int], datetime] = {}

    def insert(self, record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        info = record.info
        with self._lock:
            if info.id in self._by_id:
                raise TokenIdConflict(info.id)
            state = self._owners.get(info.owner)
            if state is not None and not state.active:
                raise OwnerInactive(info.owner)
            if limit is not None:
                live = sum(
                    1
                    for r in self._by_id.values()
                    if r.info.owner == info.owner
                    and (r.info.expires_at is None or r.info.expires_at > now)
                )
                if live >= limit:
                    raise TokenLimitExceeded(info.owner, limit)
            self._by_id[info.id] = record
            self._by_digest[record.digest] = record
            if record.previous_digest is not None:
                self._by_previous[record.previous_digest] = record

    def get(self, token_id: str) -> TokenRecord | None:
        return self._by_id.get(token_id)

    def find(self, digest: str) -> TokenRecord | None:
        found = self._by_digest.get(digest)
        return found if found is not None else self._by_previous.get(digest)

    def list(self, owner: str | None = None) -> Sequence[TokenRecord]:
        return self._sorted(lambda r: owner is None or r.info.owner == owner,
                            lambda r: (r.info.created_at, r.info.id))

    def _sorted(self, keep: Callable[[TokenRecord], bool],
                order: Callable[[TokenRecord], tuple[datetime, str]]) -> builtins.list[TokenRecord]:
        return sorted((r for r in list(self._by_id.values()) if keep(r)), key=order)

    def update(self, token_id: str, changes: TokenChanges) -> TokenRecord | None:
        with self._lock:
            old = self._by_id.get(token_id)
            if old is None:
                return None
            unknown = set(changes) - _INFO_FIELDS - _RECORD_FIELDS
            if unknown:
                raise ValueError(f"{sorted(unknown)[0]!r} cannot be changed")
            info_changes = {k: v for k, v in changes.items() if k in _INFO_FIELDS}
            record_changes = {k: v for k, v in changes.items() if k in _RECORD_FIELDS}
            new = dataclasses.replace(
                old, info=dataclasses.replace(old.info, **info_changes),  # type: ignore[arg-type]
                **record_changes)  # type: ignore[arg-type]
            self._replace(old, new)
            return new

    def _replace(self, old: TokenRecord, new: TokenRecord) -> None:
        """``new`` in place of ``old`` in every map (under the lock)."""
        self._by_id[new.info.id] = new
        if old.digest != new.digest:
            del self._by_digest[old.digest]
        self._by_digest[new.digest] = new
        if old.previous_digest is not None:
            self._by_previous.pop(old.previous_digest, None)
        if new.previous_digest is not None:
            self._by_previous[new.previous_digest] = new

    def delete(self, token_id: str) -> TokenRecord | None:
        with self._lock:
            record = self._by_id.pop(token_id, None)
            if record is not None:
                del self._by_digest[record.digest]
                if record.previous_digest is not None:
                    self._by_previous.pop(record.previous_digest, None)
                for key in [key for key in self._reminders if key[0] == token_id]:
                    del self._reminders[key]
            return record

    def revoke_owner(self, owner: str, at: datetime) -> Sequence[str]:
        with self._lock:
            return self._revoke_owner(owner, at)

    def _revoke_owner(self, owner: str, at: datetime) -> builtins.list[str]:
        """All at once for readers too (they take no lock): new maps, swapped in when complete."""
        by_id, by_digest, by_previous = dict(self._by_id), dict(self._by_digest), dict(self._by_previous)
        revoked = []
        for record in self._by_id.values():
            if record.info.owner == owner and record.info.revoked_at is None:
                new = dataclasses.replace(record, info=dataclasses.replace(record.info, revoked_at=at))
                by_id[new.info.id] = by_digest[new.digest] = new
                if new.previous_digest is not None:
                    by_previous[new.previous_digest] = new
                revoked.append(record.info.id)
        self._by_digest, self._by_previous, self._by_id = by_digest, by_previous, by_id
        return revoked

    def touch(self, token_id: str, at: datetime, *, ip: str | None = None,
              agent: str | None = None) -> None:
        with self._lock:
            record = self._by_id.get(token_id)
            if record is not None:
                info = dataclasses.replace(record.info, last_used_at=at, last_used_ip=ip,
                                           last_used_agent=agent)
                self._replace(record, dataclasses.replace(record, info=info))

    # -- owners -----------------------------------------------------------------------------

    def get_owner(self, owner: str) -> OwnerState | None:
        return self._owners.get(owner)

    def deactivate_owner(self, owner: str, at: datetime, actor: str | None) -> Sequence[str]:
        with self._lock:
            state = self._owners.get(owner)
            if state is None or state.active:
                self._owners[owner] = OwnerState(owner, False, at, actor)
            return self._revoke_owner(owner, at)

    def reactivate_owner(self, owner: str) -> bool:
        with self._lock:
            state = self._owners.get(owner)
            if state is None or state.active:
                return False
            self._owners[owner] = OwnerState(owner)
            return True

    # -- expiry and stale tokens ------------------------------------------------------------

    def expiring(self, now: datetime, until: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        def keep(r: TokenRecord) -> bool:
            info = r.info
            return (info.revoked_at is None and info.expires_at is not None
                    and now < info.expires_at <= until and owner in (None, info.owner))

        return self._sorted(keep, lambda r: (r.info.expires_at or now, r.info.id))

    def unused(self, now: datetime, before: datetime, owner: str | None = None) -> Sequence[TokenRecord]:
        def keep(r: TokenRecord) -> bool:
            info = r.info
            return (info.revoked_at is None and (info.expires_at is None or info.expires_at > now)
                    and info.last_seen_at < before and owner in (None, info.owner))

        return self._sorted(keep, lambda r: (r.info.last_seen_at, r.info.id))

    def claim_reminder(self, token_id: str, threshold: int, expires_at: datetime) -> bool:
        with self._lock:
            key = (token_id, threshold)
            if self._reminders.get(key) == expires_at:
                return False
            self._reminders[key] = expires_at
            return True

    def close(self) -> None:
        """Nothing to release."""
