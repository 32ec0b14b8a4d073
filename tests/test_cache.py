"""The verification cache: hits skip the store, every change is seen at once, size and age are bounded."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from _testclock import ManualClock as Clock
from tokenguard import (
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    MemoryStore,
    RevokedToken,
    TokenGuard,
    TokenRecord,
    ValidationError,
    tokens,
)
from tokenguard.cache import VerificationCache, live_caches
from tokenguard.stores.base import TokenChanges

KEY = "cache-test-key-0123456789abcdefghijklmnop"
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)




class CountingStore(MemoryStore):
    """A real memory store that counts look-ups and writes, across threads."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._count_lock:
            self.calls[name] += 1

    def find(self, digest: str) -> TokenRecord | None:
        self._count("find")
        return super().find(digest)

    def touch(self, token_id: str, at: datetime) -> None:
        self._count("touch")
        super().touch(token_id, at)


def make_guard(store: MemoryStore, **options: object) -> TokenGuard:
    return TokenGuard(store, secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None,
                      **options)  # type: ignore[arg-type]


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(store: CountingStore, clock: Clock) -> TokenGuard:
    return make_guard(store, clock=clock)


# -- hits -----------------------------------------------------------------------------------


def test_a_warm_token_costs_no_store_look_up(guard: TokenGuard, store: CountingStore) -> None:
    token = guard.create_token("alice", "ci", scopes=["write"]).token
    infos = [guard.authenticate(token) for _ in range(200)]
    assert store.calls["find"] == 1
    assert {info.id for info in infos} == {infos[0].id}
    assert infos[-1].has_scope("read") and infos[-1].effective_scopes == {"read", "write"}
    guard.require(infos[-1], "read")
    with pytest.raises(InsufficientScope):
        guard.require(infos[-1], "management")


def test_the_cache_is_keyed_by_digest_never_by_the_token(guard: TokenGuard) -> None:
    token = guard.create_token("alice", "ci").token
    guard.authenticate(token)
    keys = list(guard.cache._entries)
    body = token.partition("_")[2].encode()
    assert keys == [guard.cache.probe(token)]
    assert keys[0] == hashlib.blake2s(f"Bearer {token}".encode()).digest()
    assert all(body not in key and body[:8] not in key for key in keys)
    changed = token[:-1] + ("x" if token[-1] != "x" else "y")
    assert guard.cache.probe(token) != guard.cache.probe(changed)
    assert body.decode() not in repr(guard.cache) and body.decode() not in repr(guard.cache.stats())


def test_expiry_is_checked_at_every_use_even_on_a_hit(store: CountingStore, clock: Clock) -> None:
    guard = make_guard(store, clock=clock, cache_ttl=timedelta(minutes=1))  # the entry outlives the token
    token = guard.create_token("alice", "ci", expires_in=timedelta(seconds=30)).token
    guard.authenticate(token)
    clock.advance(seconds=29)
    guard.authenticate(token)
    clock.advance(seconds=1)
    with pytest.raises(ExpiredToken):
        guard.authenticate(token)
    assert store.calls["find"] == 1  # refused from the cached record, no look-up needed


def test_last_use_is_still_written_once_a_minute_from_cache_hits(store: CountingStore, clock: Clock) -> None:
    guard = make_guard(store, clock=clock, cache_ttl=timedelta(minutes=5))  # one entry all along
    token = guard.create_token("alice", "ci").token
    assert guard.authenticate(token).last_used_at == START
    for _ in range(20):
        guard.authenticate(token)
    clock.advance(seconds=59)
    assert guard.authenticate(token).last_used_at == START
    clock.advance(seconds=1)
    assert guard.authenticate(token).last_used_at == START + timedelta(minutes=1)
    assert guard.authenticate(token).last_used_at == START + timedelta(minutes=1)
    assert store.calls == {"find": 1, "touch": 2}


