"""The failed-attempt limiter: on by default, it slows and logs brute force per client address.

The address is the one the framework reports: Flask's ``REMOTE_ADDR``, the ASGI scope's
``client``, which uvicorn replaces with ``X-Forwarded-For`` from the proxies it trusts.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from _security_helpers import SECRET, CountingStore

from tokenguard import InvalidToken, TokenGuard, ValidationError
from tokenguard import tokens as tokens_module
from tokenguard.errors import AuthenticationError, TooManyAttempts
from tokenguard.guard import DEFAULT
from tokenguard.limiter import BLOCK_FOR, MAX_CLIENTS, MAX_FAILURES, WINDOW, FailedAttemptLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_guard(limiter: Any = DEFAULT) -> tuple[TokenGuard, CountingStore]:
    """A guard on a counting store: ``limiter`` given among its plugins, or ``limiter=`` itself."""
    store = CountingStore()
    if isinstance(limiter, FailedAttemptLimiter):
        guard = TokenGuard(store, secret_key=SECRET, plugins=[limiter], load_entry_points=False,
                           max_tokens_per_owner=None)
    else:  # DEFAULT, or None
        guard = TokenGuard(store, secret_key=SECRET, limiter=limiter, load_entry_points=False,
                           max_tokens_per_owner=None)
    return guard, store


def fail(guard: TokenGuard, remote: str, garbage: str = "tg_nope") -> None:
    with pytest.raises(InvalidToken):
        guard.authenticate(garbage, remote=remote)


def test_on_by_default_with_the_documented_bounds() -> None:
    guard, _ = make_guard()
    limiter = guard.limiter
    assert type(limiter) is FailedAttemptLimiter
    assert limiter in guard.plugins.get_plugins()                 # it counts auth_failed
    assert (limiter.max_failures, limiter.window, limiter.block_for, limiter.max_clients) == (
        100, 60.0, 60.0, 10_000)
    assert MAX_FAILURES == 100 and MAX_CLIENTS == 10_000
    assert WINDOW == BLOCK_FOR == timedelta(minutes=1)
    fail(guard, "10.0.0.1")
    assert limiter.tracked_clients() == 1                         # counted (the bound in time: below)


def test_limiter_none_turns_it_off() -> None:
    guard, _ = make_guard(None)
    token = guard.create_token("alice", "ci").token
    for _ in range(MAX_FAILURES * 3):
        fail(guard, "10.0.0.1")
    assert guard.authenticate(token, remote="10.0.0.1").owner == "alice"
    assert guard.limiter is None
    assert not any(isinstance(p, FailedAttemptLimiter) for p in guard.plugins.get_plugins())


def test_the_default_bound_in_time() -> None:
    """100 failures within a minute from the first block for a minute; fewer are forgotten."""
    clock = FakeClock()
    limiter = FailedAttemptLimiter(clock=clock)                   # the default bounds
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    for _ in range(MAX_FAILURES - 1):
        fail(guard, "a", tokens_module.generate("tg"))
    clock.now += 60                                               # the window closes: forgotten
    for _ in range(MAX_FAILURES - 1):
        fail(guard, "a", tokens_module.generate("tg"))
    assert not limiter.is_blocked("a")
    clock.now += 59.75                                            # still the same window
    fail(guard, "a", tokens_module.generate("tg"))
    store.reset()
    with pytest.raises(TooManyAttempts) as caught:
        guard.authenticate(tokens_module.generate("tg"), remote="a")
    assert caught.value.retry_after == 60
    assert store.calls == {}
    clock.now += 59
    with pytest.raises(TooManyAttempts) as caught:
        guard.authenticate(token, remote="a")
    assert caught.value.retry_after == 1
    clock.now += 1
    assert guard.authenticate(token, remote="a").owner == "alice"
    assert guard.authenticate(token).owner == "alice"             # no address: never limited


def test_requests_without_an_address_are_neither_counted_nor_refused() -> None:
    limiter = FailedAttemptLimiter(2, clock=FakeClock())
    guard, _ = make_guard(limiter)
    for _ in range(10):
        with pytest.raises(InvalidToken):
            guard.authenticate(tokens_module.generate("tg"))
    assert limiter.tracked_clients() == 0 and limiter.blocked == {}


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


def test_blocks_are_bounded_too_and_the_oldest_is_lifted_first() -> None:
    limiter = FailedAttemptLimiter(1, max_clients=50, clock=FakeClock())
    guard, _ = make_guard(limiter)
    for n in range(500):
        fail(guard, f"10.2.{n // 256}.{n % 256}")
    assert len(limiter.blocked) == 50
    assert limiter.is_blocked("10.2.1.243") and not limiter.is_blocked("10.2.0.0")


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


def test_a_limiter_registered_after_start_up_counts_but_does_not_refuse() -> None:
    """The guard's limiter is fixed at construction: one registered later is a plain plugin."""
    guard, _ = make_guard(None)
    token = guard.create_token("alice", "ci").token
    assert guard.authenticate(token, remote="a").owner == "alice"      # warm in the cache
    limiter = FailedAttemptLimiter(2, clock=FakeClock())
    guard.plugins.register(limiter)
    fail(guard, "a")
    fail(guard, "a")
    assert limiter.is_blocked("a")                                     # it counted
    assert guard.limiter is None
    assert guard.authenticate(token, remote="a").owner == "alice"      # the guard does not refuse
    assert guard.authenticate_cached(token, remote="a") is not None
    fail(guard, "a")                                                   # nor ask it before the store


