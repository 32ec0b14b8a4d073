"""The hot path of ``TokenGuard``: verify a presented token and check its scopes.

Kept apart from the lifecycle (``guard.py``) because every protected request
runs this code and nothing else of the core: it is written for speed, with
the checks of SECURITY.md in their order (offline checks, HMAC, cache, store).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import time
from datetime import datetime
from typing import Any

from tokenguard import tokens
from tokenguard._clock import Clock, utcnow
from tokenguard.cache import CachedToken, VerificationCache, with_effective_scopes
from tokenguard.errors import (
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    RevokedToken,
    ValidationError,
)
from tokenguard.models import TokenInfo
from tokenguard.scopes import ScopeHierarchy
from tokenguard.stores.base import Store, TokenRecord

logger = logging.getLogger("tokenguard")


class Verification:
    """``authenticate``, ``authenticate_cached`` and ``require``, mixed into ``TokenGuard``.

    The attributes below are set by ``TokenGuard.__init__``.
    """

    prefix: str
    scopes: ScopeHierarchy
    clock: Clock
    cache: VerificationCache
    store: Store
    hook: Any
    _hasher: tokens.Hasher
    _before_authenticate: Any
    _before_authenticate_impls: object


    def authenticate(self, token: object, *, remote: str | None = None) -> TokenInfo:
        """The token's info, or ``InvalidToken`` / ``ExpiredToken`` / ``RevokedToken``.

        Malformed tokens are refused before any hashing or storage access.
        ``StoreUnavailable`` propagates: callers fail closed. Expiry and
        revocation are checked at every use, cache hit or not.
        """
        if self._before_authenticate_impls:  # an empty hook call costs more than a cache hit
            self._before_authenticate(remote=remote)
        try:  # _lookup(), inlined: this is the hot path
            canonical = tokens.parse(token, self.prefix)
        except InvalidToken as exc:
            self._fail(str(exc), None, remote)
            raise
        digest = self._hasher.digest(canonical)
        entry = self.cache.get(digest) or self._lookup_store(canonical, digest, remote)
        now = time.time() if self.clock is utcnow else self.clock().timestamp()
        info = self._alive(entry, now, remote)
        if now >= entry.touch_due and self.cache.claim_touch(entry, now):
            used_at = self.clock()
            self._touch(info.id, used_at)
            info = dataclasses.replace(info, last_used_at=used_at)
            entry.replace_info(info)
        return info

    def authenticate_cached(self, token: object, *, remote: str | None = None) -> TokenInfo | None:
        """``authenticate`` when memory alone can answer; ``None`` when the store is needed.

        For event loops: a warm token is verified inline, with no storage access.
        ``None`` (a cache miss, a ``last_used_at`` write that is due, or a token to
        refuse with the usual hooks) means: call ``authenticate`` in a worker thread.
        """
        try:
            canonical = tokens.parse(token, self.prefix)
        except InvalidToken:
            return None  # authenticate() refuses it, with its hooks in their order
        entry = self.cache.get(self._hasher.digest(canonical))
        if entry is None:
            return None
        now = time.time() if self.clock is utcnow else self.clock().timestamp()
        dead = entry.info.revoked_at is not None or now >= entry.expires_at
        if now >= entry.touch_due and not dead:
            return None
        if self._before_authenticate_impls:  # once per answered attempt, before the answer
            self._before_authenticate(remote=remote)
        return self._alive(entry, now, remote)

    def _alive(self, entry: CachedToken, now: float, remote: str | None) -> TokenInfo:
        """The entry's info, unless it is revoked or expired at ``now``: checked at every use."""
        info = entry.info
        if info.revoked_at is not None:
            self._fail("revoked", info.hint, remote)
            raise RevokedToken("token has been revoked")
        if now >= entry.expires_at:
            self._fail("expired", info.hint, remote)
            raise ExpiredToken("token has expired")
        return info

    def _lookup(self, token: object, remote: str | None) -> CachedToken:
        try:
            canonical = tokens.parse(token, self.prefix)
        except InvalidToken as exc:
            self._fail(str(exc), None, remote)
            raise
        digest = self._hasher.digest(canonical)
        entry = self.cache.get(digest)
        if entry is not None:
            return entry
        return self._lookup_store(canonical, digest, remote)

    def _lookup_store(self, canonical: str, first: str, remote: str | None) -> CachedToken:
        """The store look-up behind a cache miss: one query per key, unknown digests remembered."""
        cache = self.cache
        if self._hasher.key_count == 1:  # the common case, kept flat: one key, one digest
            if not (cache.negative_ttl and cache.is_unknown(first)):
                generation = cache.generation
                record = self.store.find(first)
                if record is not None and hmac.compare_digest(record.digest, first):
                    info = record.info
                    effective = self.scopes.expand(info.scopes)
                    if info.effective_scopes is not effective:  # _present(), inlined
                        record = TokenRecord(with_effective_scopes(info, effective), record.digest)
                    return cache.put(record, generation)
                cache.put_unknown(first, generation)
        else:
            for digest in self._hasher.candidates(canonical):
                entry = cache.get(digest) if digest != first else None
                if entry is not None:
                    return entry
                if cache.is_unknown(digest):
                    continue
                generation = cache.generation
                record = self.store.find(digest)
                if record is not None and hmac.compare_digest(record.digest, digest):
                    presented = self._present(record.info)
                    if presented is not record.info:
                        record = TokenRecord(presented, record.digest)
                    return cache.put(record, generation)
                cache.put_unknown(digest, generation)
        self._fail("unknown", tokens.hint(canonical), remote)
        raise InvalidToken("unknown token")

    def _touch(self, token_id: str, now: datetime) -> None:
        try:
            self.store.touch(token_id, now)
        except Exception as exc:  # a failed bookkeeping write never fails a request
            logger.warning("could not record last use of token %s: %s", token_id,
                           type(exc).__name__)

    def _fail(self, reason: str, hint: str | None, remote: str | None) -> None:
        self.hook.tokenguard_auth_failed(reason=reason, hint=hint, remote=remote)

    def _present(self, info: TokenInfo) -> TokenInfo:
        """``info`` with the effective scopes of this guard's hierarchy (itself when it has them)."""
        effective = self.scopes.expand(info.scopes)
        if info.effective_scopes is effective:  # expand() is memoised: built by the store with it
            return info
        return with_effective_scopes(info, effective)

    def require(
        self, info: TokenInfo, *scopes: str, project: str | None = None,
        remote: str | None = None,
    ) -> None:
        """Raise ``InsufficientScope`` unless ``info`` holds every scope (and the project)."""
        if project is None and len(scopes) == 1 and self.scopes.grants(info.scopes, scopes[0]):
            return  # the common case, decided by one memoised look-up
        wanted = frozenset(scopes)
        for scope in wanted:
            if scope not in self.scopes:
                raise ValidationError(f"unknown scope {scope!r} required", field="scopes")
        if info.admin:
            return
        if not self.scopes.covers(info.scopes, wanted) or not info.allows_project(project):
            self.hook.tokenguard_scope_denied(info=info, required=sorted(wanted),
                                             project=project, remote=remote)
            raise InsufficientScope(sorted(wanted), project)