def test_concurrent_hits_write_last_use_once(store: CountingStore) -> None:
    guard = make_guard(store, clock=Clock())  # the entry stays, however slow the threads
    token = guard.create_token("alice", "ci").token
    guard.authenticate(token)
    entry = guard.cache.get(guard.cache.probe(token))
    assert entry is not None
    entry.touch_due = 0.0  # due now, for every thread at once
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            guard.authenticate(token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert store.calls["touch"] == 2  # the first use, then exactly one more


# -- every change is seen at once in the same process ---------------------------------------


def _kill(guard: TokenGuard, action: str, token_id: str, token: str) -> type[Exception]:
    if action == "revoke":
        guard.revoke(token_id)
        return RevokedToken
    if action == "revoke_by_value":
        guard.revoke_by_value(token)
        return RevokedToken
    if action == "revoke_owner":
        assert guard.revoke_owner("alice") >= 1
        return RevokedToken
    if action == "rotate":
        guard.rotate(token_id)
        return InvalidToken
    guard.delete(token_id)
    return InvalidToken


@pytest.mark.parametrize("action", ["revoke", "revoke_by_value", "revoke_owner", "rotate", "delete"])
def test_every_way_of_killing_a_token_is_seen_by_the_next_request(
    guard: TokenGuard, action: str
) -> None:
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    assert len(guard.cache) == 1
    refused = _kill(guard, action, issued.info.id, issued.token)
    with pytest.raises(refused):
        guard.authenticate(issued.token)


def test_a_rotated_token_works_at_once_and_the_old_secret_never_again(
    guard: TokenGuard, store: CountingStore
) -> None:
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    new = guard.rotate(issued.info.id)
    assert guard.authenticate(new.token).id == issued.info.id
    for _ in range(3):
        with pytest.raises(InvalidToken):
            guard.authenticate(issued.token)
    assert list(guard.cache._entries) == [guard.cache.probe(new.token)]


def test_revoking_a_parent_drops_its_cached_children(guard: TokenGuard) -> None:
    parent = guard.create_token("alice", "parent", scopes=["management"])
    child = guard.create_token("alice", "child", scopes=["read"], parent=parent.info)
    guard.authenticate(child.token)
    guard.revoke(parent.info.id)
    with pytest.raises(RevokedToken):
        guard.authenticate(child.token)


def test_reapprove_and_project_changes_are_seen_at_once(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "ci", projects=["alpha"])
    guard.require(guard.authenticate(issued.token), "read", project="alpha")
    guard.update_token(issued.info.id, projects=["beta"])
    info = guard.authenticate(issued.token)
    assert info.projects == {"beta"}
    with pytest.raises(InsufficientScope):
        guard.require(info, "read", project="alpha")
    guard.revoke(issued.info.id)
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    guard.reapprove(issued.info.id)
    assert guard.authenticate(issued.token).status == "active"
    guard.update_token(issued.info.id, name="renamed")
    assert guard.authenticate(issued.token).name == "renamed"


class SlowFindStore(MemoryStore):
    """Reads the record, then waits: a look-up that straddles a concurrent revoke."""

    def __init__(self) -> None:
        super().__init__()
        self.read = threading.Event()
        self.release = threading.Event()
        self.slow = False

    def find(self, digest: str) -> TokenRecord | None:
        record = super().find(digest)
        if self.slow:
            self.slow = False
            self.read.set()
            assert self.release.wait(10)
        return record


def test_a_look_up_that_raced_with_a_revoke_is_not_cached() -> None:
    store = SlowFindStore()
    guard = make_guard(store)
    issued = guard.create_token("alice", "ci")
    store.slow = True
    outcome: list[object] = []
    racer = threading.Thread(target=lambda: outcome.append(guard.authenticate(issued.token)))
    racer.start()
    assert store.read.wait(10)  # the racer holds the record as it was before the revoke
    guard.revoke(issued.info.id)
    store.release.set()
    racer.join(10)
    assert len(outcome) == 1  # it began before the revoke returned: accepted
    assert len(guard.cache) == 0
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)


# -- age ------------------------------------------------------------------------------------


