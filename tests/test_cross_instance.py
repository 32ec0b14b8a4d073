"""Several instances on one PostgreSQL: how long a revoke on one goes unnoticed on another.

Two real processes (tests/_instance_worker.py), each with its own guard and
verification cache, share the machine's PostgreSQL and, where stated, Redis.
One authenticates a token in a loop; the other revokes it. The measured bound
is how long after ``revoke`` returned the first process still accepted it:
well under a second with the Redis plugin, at most the cache age without.
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tokenguard import InvalidToken, RevokedToken, TokenGuard, ValidationError
from tokenguard.redis_invalidation import RedisInvalidation, subscriber_name

KEY = "cross-instance-test-key-0123456789abcdefghij"
WORKER = Path(__file__).with_name("_instance_worker.py")
#: What the issue asks of the Redis bound ("well under a second"), with room for a busy CI machine.
REDIS_BOUND = 0.25
NO_REDIS_TTL = 1.0
#: Scheduling slack for two busy processes on a small machine.
MARGIN = 0.3


@dataclass
class Outcome:
    staleness: float  # how long after revoke returned an attempt was still accepted (0 if never)
    detected: float  # first refusal, seconds after revoke returned
    accepted: int
    store_reads: int


def _start(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, str(WORKER), *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    if first != "ready":
        process.kill()
        raise AssertionError(process.communicate(timeout=10)[1] or first)
    return process


def _result(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    loaded: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return loaded


def run_two_instances(url: str, redis_url: str | None, action: str = "revoke",
                      ttl: float = 5.0) -> Outcome:
    channel = "tokenguard-test-" + secrets.token_hex(4)
    setup = TokenGuard(url, secret_key=KEY, load_entry_points=False, cache_ttl=None)
    issued = setup.create_token("alice", "cross instance")
    setup.close()
    redis_arg = redis_url or "-"
    killer = _start("kill", url, KEY, issued.info.id, redis_arg, channel, action)
    verifier = _start("verify", url, KEY, issued.token, redis_arg, channel, str(ttl),
                      str(ttl + 10))
    time.sleep(0.3)  # the verifier accepts from its cache meanwhile
    assert killer.stdin is not None
    killer.stdin.write("go\n")
    killer.stdin.flush()
    returned = float(_result(killer)["returned"])  # type: ignore[arg-type]
    seen = _result(verifier)
    assert seen["errors"] == []
    assert seen["first_refused"] is not None, "the verifier never saw the revoke"
    last_accepted = float(seen["last_accepted"] or 0.0)  # type: ignore[arg-type]
    return Outcome(
        staleness=max(0.0, last_accepted - returned),
        detected=float(seen["first_refused"]) - returned,  # type: ignore[arg-type]
        accepted=int(seen["accepted"]),  # type: ignore[call-overload]
        store_reads=int(seen["store_reads"]),  # type: ignore[call-overload]
    )


@pytest.mark.parametrize("action", ["revoke", "revoke_owner", "rotate", "delete"])
def test_with_redis_a_revoke_is_refused_on_the_other_instance_well_under_a_second(
    postgres_url: str, redis_url: str, action: str
) -> None:
    outcome = run_two_instances(postgres_url, redis_url, action, ttl=30.0)
    print(f"\n{action} with Redis: stale for {outcome.staleness * 1000:.1f} ms, "
          f"refused {outcome.detected * 1000:.1f} ms after it returned")
    assert outcome.accepted > 0
    assert outcome.staleness < REDIS_BOUND
    assert outcome.detected < REDIS_BOUND
    # A 30 s cache age, so only the message can explain the refusal; and the cache served.
    assert outcome.store_reads <= 3


def test_without_redis_the_bound_is_the_cache_age(postgres_url: str) -> None:
    outcome = run_two_instances(postgres_url, None, "revoke", ttl=NO_REDIS_TTL)
    print(f"\nwithout Redis (cache age {NO_REDIS_TTL}s): stale for {outcome.staleness * 1000:.0f} ms")
    assert outcome.staleness <= NO_REDIS_TTL + MARGIN
    assert outcome.detected <= NO_REDIS_TTL + MARGIN
    assert outcome.accepted > 0
    # The cache served nearly every attempt: about one store read per cache age.
    assert outcome.store_reads <= 3 + (0.3 + NO_REDIS_TTL + MARGIN) / NO_REDIS_TTL


# -- the plugin in one process: delivery, reconnection, Redis down ---------------------------


def _cached_guard(redis_url: str, channel: str) -> tuple[TokenGuard, RedisInvalidation]:
    plugin = RedisInvalidation(redis_url, channel=channel)
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False, invalidation=plugin)
    assert plugin.wait_ready(10)
    return guard, plugin


def _wait_until(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.005)
    return False


def test_a_message_from_another_instance_drops_the_entry(redis_url: str) -> None:
    channel = "tokenguard-test-" + secrets.token_hex(4)
    guard, _plugin = _cached_guard(redis_url, channel)
    issued = guard.create_token("alice", "ci")
    guard.authenticate(issued.token)
    assert len(guard.cache) == 1
    client = redis.Redis.from_url(redis_url)
    try:
        client.publish(channel, json.dumps({"ids": ["someone-else"]}))
        client.publish(channel, "not json")
        client.publish(channel, json.dumps({"ids": "not a list"}))
        client.publish(channel, "[" * 100_000)  # json.loads raises RecursionError: not a ValueError
        time.sleep(0.1)
        assert _plugin.wait_ready(0)  # the subscriber lives on
        assert len(guard.cache) == 1  # other ids and malformed messages change nothing
        client.publish(channel, json.dumps({"ids": [issued.info.id]}))
        assert _wait_until(lambda: len(guard.cache) == 0, 2.0)
        guard.authenticate(issued.token)
        client.publish(channel, json.dumps({"owner": "alice"}))
        assert _wait_until(lambda: len(guard.cache) == 0, 2.0)
    finally:
        client.close()
        guard.close()


def test_messages_name_ids_and_owners_never_a_token_or_digest(redis_url: str) -> None:
    channel = "tokenguard-test-" + secrets.token_hex(4)
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub()
    listener.subscribe(channel)
    guard, _plugin = _cached_guard(redis_url, channel)
    try:
        issued = guard.create_token("alice", "ci")
        guard.rotate(issued.info.id)
        guard.revoke_owner("alice")
        messages = []
        deadline = time.monotonic() + 3
        while len(messages) < 3 and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.2)
            if message and message["type"] == "message":
                messages.append(json.loads(message["data"]))
        assert messages == [{"ids": [issued.info.id]}, {"ids": [issued.info.id]}, {"owner": "alice"}]
        body = issued.token.partition("_")[2]
        assert all(body not in json.dumps(m) for m in messages)
    finally:
        listener.close()
        client.close()
        guard.close()


def test_the_subscriber_reconnects_and_starts_clean(redis_url: str) -> None:
    channel = "tokenguard-test-" + secrets.token_hex(4)
    guard, plugin = _cached_guard(redis_url, channel)
    issued = guard.create_token("alice", "ci")
    client = redis.Redis.from_url(redis_url)
    try:
        guard.authenticate(issued.token)
        def ours() -> list[dict[str, str]]:  # subscribers of earlier tests close within a second
            return [c for c in client.client_list(_type="pubsub") if c["name"] == subscriber_name()]

        assert _wait_until(lambda: len(ours()) == 1, 5.0)
        assert client.client_kill_filter(_id=ours()[0]["id"]) == 1
        # Messages may have been lost while disconnected: the cache is emptied on resubscribing.
        assert _wait_until(lambda: len(guard.cache) == 0 and plugin.wait_ready(0), 10.0)
        guard.authenticate(issued.token)
        client.publish(channel, json.dumps({"ids": [issued.info.id]}))
        assert _wait_until(lambda: len(guard.cache) == 0, 2.0)
    finally:
        client.close()
        guard.close()


def test_redis_down_never_fails_a_revoke_and_the_age_bound_holds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugin = RedisInvalidation("redis://127.0.0.1:1/0")  # nothing listens there
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False, invalidation=plugin,
                       cache_ttl=0.2)
    try:
        assert not plugin.wait_ready(0.2)
        with caplog.at_level(logging.WARNING, logger="tokenguard.invalidation"):
            issued = guard.create_token("alice", "ci")
            guard.authenticate(issued.token)
            guard.revoke(issued.info.id)
        with pytest.raises(RevokedToken):
            guard.authenticate(issued.token)
        assert "could not publish a token invalidation" in caplog.text
        assert issued.token.partition("_")[2] not in caplog.text
        # Another guard on the same store, sharing nothing: the cache age bounds its staleness.
        other = TokenGuard(guard.store, secret_key=KEY, load_entry_points=False, cache_ttl=0.2)
        second = guard.create_token("alice", "second")
        other.authenticate(second.token)
        guard.delete(second.info.id)
        assert _wait_until(lambda: _refused(other, second.token), 0.2 + MARGIN)
    finally:
        guard.close()


def _refused(guard: TokenGuard, token: str) -> bool:
    try:
        guard.authenticate(token)
    except InvalidToken:
        return True
    return False


def test_guards_of_one_process_share_one_subscriber(redis_url: str) -> None:
    import threading

    channel = "tokenguard-test-" + secrets.token_hex(4)
    before = {t.ident for t in threading.enumerate() if t.name == "tokenguard-invalidation"}
    first, first_plugin = _cached_guard(redis_url, channel)
    second, _ = _cached_guard(redis_url, channel)
    running = {t.ident for t in threading.enumerate() if t.name == "tokenguard-invalidation"} - before
    assert len(running) == 1
    first.close()
    assert second.invalidation is not None and second.invalidation.wait_ready(0)  # type: ignore[attr-defined]
    second.close()
    assert _wait_until(
        lambda: not ({t.ident for t in threading.enumerate() if t.name == "tokenguard-invalidation"}
                     & running), 5.0)
    assert not first_plugin.wait_ready(0)


def test_a_guard_that_fails_to_build_leaves_no_subscriber_behind(redis_url: str) -> None:
    import threading

    channel = "tokenguard-test-" + secrets.token_hex(4)

    def subscribers() -> set[int | None]:
        return {t.ident for t in threading.enumerate() if t.name == "tokenguard-invalidation"}

    before = subscribers()
    for _ in range(3):
        with pytest.raises(ValidationError, match="no store handles"):
            TokenGuard("nosuchstore://x", secret_key=KEY, load_entry_points=False,
                       invalidation=RedisInvalidation(redis_url, channel=channel))
    assert _wait_until(lambda: subscribers() <= before, 5.0)


def test_a_redis_that_never_answers_costs_one_timeout_not_one_per_message() -> None:
    """It takes the connection and says nothing: revoke_owner must not wait a timeout per token."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stay_silent() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    port = listener.getsockname()[1]
    guard = TokenGuard("memory://", secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None,
                       invalidation=f"redis://127.0.0.1:{port}/0")
    try:
        for index in range(6):
            guard.create_token("alice", f"t{index}")
        started = time.monotonic()
        assert guard.revoke_owner("alice") == 6
        assert time.monotonic() - started < 3  # 7 messages would have taken 7 timeouts of 1 s
        assert all(t.status == "revoked" for t in guard.list_tokens("alice"))
    finally:
        guard.close()
        stop.set()
        for sock in held:
            sock.close()
        listener.close()
