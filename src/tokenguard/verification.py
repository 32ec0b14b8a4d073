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
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tokenguard import tokens, validation
from tokenguard._clock import Clock, utcnow
from tokenguard.cache import BEARER, CachedToken, VerificationCache, with_effective_scopes
from tokenguard.errors import (
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    RevokedToken,
    ValidationError,
)
from tokenguard.limiter import FailedAttemptLimiter
from tokenguard.models import TokenInfo
from tokenguard.scopes import ScopeHierarchy
from tokenguard.stores.base import Store, TokenRecord

logger = logging.getLogger("tokenguard")
#: where the token starts in ``Bearer <token>`` (``BEARER``: the scheme and its one space).
_TOKEN_START = len(BEARER)
#: (allowed networks, client address) pairs found allowed: a warm restricted token costs one
#: set look-up. A refused pair is not kept (it is decided again, and refused, each time).
_allowed_pairs: set[tuple[frozenset[str], str | None]] = set()
_MAX_ALLOWED_PAIRS = 16_384


def network_allows(networks: frozenset[str], remote: str | None) -> bool:
    """True when a client at ``remote`` is within ``networks`` (fail closed: ``None`` never is)."""
    if (networks, remote) in _allowed_pairs:
        return True
    if not validation.address_in(remote, networks):
        return False
    if len(_allowed_pairs) >= _MAX_ALLOWED_PAIRS:
        _allowed_pairs.clear()
    _allowed_pairs.add((networks, remote))
    return True


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
    #: the canonical token's length, ``prefix_``, and where its body starts (set by TokenGuard).
    _token_length: int
    _token_head_bytes: bytes
    _body_start: int
    #: the same for the header value ``Bearer <token>``: its length, ``Bearer prefix_``, the body's start.
    _bearer_length: int
    _bearer_head: bytes
    _bearer_body_start: int
    limiter: FailedAttemptLimiter | None
    expire_unused_after: timedelta | None
    #: the limiter's blocked addresses (an empty dict without one): one test per warm request.
    _blocked: Mapping[str, float]


    def authenticate(self, token: object, *, remote: str | None = None,
                     agent: str | None = None) -> TokenInfo:
        """The token's info, or ``InvalidToken`` / ``ExpiredToken`` / ``RevokedToken``.

        Malformed tokens are refused before any hashing or storage access; a bad
        checksum before the HMAC and any storage access. ``StoreUnavailable``
        propagates: callers fail closed. Expiry and revocation are checked at
        every use, cache hit or not, and so is the client's address (``remote``)
        against the token's ``allowed_networks``. ``agent``: the client's User-Agent,
        recorded with the use (as ``remote`` is) when ``last_used_at`` is written.
        """
        found = self.authenticate_cached(token, remote=remote)  # a warm token, from memory
        if found is not None:
            return found
        self._check_attempt(remote)
        entry = self._lookup(token, remote)
        now = self._now()
        if now < entry.fresh_until:  # alive, and no last-use write due
            info = entry.info
            if info.allowed_networks:
                self._check_network(info, remote)
            return info
        info = self._alive(entry, now, remote)  # raises: revoked, expired, another network
        if now >= entry.touch_due and self.cache.claim_touch(entry, now):
            used_at = self.clock()
            ip, agent = validation.remote_address(remote), validation.user_agent(agent)
            self._touch(info.id, used_at, ip, agent)
            info = dataclasses.replace(info, last_used_at=used_at, last_used_ip=ip,
                                       last_used_agent=agent)
            if self.expire_unused_after is not None:
                info = dataclasses.replace(info, unused_expires_at=used_at + self.expire_unused_after)
            entry.replace_info(info)
        return info

    def authenticate_cached(self, token: object, *, remote: str | None = None) -> TokenInfo | None:
        """``authenticate`` when memory alone can answer; ``None`` when the store is needed.

        For event loops: a warm token is verified inline, with no storage access.
        ``None`` (a cache miss, a ``last_used_at`` write that is due, or a malformed
        token, which ``authenticate`` refuses with its hooks) means: call
        ``authenticate`` in a worker thread. ``token`` may also be the raw ASCII bytes
        an ASGI server hands over (the canonical form only; nothing is decoded).
        """
        if type(token) is str and token.isascii():
            data = token.encode()
        elif type(token) is bytes:
            data = token
        else:
            return None
        if len(data) != self._token_length and type(token) is str:
            try:  # a secret-token: scheme, or a token to refuse
                data = tokens.shape(token, self.prefix).encode()
            except InvalidToken:
                return None  # authenticate() refuses it, with its hooks in their order
        return self.authenticate_bearer(BEARER + data, remote)

    def authenticate_bearer(self, value: object, remote: str | None = None) -> TokenInfo | None:
        """``authenticate_cached`` for an ``Authorization`` header's value as a server hands it over.

        ``Bearer <token>`` exactly (a ``str``, or the raw bytes of an ASGI header), the
        form nearly every client sends; ``None`` for any other (the caller's full checks
        decide) and whenever memory cannot answer. The one warm check: every adapter's
        fast path and ``authenticate_cached`` come here.

        Length, prefix and alphabet are checked before the token is hashed (SECURITY.md 3),
        with plain bytes operations; then one BLAKE2s digest, one dict look-up and one
        reading of the clock: this runs on every request.
        """
        if type(value) is bytes:
            data = value
        elif type(value) is str and value.isascii():  # isascii(): one flag test, then bytes
            data = value.encode()
        else:
            return None
        body = self._bearer_body_start
        if len(data) != self._bearer_length or data[:body] != self._bearer_head \
                or not data[body:].isalnum():  # bytes.isalnum(): [0-9A-Za-z] alone
            return None
        cache = self.cache
        key = cache.digest(data).digest()  # cache.probe(), inlined: the header is what it hashes
        entry = cache._entries.get(key)
        if entry is None:
            self._cache_missed(key, data, remote)  # raises for a remembered unknown token
            return None
        now = time.time() if self.clock is utcnow else self.clock().timestamp()  # _now(), inlined
        if entry.filed_at <= now < entry.warm_until:  # cached, alive, no last-use write due
            blocked = self._blocked
            if blocked and remote in blocked:  # a limited address is refused, warm token or not
                self._check_attempt(remote)
            networks = entry.info.allowed_networks  # the client's address too, decided once per address
            if networks and (networks, remote) not in _allowed_pairs:
                self._check_network(entry.info, remote)  # decides it, or refuses
            return entry.info
        self._not_warm(entry, now, remote)  # raises for a token it must refuse
        return None

    def _not_warm(self, entry: CachedToken, now: float, remote: str | None) -> None:
        """A cached entry the hot path cannot answer from: stale, a last-use write due, or dead."""
        blocked = self._blocked
        if blocked and remote in blocked:
            self._check_attempt(remote)
        if entry.is_stale(now):
            return  # authenticate() asks the store again
        if entry.info.revoked_at is None and now < entry.expires_at:
            return  # alive, but a last_used_at write is due: authenticate() makes it
        self._alive(entry, now, remote)  # raises: revoked or expired

    def _cache_missed(self, key: bytes, data: bytes, remote: str | None) -> None:
        """Not cached: the store answers, unless the token is a remembered unknown (refused here).

        ``data`` is the header value, ``Bearer <token>``."""
        if not self.cache.is_unknown(key):
            return
        self._check_attempt(remote)
        self._fail("unknown", tokens.hint(data[_TOKEN_START:].decode("ascii")), remote)
        raise InvalidToken("unknown token")

    def _now(self) -> float:
        """The clock as a POSIX timestamp: ``time.time()`` (what freezegun and time-machine patch)
        for the default clock, else the guard's own clock."""
        return time.time() if self.clock is utcnow else self.clock().timestamp()

    def _check_attempt(self, remote: str | None) -> None:
        """Before work that may reach the store: the limiter's block, then ``before_authenticate``."""
        limiter = self.limiter
        if limiter is not None and remote is not None:
            limiter.check(remote)
        self.hook.tokenguard_before_authenticate(remote=remote)

    def _alive(self, entry: CachedToken, now: float, remote: str | None) -> TokenInfo:
        """The entry's info, unless it is revoked or expired at ``now``, or ``remote`` is outside
        its networks: checked at every use.

        Unused for too long (``expire_unused_after``) needs no check on the warm path: an
        entry is fresh only until its next last-use write is due, a minute after its last
        use at most, long before that policy's expiry.
        """
        info = entry.info
        if info.revoked_at is not None:
            self._fail("revoked", info.hint, remote)
            raise RevokedToken("token has been revoked")
        if now >= entry.expires_at:
            self._fail("expired", info.hint, remote)
            raise ExpiredToken("token has expired")
        unused_until = info.unused_expires_at
        if unused_until is not None and now >= unused_until.timestamp():
            self._fail("expired_unused", info.hint, remote)
            raise ExpiredToken("token has expired: unused for too long")
        if info.allowed_networks:
            self._check_network(info, remote)
        return info

    def _check_network(self, info: TokenInfo, remote: str | None) -> None:
        """``InvalidToken`` for a client outside the token's networks, or of unknown address."""
        if not network_allows(info.allowed_networks, remote):
            self._fail("network_not_allowed", info.hint, remote)
            raise InvalidToken("token is not allowed from this network")

    def _canonical(self, token: object, remote: str | None) -> str:
        """The token without an RFC 8959 scheme, once length, prefix and alphabet pass."""
        try:
            return tokens.shape(token, self.prefix)
        except InvalidToken as exc:
            self._fail(str(exc), None, remote)
            raise

    def _lookup(self, token: object, remote: str | None) -> CachedToken:
        canonical = self._canonical(token, remote)
        cache = self.cache
        key = cache.probe(canonical) if cache.max_size else None
        entry = cache.get(key) if key is not None else None
        return entry if entry is not None else self._lookup_store(canonical, key, remote)

    def _lookup_store(self, canonical: str, key: bytes | None, remote: str | None) -> CachedToken:
        """Behind a cache miss: the checksum, then one HMAC and one query per secret key.

        ``key`` is the cache's probe digest of ``canonical`` (``None`` with the cache
        off); an unknown token is remembered under it, and refused again without a
        checksum, an HMAC or a query while the memory lasts.
        """
        cache = self.cache
        if key is not None and cache.negative_ttl and cache.is_unknown(key):
            self._fail("unknown", tokens.hint(canonical), remote)
            raise InvalidToken("unknown token")
        hasher = self._hasher
        digest = hasher.checked_digest(canonical)  # under the first key; None: a bad checksum
        if digest is None:
            self._fail(tokens.CHECKSUM_MISMATCH, None, remote)
            raise InvalidToken(tokens.CHECKSUM_MISMATCH)
        generation = cache.generation
        if hasher.key_count == 1:  # the common case, kept flat: one key, one digest
            record = self.store.find(digest)
            if record is not None and hmac.compare_digest(record.digest, digest):
                info = record.info
                effective = self.scopes.expand(info.scopes)
                if info.effective_scopes is not effective or self.expire_unused_after is not None:
                    record = TokenRecord(self._present(info), record.digest)
                return cache.put(record, generation, key)
            verified = self._previous_secret(record, digest)
            if verified is not None:
                return cache.put(verified, generation, key)
        else:
            for candidate in hasher.candidates(canonical, first=digest):
                record = self.store.find(candidate)
                if record is not None and hmac.compare_digest(record.digest, candidate):
                    presented = self._present(record.info)
                    if presented is not record.info:
                        record = TokenRecord(presented, record.digest)
                    return cache.put(record, generation, key)
                verified = self._previous_secret(record, candidate)
                if verified is not None:
                    return cache.put(verified, generation, key)
        cache.put_unknown(key, generation)
        self._fail("unknown", tokens.hint(canonical), remote)
        raise InvalidToken("unknown token")

    def _previous_secret(self, record: TokenRecord | None, digest: str) -> TokenRecord | None:
        """The token of a secret a rotation replaced, while its grace period lasts; else ``None``.

        It is presented with the end of that grace as its ``expires_at``: what the holder of
        the old secret has left. Once the grace is over the old secret is unknown, as after a
        rotation without one (so it revokes nothing by value either).
        """
        if record is None or record.previous_digest is None or record.previous_valid_until is None \
                or not hmac.compare_digest(record.previous_digest, digest):
            return None
        until = record.previous_valid_until
        if self._now() >= until.timestamp():
            return None
        info = self._present(record.info)
        if info.expires_at is None or until < info.expires_at:
            info = dataclasses.replace(info, expires_at=until)
        return TokenRecord(info, record.digest)

    def _touch(self, token_id: str, now: datetime, ip: str | None = None,
               agent: str | None = None) -> None:
        try:
            if ip is None and agent is None:
                self.store.touch(token_id, now)
            else:
                self.store.touch(token_id, now, ip=ip, agent=agent)
        except Exception as exc:  # a failed bookkeeping write never fails a request
            logger.warning("could not record last use of token %s: %s", token_id,
                           type(exc).__name__)

    def _fail(self, reason: str, hint: str | None, remote: str | None) -> None:
        self.hook.tokenguard_auth_failed(reason=reason, hint=hint, remote=remote)

    def _present(self, info: TokenInfo) -> TokenInfo:
        """``info`` with the effective scopes of this guard's hierarchy (itself when it has them),
        and, under ``expire_unused_after``, when that policy expires it (``unused_expires_at``)."""
        effective = self.scopes.expand(info.scopes)
        if info.effective_scopes is not effective:  # expand() is memoised: built by the store with it
            info = with_effective_scopes(info, effective)
        policy = self.expire_unused_after
        if policy is not None:
            info = dataclasses.replace(info, unused_expires_at=info.last_seen_at + policy)
        return info

    def require(
        self, info: TokenInfo, *scopes: str, project: str | None = None,
        remote: str | None = None,
    ) -> None:
        """Raise ``InsufficientScope`` unless ``info`` holds every scope (and the project)."""
        if project is None and len(scopes) == 1 and scopes[0] in info.effective_scopes:
            return  # the common case: held, directly or implied (the guard presents every token so)
        wanted = frozenset(scopes)
        for scope in wanted:
            if scope not in self.scopes:
                raise ValidationError(
                    f"unknown scope {scope!r} required: the guard configures "
                    f"{', '.join(self.scopes.order)}", field="scopes")
        if info.admin:
            return
        if not self.scopes.covers(info.scopes, wanted) or not info.allows_project(project):
            self.hook.tokenguard_scope_denied(info=info, required=sorted(wanted),
                                             project=project, remote=remote)
            raise InsufficientScope(sorted(wanted), project)