def test_the_limiter_given_among_plugins_is_the_guards_own() -> None:
    limiter = FailedAttemptLimiter(2, clock=FakeClock())
    guard, _ = make_guard(limiter)
    assert guard.limiter is limiter
    assert [p for p in guard.plugins.get_plugins() if isinstance(p, FailedAttemptLimiter)] == [limiter]


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


# -- the address is the one the framework reports ---------------------------------------------


def guesses(http: Any, n: int, headers: dict[str, str] | None = None, **kwargs: Any) -> list[int]:
    """``n`` well-formed random tokens on ``GET /notes`` (with ``headers``): their statuses."""
    return [http.get("/notes", headers=bearer(tokens_module.generate("tg"), **(headers or {})),
                     **kwargs).status_code for _ in range(n)]


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def test_flask_keys_on_remote_addr() -> None:
    from _servers import flask_app

    limiter = FailedAttemptLimiter(3, clock=FakeClock())
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    http = flask_app(guard).test_client()
    attacker, neighbour = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "203.0.113.8"}
    assert guesses(http, 3, environ_base=attacker) == [401, 401, 401]
    assert limiter.is_blocked("203.0.113.7") and not limiter.is_blocked("127.0.0.1")
    store.reset()
    assert http.get("/notes", headers=bearer(token), environ_base=attacker).status_code == 429
    assert guesses(http, 1, environ_base=attacker) == [429]
    assert store.calls == {}
    assert http.get("/notes", headers=bearer(token), environ_base=neighbour).status_code == 200


def test_flask_behind_a_proxy_keys_on_the_address_proxyfix_vouches_for() -> None:
    """Werkzeug's ProxyFix(x_for=1) puts the last X-Forwarded-For hop in REMOTE_ADDR."""
    from _servers import flask_app
    from werkzeug.middleware.proxy_fix import ProxyFix

    limiter = FailedAttemptLimiter(3, clock=FakeClock())
    guard, _ = make_guard(limiter)
    app = flask_app(guard)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    http = app.test_client()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    assert guesses(http, 3, environ_base=proxy, headers={"X-Forwarded-For": "198.51.100.4"}) == [401] * 3
    assert limiter.is_blocked("198.51.100.4") and not limiter.is_blocked("127.0.0.1")


def test_starlette_keys_on_the_scope_client() -> None:
    from _servers import asgi_app
    from starlette.testclient import TestClient

    limiter = FailedAttemptLimiter(3, clock=FakeClock())
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    app = asgi_app(guard)
    with TestClient(app, client=("203.0.113.9", 40000)) as attacker, \
            TestClient(app, client=("203.0.113.10", 40001)) as neighbour:
        assert attacker.get("/notes", headers=bearer(token)).status_code == 200  # warm in the cache
        assert guesses(attacker, 3) == [401, 401, 401]
        assert limiter.is_blocked("203.0.113.9") and not limiter.is_blocked("testclient")
        store.reset()
        assert attacker.get("/notes", headers=bearer(token)).status_code == 429  # warm, refused
        assert store.calls == {}
        assert neighbour.get("/notes", headers=bearer(token)).status_code == 200


@contextmanager
def uvicorn_server(app: Any, **options: Any) -> Iterator[str]:
    """uvicorn in a thread on a socket bound here: connections wait in its backlog until it serves."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off", ws="none",
                            **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def test_uvicorn_proxy_headers_the_limiter_keys_on_the_forwarded_address() -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 (its default): the client behind the proxy
    is limited, not the proxy, and other clients behind it are not affected."""
    import httpx
    from _servers import asgi_app

    limiter = FailedAttemptLimiter(3, clock=FakeClock())
    guard, store = make_guard(limiter)
    token = guard.create_token("alice", "ci").token
    app = asgi_app(guard)
    with uvicorn_server(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as url, \
            httpx.Client(base_url=url, timeout=60) as http:
        attacker = {"X-Forwarded-For": "192.0.2.44"}
        assert guesses(http, 3, headers=attacker) == [401, 401, 401]
        assert limiter.is_blocked("192.0.2.44") and not limiter.is_blocked("127.0.0.1")
        store.reset()
        assert http.get("/notes", headers=bearer(token, **attacker)).status_code == 429
        assert store.calls == {}
        neighbour = {"X-Forwarded-For": "192.0.2.45"}
        assert http.get("/notes", headers=bearer(token, **neighbour)).status_code == 200
        assert http.get("/notes", headers=bearer(token)).status_code == 200  # the proxy itself


def test_uvicorn_ignores_x_forwarded_for_from_a_peer_it_does_not_trust() -> None:
    """Anyone can send the header: from an untrusted peer it is ignored, so it cannot dodge the limit."""
    import httpx
    from _servers import asgi_app

    limiter = FailedAttemptLimiter(3, clock=FakeClock())
    guard, _ = make_guard(limiter)
    app = asgi_app(guard)
    with uvicorn_server(app, proxy_headers=True, forwarded_allow_ips="192.0.2.1") as url, \
            httpx.Client(base_url=url, timeout=60) as http:
        statuses = [http.get("/notes", headers=bearer(tokens_module.generate("tg"),
                                                       **{"X-Forwarded-For": f"192.0.2.{n}"})).status_code
                    for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert limiter.is_blocked("127.0.0.1")
    assert not any(limiter.is_blocked(f"192.0.2.{n}") for n in range(4))