def test_a_change_made_elsewhere_is_seen_once_the_entry_ages_out(store: CountingStore) -> None:
    """Two guards on one store without invalidation: the other sees a revoke within the TTL.

    On the reader's clock, moved by hand: how fast the machine is changes nothing."""
    clock = Clock()
    reader = make_guard(store, clock=clock, cache_ttl=0.3)
    writer = make_guard(store, clock=clock, cache_ttl=None)
    issued = writer.create_token("alice", "ci")
    reader.authenticate(issued.token)
    writer.store.update(issued.info.id, TokenChanges(revoked_at=START))  # as another process would
    reader.authenticate(issued.token)  # still the cached record: the documented staleness
    clock.advance(seconds=0.29)
    reader.authenticate(issued.token)
    clock.advance(seconds=0.01)  # the TTL has passed since the entry was filed
    with pytest.raises(RevokedToken):
        reader.authenticate(issued.token)


def test_entries_age_out_on_the_guard_clock(store: CountingStore, clock: Clock) -> None:
    guard = make_guard(store, clock=clock, cache_ttl=5)
    token = guard.create_token("alice", "ci").token
    guard.authenticate(token)
    clock.advance(seconds=4.9)
    assert guard.authenticate_cached(token) is not None  # warm, from memory
    assert store.calls["find"] == 1
    clock.advance(seconds=0.1)
    assert guard.authenticate_cached(token) is None  # aged out: the store is asked again
    guard.authenticate(token)
    assert store.calls["find"] == 2  # read again: the age counts from the read, not the last hit
    clock.advance(seconds=4.9)
    guard.authenticate(token)
    assert store.calls["find"] == 2


def test_an_entry_filed_after_the_clock_now_reads_is_stale(store: CountingStore, clock: Clock) -> None:
    """A clock set back (the wall clock stepped) never makes an entry outlive its TTL."""
    guard = make_guard(store, clock=clock, cache_ttl=5)
    token = guard.create_token("alice", "ci").token
    guard.authenticate(token)
    assert guard.authenticate_cached(token) is not None
    clock.advance(seconds=-1)
    assert guard.authenticate_cached(token) is None
    guard.authenticate(token)
    assert store.calls["find"] == 2
    assert guard.authenticate_cached(token) is not None  # filed again at the new reading


def test_cache_ttl_none_disables_the_cache(store: CountingStore) -> None:
    guard = make_guard(store, cache_ttl=None)
    token = guard.create_token("alice", "ci").token
    for _ in range(5):
        guard.authenticate(token)
    assert store.calls["find"] == 5 and len(guard.cache) == 0 and not guard.cache.enabled
    with pytest.raises(InvalidToken):
        guard.authenticate(tokens.generate("tg"))
    with pytest.raises(InvalidToken):
        guard.authenticate(tokens.generate("tg"))
    assert store.calls["find"] == 7


@pytest.mark.parametrize("ttl", [timedelta(seconds=2), 2, 2.0])
def test_ttl_accepts_seconds_or_a_timedelta(store: CountingStore, ttl: object) -> None:
    assert make_guard(store, cache_ttl=ttl).cache.ttl == 2.0


