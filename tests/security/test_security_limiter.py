"""The optional failed-attempt limiter: off by default, slows and logs brute force per address."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pytest
from _security_helpers import SECRET, CountingStore

from tokenguard import InvalidToken, TokenGuard, ValidationError
from tokenguard import tokens as tokens_module
from tokenguard.errors import AuthenticationError, TooManyAttempts
from tokenguard.limiter import FailedAttemptLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_guard(limiter: FailedAttemptLimiter | None) -> tuple[TokenGuard, CountingStore]:
    store = CountingStore()
    plugins = [limiter] if limiter is not None else []
    guard = TokenGuard(store, secret_key=SECRET, plugins=plugins, load_entry_points=False,
                       max_tokens_per_owner=None)
    return guard, store


def fail(guard: TokenGuard, remote: str, garbage: str = "tg_nope") -> None:
    with pytest.raises(InvalidToken):
        guard.authenticate(garbage, remote=remote)


def test_off_by_default_any_number_of_failures_is_never_throttled() -> None:
    guard, _ = make_guard(None)
    token = guard.create_token("alice", "ci").token
    for _ in range(200):
        fail(guard, "10.0.0.1")
    assert guard.authenticate(token, remote="10.0.0.1").owner == "alice"
    assert not any(isinstance(p, FailedAttemptLimiter) for p in guard.plugins.get_plugins())


def test_blocks_after_max_failures_without_touching_storage() -> None:
    clock = FakeClock()
    limiter = FailedAttemptLimiter(5, timedelta(minutes=1), timedelta(minutes=5), clock=clock)
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    for _ in range(5):
        fail(guard, "10.0.0.1")
    assert limiter.is_blocked("10.0.0.1")
    store.reset()
    with pytest.raises(TooManyAttempts) as caught:
        guard.authenticate(token, remote="10.0.0.1")   # even the right token is refused
    assert caught.value.status_code == 429
    assert isinstance(caught.value, AuthenticationError)
    assert 1 <= caught.value.retry_after <= 300
    assert store.calls == {}
    # other addresses are not affected; no address (remote=None) is never limited
    assert guard.authenticate(token, remote="10.0.0.2").owner == "alice"
    assert guard.authenticate(token).owner == "alice"


def test_block_expires_and_failures_outside_the_window_are_forgotten() -> None:
    clock = FakeClock()
    limiter = FailedAttemptLimiter(3, timedelta(seconds=60), timedelta(seconds=30), clock=clock)
    guard, _ = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    fail(guard, "a")
    fail(guard, "a")
    clock.now += 61                                   # the first two leave the window
    fail(guard, "a")
    fail(guard, "a")
    assert not limiter.is_blocked("a")
    fail(guard, "a")
    assert limiter.is_blocked("a")
    clock.now += 29
    with pytest.raises(TooManyAttempts) as caught:
        guard.authenticate(token, remote="a")
    assert caught.value.retry_after == 1
    clock.now += 1
    assert guard.authenticate(token, remote="a").owner == "alice"


def test_block_is_logged_once_newline_safe_and_audited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    limiter = FailedAttemptLimiter(2, clock=FakeClock())
    guard, _ = make_guard(limiter)
    remote = "1.2.3.4\nforged line"
    fail(guard, remote)
    fail(guard, remote)
    for _ in range(3):
        with pytest.raises(TooManyAttempts):
            guard.authenticate("tg_x", remote=remote)
    warnings = [r for r in caplog.records if r.name == "tokenguard.limiter"]
    assert len(warnings) == 1
    assert "\n" not in warnings[0].getMessage()
    assert '"1.2.3.4\\nforged line"' in warnings[0].getMessage()
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tokenguard.audit"]
    blocked = [e for e in events if e["event"] == "auth_blocked"]
    assert len(blocked) == 1
    assert blocked[0]["remote"] == remote and blocked[0]["outcome"] == "failure"
    audit_lines = [r.getMessage() for r in caplog.records if r.name == "tokenguard.audit"]
    assert all("\n" not in line for line in audit_lines)


def test_memory_is_bounded_under_a_flood_of_addresses() -> None:
    limiter = FailedAttemptLimiter(3, max_clients=50, clock=FakeClock())
    guard, _ = make_guard(limiter)
    for n in range(500):
        fail(guard, f"10.1.{n // 256}.{n % 256}")
    assert limiter.tracked_clients() == 50


def test_concurrent_failures_block_exactly_at_the_threshold() -> None:
    limiter = FailedAttemptLimiter(50, clock=FakeClock())
    guard, _ = make_guard(limiter)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attack() -> None:
        for _ in range(20):
            try:
                guard.authenticate("tg_garbage", remote="9.9.9.9")
            except TooManyAttempts:
                result = "blocked"
            except InvalidToken:
                result = "invalid"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(outcomes) == 160
    # Checks and counts race, so a few in-flight attempts may slip past, never many.
    assert 50 <= outcomes.count("invalid") <= 50 + 8
    assert limiter.is_blocked("9.9.9.9")


@pytest.mark.parametrize("kwargs", [
    {"max_failures": 0}, {"max_failures": "5"}, {"window": timedelta(0)},
    {"block_for": timedelta(seconds=-1)}, {"max_clients": 0},
])
def test_bad_configuration_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FailedAttemptLimiter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("adapter", ["flask", "asgi"])
def test_over_http_a_brute_forcer_gets_429_and_storage_is_spared(
    adapter: str, caplog: pytest.LogCaptureFixture,
) -> None:
    import httpx
    from _servers import serve

    caplog.set_level(logging.INFO)
    limiter = FailedAttemptLimiter(5, timedelta(minutes=1), timedelta(minutes=5))
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    with serve(adapter, guard) as url, httpx.Client(base_url=url, timeout=10) as http:
        # Warm: the token is in the verification cache, so the ASGI adapter answers it inline.
        assert http.get("/notes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        for _ in range(5):
            guess = tokens_module.generate("tg")    # well formed, so each one costs a look-up
            assert http.get("/notes", headers={"Authorization": f"Bearer {guess}"}).status_code == 401
        store.reset()
        blocked = http.get("/notes", headers={"Authorization": f"Bearer {token}"})
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 300
        assert blocked.json()["error"] == "too_many_attempts"
        assert store.calls == {}
        assert http.get("/public").status_code == 200          # anonymous pages are not affected
    assert limiter.is_blocked("127.0.0.1")
    warnings = [r for r in caplog.records if r.name == "tokenguard.limiter"]
    assert len(warnings) == 1 and '"127.0.0.1"' in warnings[0].getMessage()


def test_a_limiter_registered_after_start_up_takes_effect() -> None:
    guard, _ = make_guard(None)
    token = guard.create_token("alice", "ci").token
    assert guard.authenticate(token, remote="a").owner == "alice"      # warm in the cache
    limiter = FailedAttemptLimiter(2, clock=FakeClock())
    guard.plugins.register(limiter)
    fail(guard, "a")
    fail(guard, "a")
    with pytest.raises(TooManyAttempts):
        guard.authenticate(token, remote="a")
    with pytest.raises(TooManyAttempts):
        guard.authenticate_cached(token, remote="a")
    guard.plugins.unregister(limiter)
    assert guard.authenticate(token, remote="a").owner == "alice"


def test_revocation_and_introspection_by_value_count_and_respect_the_block() -> None:
    """RFC 7009 and 7662 take any value: a blocked address is refused there too, without a query."""
    clock = FakeClock()
    limiter = FailedAttemptLimiter(5, timedelta(minutes=1), timedelta(minutes=5), clock=clock)
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    for _ in range(5):
        assert guard.revoke_by_value("tg_" + "A" * 38, remote="10.0.0.9") is None  # unknown: ignored
    assert limiter.is_blocked("10.0.0.9")
    store.reset()
    with pytest.raises(TooManyAttempts):
        guard.revoke_by_value(token, remote="10.0.0.9")
    with pytest.raises(TooManyAttempts):
        guard.introspect(token, remote="10.0.0.9")
    assert store.calls == {}
    assert guard.authenticate(token).owner == "alice"  # nothing was revoked
