"""Cross-process cache invalidation over Redis pub/sub.

Apps with several processes (or hosts) share one database, and each process
keeps a verification cache. Without help, a token revoked on one instance is
still accepted by the others until their cache entry ages out (``cache_ttl``,
5 s by default). With this plugin, every change that invalidates a token
(revoke, rotate, delete, re-approve, update, ``revoke_owner``) is published on
a Redis channel, and a daemon thread in every process drops the entry from the
cache of every guard of that process: the bound becomes the pub/sub latency
(milliseconds).

    guard = TokenGuard(url, secret_key=key, invalidation="redis://127.0.0.1:6379/0")

Fail-safe by construction: messages only ever *remove* cache entries, and
entries age out after ``cache_ttl`` whatever Redis does. When Redis is down, a
publish is logged and skipped, the subscriber reconnects with back-off, and on
every (re)subscription it clears the local caches, since messages may have been
missed meanwhile. Messages carry token ids and owners, never a token or digest.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence

import redis

from tokenguard.cache import forget, live_caches
from tokenguard.hookspecs import hookimpl

logger = logging.getLogger("tokenguard.invalidation")

DEFAULT_CHANNEL = "tokenguard:invalidate"
#: Seconds a publish or connection attempt may take before it is given up.
SOCKET_TIMEOUT = 1.0
#: The subscriber checks for a stop request and pings Redis this often.
POLL_SECONDS = 1.0
MAX_BACKOFF = 2.0
#: Seconds publishing rests after a failed publish (changes made meanwhile: cache age bound).
RETRY_AFTER = 5.0


def apply_message(data: bytes | str) -> bool:
    """Drop what a message names from every cache of this process; False if malformed."""
    try:
        message = json.loads(data)
        ids, owner = message.get("ids", []), message.get("owner")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("ids")
        if owner is not None and not isinstance(owner, str):
            raise ValueError("owner")
    except Exception:  # RecursionError too (deep JSON): whoever can publish must not stop us
        logger.warning("ignored a malformed invalidation message")
        return False
    forget(ids, owner)
    return True


def subscriber_name() -> str:
    """The name this process's subscriber connection has in ``CLIENT LIST`` (for operators)."""
    return f"tokenguard-invalidation-{os.getpid()}"


class _Subscriber:
    """One daemon thread per (URL, channel) and process, shared by every guard."""

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        self.users = 0
        #: Set while subscribed; cleared while Redis is unreachable.
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tokenguard-invalidation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # Redis down, or anything unforeseen: never end the thread
                if self.ready.is_set() or backoff == 0.05:
                    logger.warning("invalidation channel unavailable (%s); cache age bounds staleness",
                                   type(exc).__name__)
                self.ready.clear()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            else:
                backoff = 0.05

    def _listen(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=SOCKET_TIMEOUT,
                                      health_check_interval=POLL_SECONDS * 5,
                                      client_name=subscriber_name())
        pubsub = redis.client.PubSub(client.connection_pool)
        try:
            pubsub.subscribe(self.channel)
            confirmed = pubsub.get_message(timeout=SOCKET_TIMEOUT)
            if confirmed is None or confirmed.get("type") != "subscribe":
                raise redis.ConnectionError("no subscription confirmation")
            # Messages published while this process was not subscribed are lost: start clean.
            for cache in live_caches():
                cache.clear()
            self.ready.set()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None and message.get("type") == "message":
                    apply_message(message["data"])
        finally:
            self.ready.clear()
            pubsub.close()
            client.close()


_subscribers: dict[tuple[str, str], _Subscriber] = {}
_subscribers_lock = threading.Lock()


def _acquire(url: str, channel: str) -> None:
    with _subscribers_lock:
        subscriber = _subscribers.get((url, channel))
        if subscriber is None:
            subscriber = _subscribers[(url, channel)] = _Subscriber(url, channel)
        subscriber.users += 1


def _release(url: str, channel: str) -> None:
    with _subscribers_lock:
        subscriber = _subscribers.get((url, channel))
        if subscriber is None:
            return
        subscriber.users -= 1
        if subscriber.users <= 0:
            subscriber.stop()
            del _subscribers[(url, channel)]


def _restart_after_fork() -> None:
    """Threads do not survive ``fork``: a forked worker (gunicorn --preload) subscribes anew."""
    global _subscribers_lock
    _subscribers_lock = threading.Lock()
    old = list(_subscribers.values())
    _subscribers.clear()
    for previous in old:
        fresh = _subscribers[(previous.url, previous.channel)] = _Subscriber(previous.url, previous.channel)
        fresh.users = previous.users


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_after_fork)


class RedisInvalidation:
    """A tokenguard plugin: publishes invalidations and applies everyone's, via Redis.

    ``TokenGuard(..., invalidation="redis://host:6379/0")`` builds one; or pass
    ``plugins=[RedisInvalidation(url)]`` to share a channel name of your own.
    """

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.url, self.channel = url, channel
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
        _acquire(url, channel)
        self._closed = False
        self._resting_until = 0.0

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once this process is subscribed (messages from now on are applied)."""
        subscriber = _subscribers.get((self.url, self.channel))
        return subscriber is not None and subscriber.ready.wait(timeout)

    def publish(self, message: dict[str, object]) -> bool:
        """Send ``message`` to every process; False (logged) when Redis is unreachable.

        After a failure, publishing rests for ``RETRY_AFTER`` seconds: a Redis that takes
        connections but never answers would otherwise cost every change (and ``revoke_owner``,
        one message per token) a full socket timeout each.
        """
        if time.monotonic() < self._resting_until:
            return False
        try:
            self._client.publish(self.channel, json.dumps(message, separators=(",", ":")))
        except (redis.RedisError, OSError) as exc:
            self._resting_until = time.monotonic() + RETRY_AFTER
            logger.warning("could not publish a token invalidation (%s); other processes "
                           "notice within the cache age", type(exc).__name__)
            return False
        return True

    @hookimpl
    def tokenguard_token_invalidated(self, token_id: str, digest: str | None) -> None:
        self.publish({"ids": [token_id]})

    @hookimpl
    def tokenguard_owner_revoked(self, owner: str, token_ids: Sequence[str], actor: str | None) -> None:
        self.publish({"owner": owner})

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release(self.url, self.channel)
            self._client.close()

    def __repr__(self) -> str:
        return f"RedisInvalidation(channel={self.channel!r})"
