"""The verification cache: verified tokens by digest, bounded in size and in age.

Every protected request verifies a token; without a cache each one is a store
query. This cache keeps what a look-up found, keyed by the BLAKE2s-256 digest of
``Bearer <token>``, never by the clear token (:meth:`VerificationCache.probe`). A warm
request costs the length, prefix and alphabet checks and that one hash, a single
BLAKE2s compression, about a third of an HMAC-SHA256; the checksum and the HMAC
run only on a miss, before the store is asked. The digest reveals nothing of a
190-bit random token, and a digest found here is the digest of a token that
passed every check when it was cached: a forgery would need a second preimage
of BLAKE2s. No key is needed for either property, so none is kept.

Guarantees:

- **Size**: at most ``max_size`` verified tokens (the one filed longest ago is
  evicted first: a warm hit changes nothing, and an entry is filed anew at
  least every ``ttl``) and at most ``max_size`` unknown digests.
- **Age**: an entry is used for at most ``ttl`` seconds after it was read from
  the store. That is how long another process's revoke may go unnoticed here
  when nothing tells this process about it. The age is read on the guard's
  clock (``time.time()`` by default: what freezegun and time-machine patch), the
  one clock a warm request reads; an entry filed at a later instant than the
  clock now shows (a clock set back) is stale at once.
- **Same process**: revoke, rotate, delete, re-approve, update and
  ``revoke_owner`` drop the entry before they return (the guard fires
  ``tokenguard_token_invalidated``; this cache is a plugin of its guard). A
  look-up that raced with an invalidation is not cached (generation check).
- **Other processes**: the Redis plugin (:mod:`tokenguard.redis_invalidation`)
  relays invalidations to :func:`live_caches` of every process.
- **Negative cache**: a well-formed but unknown token is remembered (by its
  digest) for ``negative_ttl`` seconds, so a client repeating a dead token costs
  no query, and no checksum or HMAC either.

Expiry and revocation are still checked by the guard at every use, from the
cached record: a cache hit never extends a token's life.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import operator
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tokenguard.errors import ValidationError
from tokenguard.models import TokenInfo
from tokenguard.stores.base import TokenRecord

#: ``Bearer `` (the scheme and its one space) as nearly every client writes it: what the
#: cache's keys are digests of, followed by the token (:meth:`VerificationCache.probe`).
BEARER = b"Bearer "

DEFAULT_TTL = 5.0
DEFAULT_SIZE = 10_000
#: Unknown digests are kept for at most this long (or the TTL, if shorter).
DEFAULT_NEGATIVE_TTL = 2.0
#: Seconds between two ``last_used_at`` writes for one token.
TOUCH_SECONDS = 60.0


_INFO_FIELDS = tuple(f.name for f in dataclasses.fields(TokenInfo))
# with_effective_scopes() builds TokenInfo positionally, in this order:
assert _INFO_FIELDS[3:5] == ("scopes", "projects") and _INFO_FIELDS[-1] == "effective_scopes"
_info_values = operator.attrgetter(*_INFO_FIELDS[:-1])
_EMPTY: frozenset[str] = frozenset()
_NEVER = math.inf
_NOT_YET = -math.inf
_shared_sets: dict[frozenset[str], frozenset[str]] = {}
_MAX_SHARED_SETS = 4096


def shared(values: frozenset[str]) -> frozenset[str]:
    """One object per distinct set of scopes or projects, so cached tokens share them (~200 B each)."""
    if not values:
        return _EMPTY
    found = _shared_sets.get(values)
    if found is None:
        if len(_shared_sets) >= _MAX_SHARED_SETS:
            return values
        found = _shared_sets.setdefault(values, values)
    return found


def with_effective_scopes(info: TokenInfo, effective: frozenset[str]) -> TokenInfo:
    """``dataclasses.replace(info, effective_scopes=…)`` in a fraction of the time, sets shared."""
    v = _info_values(info)
    values: tuple[Any, ...] = (v[0], v[1], v[2], shared(v[3]), shared(v[4]), *v[5:], effective)
    return TokenInfo(*values)


_live: weakref.WeakSet[VerificationCache] = weakref.WeakSet()
_live_lock = threading.Lock()


def live_caches() -> list[VerificationCache]:
    """Every cache alive in this process: what cross-process invalidation reaches."""
    with _live_lock:
        return list(_live)


def forget(token_ids: Sequence[str] = (), owner: str | None = None) -> None:
    """Drop these tokens (and every token of ``owner``) from every cache of this process.

    Every guard's, not only the one that made the change: two guards on one database
    (an app and a mounted sub-app, say) would otherwise disagree for up to ``cache_ttl``.
    A plain call, not a hook: a plugin that fails cannot keep a revoked token cached.
    """
    for cache in live_caches():
        cache.invalidate_many(token_ids)
        if owner is not None:
            cache.invalidate_owner(owner)


def seconds(value: timedelta | float | None, field: str) -> float:
    """A duration option as seconds; ``None`` is 0 (disabled)."""
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValidationError(f"{field} must be a non-negative number of seconds, a timedelta or None",
                              field=field)
    return float(value)


class CachedToken:
    """One verified token: its record and the instants the guard compares at every use.

    ``expires_at`` and ``touch_due`` are POSIX timestamps (``inf`` / ``-inf``
    when unset), so the hot path compares floats instead of datetimes.
    ``fresh_until`` is the earlier of the two (``-inf`` once revoked): before
    it, the token is alive and no ``last_used_at`` write is due. ``warm_until``
    is the earlier of that and the entry's ``deadline`` (the end of its ``ttl``):
    from ``filed_at`` until then the hot path answers from the entry, which it
    decides with one chained comparison.
    """

    __slots__ = ("_touch_due", "deadline", "expires_at", "filed_at", "fresh_until", "info", "key",
                 "record", "warm_until")

    def __init__(self, record: TokenRecord, deadline: float, key: bytes | None = None,
                 filed_at: float = -math.inf) -> None:
        info = record.info
        #: the cache's probe digest of the token, ``None`` when the entry is not kept.
        self.key = key
        self.record = record
        self.info: TokenInfo = info
        self.deadline = deadline
        self.filed_at = filed_at
        self.expires_at = _NEVER if info.expires_at is None else info.expires_at.timestamp()
        last = info.last_used_at
        # the touch_due setter, inlined: without a cache this runs on every request
        self._touch_due = touch_due = _NOT_YET if last is None else last.timestamp() + TOUCH_SECONDS
        self.fresh_until = -math.inf if info.revoked_at is not None else min(self.expires_at, touch_due)
        self.warm_until = min(self.fresh_until, deadline)

    @property
    def touch_due(self) -> float:
        return self._touch_due

    @touch_due.setter
    def touch_due(self, value: float) -> None:
        self._touch_due = value
        self.fresh_until = -math.inf if self.info.revoked_at is not None else min(self.expires_at, value)
        self.warm_until = min(self.fresh_until, self.deadline)

    def is_stale(self, now: float) -> bool:
        """True once the entry's ``ttl`` is over at ``now``, or when it was filed after ``now``."""
        return not self.filed_at <= now < self.deadline

    def replace_info(self, info: TokenInfo) -> None:
        """After a touch: the same token with its new ``last_used_at``."""
        self.record = TokenRecord(info, self.record.digest)
        self.info = info


