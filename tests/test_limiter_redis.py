"""The failed-attempt limiter shared through Redis: one count and one block for every instance.

Each "instance" is a guard with a limiter of its own (its own Redis connection and
memory), as two processes would have. Skipped without Redis, unless
TOKENGUARD_REQUIRE_SERVICES=1. Time is a fake clock: Redis's own TTLs run in real
time, so no test waits for one; lifting a block in Redis is done by deleting its key.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis

from tokenguard import InvalidToken, TokenGuard
from tokenguard import tokens as tokens_module
from tokenguard.errors import TooManyAttempts
from tokenguard.limiter import FailedAttemptLimiter
from tokenguard.redis_invalidation import RETRY_AFTER, RedisInvalidation
from tokenguard.redis_limiter import KEY_PREFIX, RedisFailedAttemptLimiter, address_tag
from tokenguard.stores.memory import MemoryStore

SECRET = "limiter-redis-secret-key-0123456789-abcdefghijkl"
#: Redis's TTLs run in real time: the limiters of these tests count for an hour, a margin no
#: test run comes near, so no outcome depends on how fast the machine is.
HOUR = timedelta(hours=1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FindCounter(MemoryStore):
    """A memory store that counts its look-ups by digest."""

    def __init__(self) -> None:
        super().__init__()
        self.finds = 0

    def find(self, digest: str) -> Any:
        self.finds += 1
        return super().find(digest)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, under ``tokenguard:limiter:``; its keys are deleted after."""
    value = f"{KEY_PREFIX}test-{secrets.token_hex(4)}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{value}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiters(redis_url: str, prefix: str, clock: FakeClock) -> Iterator[Any]:
    made: list[FailedAttemptLimiter] = []

    def make(max_failures: int = 4, url: str | None = None) -> RedisFailedAttemptLimiter:
        limiter = RedisFailedAttemptLimiter(url or redis_url, max_failures, HOUR, HOUR, key_prefix=prefix,
                                            clock=clock)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        limiter.close()


def instance(limiter: FailedAttemptLimiter, store: MemoryStore | None = None) -> TokenGuard:
    return TokenGuard(store or FindCounter(), secret_key=SECRET, limiter=limiter, load_entry_points=False,
                      max_tokens_per_owner=None)


def fail(guard: TokenGuard, remote: str) -> None:
    with pytest.raises(InvalidToken):
        guard.authenticate(tokens_module.generate("tg"), remote=remote)