@pytest.mark.parametrize("options", [
    {"cache_ttl": -1}, {"cache_ttl": float("nan")}, {"cache_ttl": "5"}, {"cache_ttl": True},
    {"cache_size": -1}, {"cache_size": 1.5}, {"cache_size": True},
    {"invalidation": "http://127.0.0.1:6379"}, {"invalidation": "127.0.0.1:6379"},
])
def test_bad_cache_options_fail_at_construction(store: CountingStore, options: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        make_guard(store, **options)
    assert caught.value.field in {"cache_ttl", "cache_size", "invalidation"}


# -- size -----------------------------------------------------------------------------------


def test_size_is_bounded_and_the_entry_filed_longest_ago_goes_first(store: CountingStore) -> None:
    """A hit changes nothing (no bookkeeping on the hot path); an entry is filed anew each TTL."""
    clock = Clock()
    guard = make_guard(store, cache_size=3, clock=clock, cache_ttl=5)
    made = [guard.create_token("alice", f"t{i}").token for i in range(4)]
    guard.authenticate(made[0])
    clock.advance(seconds=3)
    for token in made[1:3]:
        guard.authenticate(token)
    guard.authenticate(made[0])  # a hit: made[0] is still the entry filed longest ago
    guard.authenticate(made[3])  # evicts made[0]
    assert len(guard.cache) == 3 and guard.cache.stats().evictions == 1
    store.calls.clear()
    for token in made[1:]:
        guard.authenticate(token)
    assert store.calls["find"] == 0
    guard.authenticate(made[0])  # filed anew, evicting made[1], the oldest now
    assert store.calls["find"] == 1
    clock.advance(seconds=2)  # made[0]'s first entry would be stale by now: refiled, it is not
    store.calls.clear()
    for token in (made[0], made[2], made[3]):
        guard.authenticate(token)
    assert store.calls["find"] == 0


def test_the_cache_never_grows_past_its_size_under_threads(store: CountingStore) -> None:
    guard = make_guard(store, cache_size=16)
    made = [guard.create_token(f"user{i % 5}", f"t{i}") for i in range(64)]
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for round_ in range(30):
                for issued in made[offset::4]:
                    with contextlib.suppress(RevokedToken):
                        guard.authenticate(issued.token)
                    if round_ == 10 and offset == 0:
                        guard.revoke(issued.info.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(guard.cache) <= 16 and len(guard.cache._key_of) <= 16
    for issued in made[0::4]:
        with pytest.raises(RevokedToken):
            guard.authenticate(issued.token)
    for issued in made[1::4]:
        assert guard.authenticate(issued.token).id == issued.info.id


def test_bytes_per_cached_token_are_bounded(store: CountingStore) -> None:
    """What an entry costs (record, info, index), measured with tracemalloc."""
    guard = make_guard(store, cache_size=5000)
    made = [guard.create_token(f"user{i % 50}", f"token {i}", scopes=["write"]).token
            for i in range(2000)]
    warm = make_guard(store, cache_ttl=None)
    for token in made:  # last use written beforehand, so the store does not grow meanwhile
        warm.authenticate(token)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for token in made:
            guard.authenticate(token)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_entry = grown / len(made)
    assert len(guard.cache) == 2000
    print(f"{per_entry:.0f} bytes per cached token")
    assert 100 < per_entry < 2000, per_entry


# -- unknown tokens -------------------------------------------------------------------------


def test_a_repeated_unknown_token_costs_one_look_up(guard: TokenGuard, store: CountingStore) -> None:
    guard.cache = VerificationCache(clock=lambda: 0.0)  # remembered, however slow the hundred tries
    unknown = tokens.generate("tg")
    for _ in range(100):
        with pytest.raises(InvalidToken, match="unknown"):
            guard.authenticate(unknown)
    assert store.calls["find"] == 1
    assert guard.cache.stats().unknown == 1 and guard.cache.stats().unknown_hits == 99


def test_unknown_tokens_age_out_and_are_bounded(store: CountingStore) -> None:
    clock = Clock()
    guard = make_guard(store, clock=clock)
    guard.cache = cache = VerificationCache(5, 4, negative_ttl=1.0, clock=guard._now)
    unknown = [tokens.generate("tg") for _ in range(6)]
    for token in unknown:
        with pytest.raises(InvalidToken):
            guard.authenticate(token)
    assert cache.stats().unknown == 4  # bounded: the oldest two were forgotten
    store.calls.clear()
    with pytest.raises(InvalidToken):
        guard.authenticate(unknown[0])
    with pytest.raises(InvalidToken):
        guard.authenticate(unknown[5])
    assert store.calls["find"] == 1
    clock.advance(seconds=1)
    with pytest.raises(InvalidToken):
        guard.authenticate(unknown[5])
    assert store.calls["find"] == 2


def test_malformed_tokens_never_reach_cache_or_store(guard: TokenGuard, store: CountingStore) -> None:
    good = guard.create_token("alice", "ci").token
    for bad in ("", "tg_short", good[:-1] + ("A" if good[-1] != "A" else "B"), None, 42):
        with pytest.raises(InvalidToken):
            guard.authenticate(bad)
    assert store.calls["find"] == 0 and guard.cache.stats().unknown == 0


# -- key rotation -----------------------------------------------------------------------------


def test_tokens_under_an_old_key_are_cached_too(store: CountingStore) -> None:
    old = make_guard(store, cache_ttl=None)
    token = old.create_token("alice", "ci").token
    both = TokenGuard(store, secret_key=["n" * 40, KEY], load_entry_points=False)
    for _ in range(10):
        assert both.authenticate(token).owner == "alice"
    assert store.calls["find"] == 2  # new key: unknown (remembered), old key: found (cached)
    issued = both.create_token("bob", "new")
    for _ in range(10):
        assert both.authenticate(issued.token).owner == "bob"
    assert store.calls["find"] == 3


# -- the registry the Redis plugin reaches ----------------------------------------------------


def test_every_live_cache_is_reachable_and_dropped_ones_are_not(store: CountingStore) -> None:
    guard = make_guard(store)
    assert guard.cache in live_caches()
    cache_id = id(guard.cache)
    del guard
    import gc

    gc.collect()
    assert cache_id not in {id(c) for c in live_caches()}


def test_owner_invalidation_drops_only_that_owner(store: CountingStore) -> None:
    guard = make_guard(store)
    alice = guard.create_token("alice", "a").token
    bob = guard.create_token("bob", "b").token
    guard.authenticate(alice)
    guard.authenticate(bob)
    generation = guard.cache.generation
    guard.cache.invalidate_owner("alice")
    assert guard.cache.generation > generation
    assert [e.info.owner for e in guard.cache._entries.values()] == ["bob"]


def _timed(fn: Callable[[], object], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds


def test_a_hit_is_cheaper_than_a_look_up(store: CountingStore) -> None:
    """A coarse guard against a cache that is slower than no cache (the benchmarks measure it)."""
    cached = make_guard(store)
    uncached = make_guard(store, cache_ttl=None)
    token = cached.create_token("alice", "ci").token
    cached.authenticate(token)
    hit = min(_timed(lambda: cached.authenticate(token), 2000) for _ in range(5))
    miss = min(_timed(lambda: uncached.authenticate(token), 2000) for _ in range(5))
    assert hit < miss


def test_a_plugin_registered_later_sees_every_authentication_that_may_reach_the_store(
    guard: TokenGuard,
) -> None:
    """``before_authenticate`` runs before a look-up that may reach the store, never on a warm hit."""
    from tokenguard import hookimpl

    seen: list[str | None] = []

    class Limiter:
        @hookimpl
        def tokenguard_before_authenticate(self, remote: str | None) -> None:
            seen.append(remote)

    token = guard.create_token("alice", "ci").token
    cold = guard.create_token("alice", "cold").token
    guard.authenticate(token, remote="10.0.0.1")
    limiter = Limiter()
    guard.plugins.register(limiter)
    guard.authenticate(token, remote="10.0.0.2")  # warm: no hook call
    guard.authenticate(cold, remote="10.0.0.3")  # cold: the hook first
    guard.plugins.unregister(limiter)
    guard.authenticate(token, remote="10.0.0.4")
    assert seen == ["10.0.0.3"]


def test_presented_infos_keep_every_field(guard: TokenGuard, clock: Clock) -> None:
    """The fast copy behind every store read drops or shifts no field of TokenInfo."""
    import dataclasses

    from tokenguard.cache import with_effective_scopes

    parent = guard.create_token("alice", "parent", scopes=["management"], projects=["alpha"])
    child = guard.create_token("alice", "child", scopes=["write"], projects=["alpha"], parent=parent.info,
                               token_id="child-1")
    guard.revoke(child.info.id)
    stored = guard.store.get("child-1")
    assert stored is not None
    copied = with_effective_scopes(stored.info, frozenset({"x"}))
    for field in dataclasses.fields(stored.info):
        expected = frozenset({"x"}) if field.name == "effective_scopes" else getattr(stored.info, field.name)
        assert getattr(copied, field.name) == expected, field.name
    assert guard.get_token("child-1").effective_scopes == {"read", "write"}


def test_cached_tokens_share_their_scope_and_project_sets(store: CountingStore) -> None:
    from tokenguard.stores.sqlalchemy import SQLAlchemyStore

    guard = make_guard(SQLAlchemyStore("sqlite://"))  # fresh objects on every read, like any database
    first = guard.authenticate(guard.create_token("alice", "a", scopes=["write"]).token)
    second = guard.authenticate(guard.create_token("bob", "b", scopes=["write"]).token)
    assert first.scopes == second.scopes == {"write"} and first.scopes is second.scopes
    assert first.projects == second.projects == frozenset() and first.projects is second.projects
    guard.close()


# -- answering from memory alone (event loops) ------------------------------------------------


def test_authenticate_cached_answers_warm_tokens_without_the_store(
    store: CountingStore, clock: Clock,
) -> None:
    guard = make_guard(store, clock=clock, cache_ttl=timedelta(hours=1))  # one entry throughout
    issued = guard.create_token("alice", "ci", expires_in=timedelta(minutes=10))
    assert guard.authenticate_cached(issued.token) is None  # cold: the store is needed
    assert store.calls == {}
    guard.authenticate(issued.token)
    calls = dict(store.calls)
    info = guard.authenticate_cached(issued.token)
    assert info is not None and info.id == issued.info.id and info.has_scope("read")
    assert guard.authenticate_cached("tg_garbage") is None  # refused by authenticate(), with hooks
    assert guard.authenticate_cached(tokens.generate("tg")) is None
    clock.advance(seconds=61)  # last use is due: a write, so not from memory
    assert guard.authenticate_cached(issued.token) is None
    assert dict(store.calls) == calls
    guard.authenticate(issued.token)
    clock.advance(minutes=10)
    with pytest.raises(ExpiredToken):
        guard.authenticate_cached(issued.token)
    assert dict(store.calls) == {"find": 1, "touch": 2}


def test_authenticate_cached_refuses_a_revoked_token_it_holds(
    guard: TokenGuard, store: CountingStore
) -> None:
    other = make_guard(store)  # same store, its own cache, same process (an app and a sub-app)
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    other.revoke(issued.info.id)
    assert guard.authenticate_cached(issued.token) is None  # every cache of the process forgot it
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    with pytest.raises(RevokedToken):
        guard.authenticate_cached(issued.token)


def test_authenticate_cached_calls_before_hooks_only_before_the_store(
    guard: TokenGuard,
) -> None:
    from tokenguard import hookimpl

    seen: list[str | None] = []

    class Watcher:
        @hookimpl
        def tokenguard_before_authenticate(self, remote: str | None) -> None:
            seen.append(remote)

    guard.plugins.register(Watcher())
    token = guard.create_token("alice", "ci").token
    assert guard.authenticate_cached(token, remote="cold") is None
    guard.authenticate(token, remote="thread")
    assert guard.authenticate_cached(token, remote="warm") is not None
    assert seen == ["thread"]


def test_authenticate_cached_refuses_a_remembered_unknown_token_with_its_hooks(
    guard: TokenGuard, store: CountingStore
) -> None:
    from tokenguard import hookimpl

    failures: list[tuple[str, str | None]] = []

    class Watcher:
        @hookimpl
        def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
            failures.append((reason, remote))

    guard.plugins.register(Watcher())
    unknown = tokens.generate("tg")
    assert guard.authenticate_cached(unknown) is None  # not yet known to be unknown: ask the store
    with pytest.raises(InvalidToken, match="unknown"):
        guard.authenticate(unknown, remote="thread")
    for _ in range(3):  # remembered: refused from memory, in the event loop
        with pytest.raises(InvalidToken, match="unknown"):
            guard.authenticate_cached(unknown, remote="loop")
    assert store.calls["find"] == 1
    assert failures == [("unknown", "thread")] + [("unknown", "loop")] * 3


def test_an_rfc8959_token_is_one_cache_entry_with_the_plain_one(
    guard: TokenGuard, store: CountingStore
) -> None:
    issued = guard.create_token("alice", "ci")
    assert guard.authenticate("secret-token:" + issued.token).id == issued.info.id
    info = guard.authenticate_cached("secret-token:" + issued.token)
    assert info is not None and guard.authenticate_cached(issued.token) is info
    assert len(guard.cache) == 1 and store.calls["find"] == 1


def test_authenticate_cached_takes_the_raw_bytes_of_a_canonical_token_only(
    guard: TokenGuard, store: CountingStore
) -> None:
    issued = guard.create_token("alice", "ci")
    raw = issued.token.encode("ascii")
    assert guard.authenticate_cached(raw) is None  # cold
    guard.authenticate(issued.token)
    info = guard.authenticate_cached(raw)
    assert info is not None and info.id == issued.info.id
    for other in (b"secret-token:" + raw, raw + b" ", raw.upper(), raw[:-1], b"", "é".encode() + raw[2:]):
        assert guard.authenticate_cached(other) is None  # not canonical: the caller's full checks
    unknown = tokens.generate("tg")
    with pytest.raises(InvalidToken):
        guard.authenticate(unknown)
    with pytest.raises(InvalidToken, match="unknown"):
        guard.authenticate_cached(unknown.encode("ascii"))  # remembered, refused from memory
    assert store.calls["find"] == 2


def test_revocation_and_introspection_by_value_ask_the_store_not_the_cache(store: CountingStore) -> None:
    """Two processes on one store, no Redis: what the other did within the cache age counts."""
    here, there = make_guard(store), make_guard(store)
    issued = here.create_token("alice", "ci")
    here.authenticate(issued.token)  # cached here
    rotated = there.rotate(issued.info.id).token
    assert here.revoke_by_value(issued.token) is None  # the old secret no longer names the token
    assert here.introspect(issued.token) is None
    assert there.authenticate(rotated).id == issued.info.id  # the new secret was not revoked
    here.authenticate(rotated)
    there.revoke(issued.info.id)
    introspected = here.introspect(rotated)
    assert introspected is not None and introspected.status == "revoked"
    there.delete(issued.info.id)
    assert here.revoke_by_value(rotated) is None  # gone: ignored, as RFC 7009 says, not an error


# -- the header value, as a server hands it over --------------------------------------------


def test_authenticate_bearer_answers_the_plain_header_value_of_a_warm_token(guard: TokenGuard) -> None:
    issued = guard.create_token("alice", "ci")
    value = f"Bearer {issued.token}"
    assert guard.authenticate_bearer(value) is None  # cold: the store is needed
    guard.authenticate(issued.token)
    for form in (value, value.encode()):
        found = guard.authenticate_bearer(form)
        assert found is not None and found.id == issued.info.id


@pytest.mark.parametrize("shape", [
    "bearer {}", "BEARER {}", "Bearer  {}", " Bearer {}", "Bearer {} ", "Bearer\t{}", "Basic {}",
    "Bearer {}x", "Bearer secret-token:{}", "{}",
])
def test_authenticate_bearer_leaves_every_other_form_to_the_full_checks(
    guard: TokenGuard, shape: str,
) -> None:
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    assert guard.authenticate_bearer(f"Bearer {issued.token}") is not None
    assert guard.authenticate_bearer(shape.format(issued.token)) is None
    assert guard.authenticate_bearer(shape.format(issued.token).encode()) is None


def test_authenticate_bearer_hashes_nothing_before_length_prefix_and_alphabet_pass(
    guard: TokenGuard,
) -> None:
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    hashed: list[bytes] = []
    digest = guard.cache.digest
    guard.cache.digest = lambda data: hashed.append(data) or digest(data)
    body = issued.token.partition("_")[2]
    refused = [f"Bearer xx_{body}", f"Bearer tg_{body[:-1]}-", f"Bearer tg_{body[:-1]}é",
               f"Bearer tg_{body}=", f"Bearer tg_{body[:-1]}", "Bearer " + "A" * len(issued.token),
               f"Bearer tg_{body}".encode("utf-16-le"), 42, None, ["Bearer"]]
    for value in refused:
        assert guard.authenticate_bearer(value) is None
    assert hashed == []
    assert guard.authenticate_bearer(f"Bearer {issued.token}") is not None
    assert hashed == [f"Bearer {issued.token}".encode()]