@dataclass(frozen=True, slots=True)
class CacheStats:
    size: int
    unknown: int
    max_size: int
    ttl: float
    negative_ttl: float
    misses: int
    unknown_hits: int
    evictions: int
    invalidations: int


class VerificationCache:
    """A thread-safe map of verified tokens by probe digest, bounded in size and age, plus a
    short-lived negative cache.

    ``ttl=0`` disables it: :meth:`put` hands back an entry without keeping it,
    so the guard runs one code path either way. ``clock`` gives POSIX seconds: the
    guard passes its own (:meth:`TokenGuard._now`), which its hot path reads too.
    """

    def __init__(
        self,
        ttl: timedelta | float | None = DEFAULT_TTL,
        max_size: int = DEFAULT_SIZE,
        *,
        negative_ttl: timedelta | float | None = DEFAULT_NEGATIVE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0:
            raise ValidationError("cache_size must be a non-negative int", field="cache_size")
        self.ttl = seconds(ttl, "cache_ttl")
        self.max_size = max_size if self.ttl > 0 else 0
        self.negative_ttl = min(seconds(negative_ttl, "negative_ttl"), self.ttl)
        self._clock = clock
        self._lock = threading.Lock()
        #: what files an entry: the BLAKE2s-256 of ``Bearer <canonical token>`` (one compression).
        self.digest: Callable[[bytes], Any] = hashlib.blake2s
        self._entries: OrderedDict[bytes, CachedToken] = OrderedDict()
        self._key_of: dict[str, bytes] = {}  # token id -> probe digest of its cached entry
        self._unknown: OrderedDict[bytes, float] = OrderedDict()  # probe digest -> deadline
        #: Bumped by every invalidation; a look-up that started before one is not kept.
        self.generation = 0
        self._misses = self._unknown_hits = self._evictions = self._invalidations = 0
        with _live_lock:
            _live.add(self)

    @property
    def enabled(self) -> bool:
        return self.max_size > 0

    def __len__(self) -> int:
        return len(self._entries)

    # -- the hot path ---------------------------------------------------------------------

    def probe(self, canonical: str) -> bytes:
        """The key this cache files ``canonical`` under: the BLAKE2s digest of ``Bearer <canonical>``.

        The header form, because that is what a request hands the guard's hot path,
        which hashes it whole (no slice) and inlines this; it is here for everything else.
        """
        return bytes(self.digest(BEARER + canonical.encode("ascii")).digest())

    def get(self, key: bytes) -> CachedToken | None:
        """The fresh entry filed under ``key``, or ``None`` (absent, or older than the TTL)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.is_stale(self._clock()):
            self._discard(key, entry)
            return None
        return entry

    def is_unknown(self, key: bytes) -> bool:
        """True when a recent look-up found no token filed under ``key``."""
        deadline = self._unknown.get(key)
        if deadline is None:
            return False
        now = self._clock()
        if not deadline - self.negative_ttl <= now < deadline:  # over, or the clock was set back
            with self._lock:
                self._unknown.pop(key, None)
            return False
        self._unknown_hits += 1
        return True

    # -- filling --------------------------------------------------------------------------

    def put(self, record: TokenRecord, generation: int, key: bytes | None) -> CachedToken:
        """An entry for ``record`` filed under ``key`` (its :meth:`probe`), kept unless an
        invalidation happened since ``generation``. ``key=None``: not kept (the cache is off)."""
        if not self.max_size or key is None:  # an entry for this request alone, no lock to take
            self._misses += 1  # a statistic: a rare lost count under threads is harmless
            return CachedToken(record, -math.inf)  # never kept: no deadline to read the clock for
        now = self._clock()
        entry = CachedToken(record, now + self.ttl, filed_at=now)
        token_id = record.info.id
        with self._lock:
            self._misses += 1
            if generation != self.generation or not self.max_size:
                return entry
            entry.key = key
            previous = self._key_of.get(token_id)
            if previous is not None and previous != key:  # rotated: the old secret's entry goes
                self._entries.pop(previous, None)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._key_of[token_id] = key
            self._unknown.pop(key, None)
            while len(self._entries) > self.max_size:
                old_key, old = self._entries.popitem(last=False)
                if self._key_of.get(old.info.id) == old_key:
                    del self._key_of[old.info.id]
                self._evictions += 1
        return entry

    def put_unknown(self, key: bytes | None, generation: int) -> None:
        """Remember that no token is filed under ``key`` (for ``negative_ttl`` seconds)."""
        if self.negative_ttl <= 0 or key is None:
            return
        deadline = self._clock() + self.negative_ttl
        with self._lock:
            if generation != self.generation or not self.max_size:
                return
            self._unknown[key] = deadline
            self._unknown.move_to_end(key)
            while len(self._unknown) > self.max_size:
                self._unknown.popitem(last=False)

    # -- invalidation ---------------------------------------------------------------------

    def invalidate(self, token_id: str) -> None:
        """Drop what is cached for this token, at once."""
        with self._lock:
            self.generation += 1
            self._invalidations += 1
            cached = self._key_of.pop(token_id, None)
            if cached is not None:
                self._entries.pop(cached, None)

    def invalidate_many(self, token_ids: Sequence[str]) -> None:
        for token_id in token_ids:
            self.invalidate(token_id=token_id)

    def invalidate_owner(self, owner: str) -> None:
        """Drop every cached token of ``owner`` (a scan: owner revocations are rare)."""
        with self._lock:
            self.generation += 1
            self._invalidations += 1
            for key, entry in list(self._entries.items()):
                if entry.info.owner == owner:
                    del self._entries[key]
                    self._key_of.pop(entry.info.id, None)

    def clear(self) -> None:
        """Forget everything (used when invalidation messages may have been missed)."""
        with self._lock:
            self.generation += 1
            self._invalidations += 1
            self._entries.clear()
            self._key_of.clear()
            self._unknown.clear()

    def claim_touch(self, entry: CachedToken, now: float) -> bool:
        """True for exactly one caller once ``last_used_at`` is due to be written again."""
        with self._lock:
            if now < entry.touch_due:
                return False
            entry.touch_due = now + TOUCH_SECONDS
            return True

    def _discard(self, key: bytes, entry: CachedToken) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
                if self._key_of.get(entry.info.id) == key:
                    del self._key_of[entry.info.id]

    def stats(self) -> CacheStats:
        return CacheStats(
            size=len(self._entries), unknown=len(self._unknown), max_size=self.max_size,
            ttl=self.ttl, negative_ttl=self.negative_ttl, misses=self._misses,
            unknown_hits=self._unknown_hits, evictions=self._evictions,
            invalidations=self._invalidations,
        )

    def __repr__(self) -> str:
        return f"VerificationCache(size={len(self._entries)}/{self.max_size}, ttl={self.ttl}s)"


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def invalidation_plugin(value: str | object | None) -> object | None:
    """The guard's ``invalidation=`` option: ``None``, a ``redis://`` URL, or a plugin object."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.startswith(REDIS_SCHEMES):
            raise ValidationError("invalidation must be a redis://, rediss:// or unix:// URL, or a plugin",
                                  field="invalidation")
        from tokenguard.redis_invalidation import RedisInvalidation

        return RedisInvalidation(value)
    return value