def no_redis(limiter: RedisFailedAttemptLimiter, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, any command this limiter sends to Redis fails the test."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"Redis was asked: {args[:1]}")

    monkeypatch.setattr(limiter._redis, "execute_command", refuse)


def test_a_guard_with_redis_invalidation_limits_in_that_redis(redis_url: str) -> None:
    remote = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    guards = [TokenGuard(secret_key=SECRET, invalidation=invalidation, load_entry_points=False)
              for invalidation in (redis_url, RedisInvalidation(redis_url))]
    client = redis.Redis.from_url(redis_url)
    try:
        for guard in guards:
            limiter = guard.limiter
            assert isinstance(limiter, RedisFailedAttemptLimiter)
            assert limiter.url == redis_url and limiter.key_prefix == "tokenguard:limiter:"
            assert (limiter.max_failures, limiter.window, limiter.block_for) == (100, 60.0, 60.0)
            assert limiter in guard.plugins.get_plugins()
        failures_key = f"tokenguard:limiter:failures:{{{remote}}}"
        assert [guard.limiter.keys(remote)[0] for guard in guards] == [failures_key] * 2  # type: ignore[union-attr]
        fail(guards[0], remote)
        assert client.get(failures_key) == b"1"                     # (the counting of two: below)
        assert 0 < client.pttl(failures_key) <= 60_000
    finally:
        client.delete(f"tokenguard:limiter:failures:{{{remote}}}", f"tokenguard:limiter:blocked:{{{remote}}}")
        client.close()
        for guard in guards:
            assert guard.limiter is not None
            guard.limiter.close()
            guard.close()


def test_without_redis_invalidation_the_default_is_in_process() -> None:
    assert type(TokenGuard(secret_key=SECRET, load_entry_points=False).limiter) is FailedAttemptLimiter


def test_two_instances_share_the_count_and_the_block(
    limiters: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store = FindCounter()                                       # one database for both
    a, b = instance(limiters(4), store), instance(limiters(4), store)
    token = a.create_token("alice", "ci").token
    assert a.authenticate(token, remote="x").owner == "alice"   # warm on a
    fail(a, "203.0.113.7")
    fail(b, "203.0.113.7")
    fail(a, "203.0.113.7")
    assert not a.limiter.blocked and not b.limiter.blocked      # type: ignore[union-attr]
    fail(b, "203.0.113.7")                                      # the 4th, wherever it lands
    assert "203.0.113.7" in b.limiter.blocked                   # type: ignore[union-attr]
    store.finds = 0
    with pytest.raises(TooManyAttempts) as caught:              # a learns it from Redis, cold
        a.authenticate(tokens_module.generate("tg"), remote="203.0.113.7")
    assert 1 <= caught.value.retry_after <= 3600
    assert "203.0.113.7" in a.limiter.blocked                   # type: ignore[union-attr]
    with pytest.raises(TooManyAttempts):                        # and now refuses a warm token too
        a.authenticate(token, remote="203.0.113.7")
    with pytest.raises(TooManyAttempts):
        b.authenticate(token, remote="203.0.113.7")
    assert store.finds == 0
    assert a.authenticate(token, remote="203.0.113.8").owner == "alice"
    warnings = [r for r in caplog.records if r.name == "tokenguard.limiter"]
    assert len(warnings) == 1 and '"203.0.113.7"' in warnings[0].getMessage()
    blocked = [r for r in caplog.records if r.name == "tokenguard.audit" and "auth_blocked" in r.getMessage()]
    assert len(blocked) == 1


def test_keys_ttls_and_a_block_lifted_in_redis(
    limiters: Any, clock: FakeClock, prefix: str, redis_url: str,
) -> None:
    limiter = limiters(2)
    guard = instance(limiter)
    client = redis.Redis.from_url(redis_url)
    failures, blocked = limiter.keys("192.0.2.1")
    assert (failures, blocked) == (f"{prefix}failures:{{192.0.2.1}}", f"{prefix}blocked:{{192.0.2.1}}")
    fail(guard, "192.0.2.1")
    assert client.get(failures) == b"1" and 0 < client.pttl(failures) <= 3_600_000
    fail(guard, "192.0.2.1")
    assert client.exists(failures) == 0                         # the next window opens afresh
    assert 0 < client.pttl(blocked) <= 3_600_000
    assert limiter.is_blocked("192.0.2.1")
    clock.now += 3601                                           # this mirror's block is over, but
    assert limiter.is_blocked("192.0.2.1")                      # Redis still holds it: refused
    client.delete(blocked)                                      # Redis lifts it (its TTL ran out)
    clock.now += 3601
    assert not limiter.is_blocked("192.0.2.1")
    fail(guard, "192.0.2.1")
    assert client.get(failures) == b"1"
    client.close()


def test_the_warm_path_never_asks_redis(limiters: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = limiters(2)
    guard = instance(limiter)
    token = guard.create_token("alice", "ci").token
    assert guard.authenticate(token, remote="192.0.2.2").owner == "alice"   # cold: asks Redis once
    fail(guard, "192.0.2.3")
    fail(guard, "192.0.2.3")                                                # blocked, mirrored here
    no_redis(limiter, monkeypatch)
    for _ in range(3):
        assert guard.authenticate(token, remote="192.0.2.2").owner == "alice"
        assert guard.authenticate_cached(token, remote="192.0.2.2") is not None
        with pytest.raises(TooManyAttempts):
            guard.authenticate(token, remote="192.0.2.3")
        with pytest.raises(TooManyAttempts):                                # cold, but mirrored
            guard.authenticate(tokens_module.generate("tg"), remote="192.0.2.3")


def test_on_an_event_loop_nothing_is_sent_to_redis(limiters: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ASGI app answers known-unknown tokens from its cache, inline: that must not block on Redis."""
    limiter = limiters(3)
    guard = instance(limiter)
    unknown = tokens_module.generate("tg")
    fail(guard, "192.0.2.4")                                   # in a thread: counted in Redis
    with pytest.raises(InvalidToken):
        guard.authenticate(unknown, remote="192.0.2.5")        # now remembered as unknown
    no_redis(limiter, monkeypatch)

    async def inline() -> list[str]:
        outcomes = []
        for _ in range(4):
            try:
                guard.authenticate_cached(unknown, remote="192.0.2.5")
            except TooManyAttempts:
                outcomes.append("blocked")
            except InvalidToken:
                outcomes.append("invalid")
        return outcomes

    # counted in this process (the one failure in Redis is not among them), blocked at the 3rd
    assert asyncio.run(inline()) == ["invalid", "invalid", "invalid", "blocked"]
    assert "192.0.2.5" in limiter.blocked


def test_redis_down_fails_open_logs_once_and_counts_in_process(
    limiters: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:                             # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = limiters(3, url=f"redis://127.0.0.1:{port}/0")
    guard = instance(limiter)
    token = guard.create_token("alice", "ci").token
    caplog.set_level(logging.INFO)
    sent = []
    original = limiter._redis.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        sent.append(args[0])
        return original(*args, **kwargs)

    limiter._redis.execute_command = counting  # type: ignore[method-assign]
    for _ in range(20):                                        # a valid token is never refused
        assert guard.authenticate(token, remote="192.0.2.6").owner == "alice"
        guard.cache.clear()                                    # every one cold: checked each time
    assert len(sent) == 1                                      # then Redis rests
    fail(guard, "192.0.2.7")
    fail(guard, "192.0.2.7")
    fail(guard, "192.0.2.7")
    assert limiter.is_blocked("192.0.2.7")                     # the same bound, in this process
    assert guard.authenticate(token, remote="192.0.2.6").owner == "alice"
    assert len(sent) == 1
    clock.now += RETRY_AFTER
    guard.cache.clear()
    assert guard.authenticate(token, remote="192.0.2.6").owner == "alice"
    assert len(sent) == 2                                      # tried again, still down
    outage = [r for r in caplog.records if r.name == "tokenguard.limiter" and "unavailable" in r.getMessage()]
    assert len(outage) == 1 and "ConnectionError" in outage[0].getMessage()


def test_after_an_outage_the_count_is_shared_again(
    limiters: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    a, b = limiters(3), limiters(3)
    guard_a, guard_b = instance(a), instance(b)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    with monkeypatch.context() as patch:
        patch.setattr(a._redis, "execute_command", down)
        fail(guard_a, "192.0.2.8")                             # counted in a's process only
        fail(guard_a, "192.0.2.8")
    clock.now += RETRY_AFTER
    fail(guard_a, "192.0.2.8")                                 # Redis: 1
    fail(guard_b, "192.0.2.8")                                 # Redis: 2
    assert not a.is_blocked("192.0.2.8")
    fail(guard_b, "192.0.2.8")                                 # Redis: 3
    assert a.is_blocked("192.0.2.8") and b.is_blocked("192.0.2.8")
    messages = [r.getMessage() for r in caplog.records if r.name == "tokenguard.limiter"]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("again" in m for m in messages) == 1


def test_concurrent_failures_on_two_instances_block_exactly_once(
    limiters: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store = FindCounter()
    guards = [instance(limiters(50), store), instance(limiters(50), store)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def attack(guard: TokenGuard) -> None:
        for _ in range(20):
            try:
                guard.authenticate(tokens_module.generate("tg"), remote="9.9.9.9")
                result = "accepted"
            except TooManyAttempts:
                result = "blocked"
            except InvalidToken:
                result = "invalid"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attack, args=(guards[n % 2],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 160 and "accepted" not in outcomes
    # A check and a count race, so a few in-flight attempts may pass the check, never many;
    # the count itself is atomic: the block is set, logged and audited exactly once.
    assert 50 <= outcomes.count("invalid") <= 50 + 8
    assert store.finds == outcomes.count("invalid")
    warnings = [r for r in caplog.records if r.name == "tokenguard.limiter"]
    assert len(warnings) == 1


def test_an_address_that_could_not_be_a_key_is_digested() -> None:
    assert address_tag("203.0.113.7") == "203.0.113.7"
    assert address_tag("2001:db8::1") == "2001:db8::1"
    for hostile in ["1.2.3.4\r\nDEL x", "a}b", "x" * 65, "é"]:
        tag = address_tag(hostile)
        assert tag.startswith("sha256:") and len(tag) == 39 and tag.isascii() and tag.isprintable()
    assert address_tag("a}b") != address_tag("a}c")
