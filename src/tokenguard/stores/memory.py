"""An in-process store: for tests, demos and single-process apps that accept loss on restart."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import datetime

from tokenguard.errors import TokenIdConflict, TokenLimitExceeded
from tokenguard.stores.base import TokenChanges, TokenRecord

_INFO_FIELDS = frozenset({"name", "projects", "revoked_at", "expires_at", "hint"})


class MemoryStore:
    """Dicts by id and by digest under one lock; reads of the digest index take no lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, TokenRecord] = {}
        self._by_digest: dict[str, TokenRecord] = {}

    def insert(self, record: TokenRecord, *, limit: int | None, now: datetime) -> None:
        info = record.info
        with self._lock:
            if info.id in self._by_id:
                raise TokenIdConflict(info.id)
            if limit is not None:
                live = sum(
                    1
                    for r in self._by_id.values()
                    if r.info.owner == info.owner and not r.info.is_expired_at(now)
                )
                if live >= limit:
                    raise TokenLimitExceeded(info.owner, limit)
            self._by_id[info.id] = record
            self._by_digest[record.digest] = record

    def get(self, token_id: str) -> TokenRecord | None:
        return self._by_id.get(token_id)

    def find(self, digest: str) -> TokenRecord | None:
        return self._by_digest.get(digest)

    def list(self, owner: str | None = None) -> Sequence[TokenRecord]:
        records = list(self._by_id.values())
        if owner is not None:
            records = [r for r in records if r.info.owner == owner]
        return sorted(records, key=lambda r: (r.info.created_at, r.info.id))

    def update(self, token_id: str, changes: TokenChanges) -> TokenRecord | None:
        with self._lock:
            old = self._by_id.get(token_id)
            if old is None:
                return None
            info_changes = {k: v for k, v in changes.items() if k in _INFO_FIELDS}
            new = TokenRecord(
                info=dataclasses.replace(old.info, **info_changes),  # type: ignore[arg-type]
                digest=changes.get("digest", old.digest),
            )
            self._replace(old, new)
            return new

    def _replace(self, old: TokenRecord, new: TokenRecord) -> None:
        self._by_id[new.info.id] = new
        if old.digest != new.digest:
            del self._by_digest[old.digest]
        self._by_digest[new.digest] = new

    def delete(self, token_id: str) -> TokenRecord | None:
        with self._lock:
            record = self._by_id.pop(token_id, None)
            if record is not None:
                del self._by_digest[record.digest]
            return record

    def revoke_owner(self, owner: str, at: datetime) -> Sequence[str]:
        """All at once for readers too (they take no lock): new maps, swapped in when complete."""
        with self._lock:
            by_id, by_digest = dict(self._by_id), dict(self._by_digest)
            revoked = []
            for record in self._by_id.values():
                if record.info.owner == owner and record.info.revoked_at is None:
                    new = TokenRecord(dataclasses.replace(record.info, revoked_at=at), record.digest)
                    by_id[new.info.id] = by_digest[new.digest] = new
                    revoked.append(record.info.id)
            self._by_digest, self._by_id = by_digest, by_id
            return revoked

    def touch(self, token_id: str, at: datetime) -> None:
        with self._lock:
            record = self._by_id.get(token_id)
            if record is not None:
                new = TokenRecord(dataclasses.replace(record.info, last_used_at=at), record.digest)
                self._replace(record, new)

    def close(self) -> None:
        """Nothing to release."""
