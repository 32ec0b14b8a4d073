"""Another instance of an app, in its own process, for tests/test_cross_instance.py.

    python _instance_worker.py verify URL KEY TOKEN REDIS_URL|- CHANNEL TTL SECONDS
        authenticates TOKEN in a loop; prints "ready" once warm (token cached,
        subscribed), then one JSON object: the monotonic start of the last
        accepted and of the first refused attempt, and counters.
    python _instance_worker.py kill URL KEY TOKEN_ID REDIS_URL|- CHANNEL ACTION
        prints "ready", waits for "go" on stdin, then revokes (or rotates,
        deletes, revokes the owner) and prints the monotonic instants it started
        and returned.

``time.monotonic`` is one system-wide clock on Linux, so instants compare across
processes.
"""

from __future__ import annotations

import json
import sys
import time

from tokenguard import TokenGuard
from tokenguard.errors import AuthenticationError
from tokenguard.redis_invalidation import RedisInvalidation

#: After the first refusal, keep trying this long to show no later acceptance.
AFTER_REFUSAL = 0.3


def make_guard(url: str, key: str, redis_url: str, channel: str, ttl: float = 5.0) -> TokenGuard:
    plugin = None if redis_url == "-" else RedisInvalidation(redis_url, channel=channel)
    guard = TokenGuard(url, secret_key=key, load_entry_points=False, cache_ttl=ttl,
                       invalidation=plugin)
    if plugin is not None and not plugin.wait_ready(10):
        raise SystemExit("could not subscribe to the invalidation channel")
    return guard


def verify(url: str, key: str, token: str, redis_url: str, channel: str, ttl: str, seconds: str) -> None:
    guard = make_guard(url, key, redis_url, channel, float(ttl))
    guard.authenticate(token)
    print("ready", flush=True)
    last_accepted = first_refused = None
    accepted = refused = 0
    errors: list[str] = []
    deadline = time.monotonic() + float(seconds)
    while True:
        started = time.monotonic()
        if started > deadline or (first_refused is not None and started > first_refused + AFTER_REFUSAL):
            break
        try:
            guard.authenticate(token)
        except AuthenticationError:
            refused += 1
            first_refused = started if first_refused is None else first_refused
            continue
        except Exception as exc:  # reported to the test, which fails on it
            errors.append(type(exc).__name__)
            continue
        accepted += 1
        last_accepted = started
    print(json.dumps({"last_accepted": last_accepted, "first_refused": first_refused,
                      "accepted": accepted, "refused": refused, "errors": errors,
                      "store_reads": guard.cache.stats().misses}), flush=True)
    guard.close()


def kill(url: str, key: str, token_id: str, redis_url: str, channel: str, action: str) -> None:
    guard = make_guard(url, key, redis_url, channel)
    owner = guard.get_token(token_id).owner  # connected and warm before the clock starts
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    started = time.monotonic()
    if action == "revoke":
        guard.revoke(token_id)
    elif action == "rotate":
        guard.rotate(token_id)
    elif action == "delete":
        guard.delete(token_id)
    else:
        guard.revoke_owner(owner)
    print(json.dumps({"started": started, "returned": time.monotonic()}), flush=True)
    guard.close()


if __name__ == "__main__":
    {"verify": verify, "kill": kill}[sys.argv[1]](*sys.argv[2:])
