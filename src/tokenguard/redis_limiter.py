"""The failed-attempt limiter shared by every instance through Redis.

A guard built with ``invalidation="redis://…"`` gets this limiter by default (or
pass ``limiter=RedisFailedAttemptLimiter(url, …)``): failures from one address are
counted once for all the instances that use that Redis, and a block set by one is
honoured by all, so adding instances does not multiply what a flood may cost.

Keys (``{address}`` is a Redis Cluster hash tag: both keys of one address live on
one node)::

    tokenguard:limiter:failures:{203.0.113.7}   INCR; expires one window after the first failure
    tokenguard:limiter:blocked:{203.0.113.7}    set at max_failures; expires after block_for

A failure runs one Lua script (atomic: concurrent failures on several instances
block exactly at the threshold, and only the instance whose failure set the block
logs and audits it). The warm path never asks Redis: it tests ``blocked``, a dict
in memory that mirrors the blocks this instance learnt of, from the script's answer
when it counts a failure, or from one ``PTTL`` that :meth:`check` sends before work
that may reach the store (a cache miss, which costs a query anyway).

On an event loop (an ASGI app answering from its cache), nothing is sent to Redis:
the check reads the mirror alone and a failure is counted in this process. Such
failures never reach the store, so they cannot make a query flood anyway.

Fail open on Redis: when Redis cannot be reached, the limiter logs it once, leaves
Redis alone for ``RETRY_AFTER`` seconds at a time, and meanwhile counts and blocks
in this process alone (the same bounds, per instance), as a guard without Redis
does. A Redis outage never refuses a request by itself. Keys carry addresses,
never a token or a digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis

from tokenguard.errors import TooManyAttempts
from tokenguard.limiter import BLOCK_FOR, MAX_CLIENTS, MAX_FAILURES, WINDOW, FailedAttemptLimiter
from tokenguard.redis_invalidation import RETRY_AFTER, SOCKET_TIMEOUT

logger = logging.getLogger("tokenguard.limiter")

KEY_PREFIX = "tokenguard:limiter:"

# KEYS: failures, blocked. ARGV: max_failures, window ms, block ms.
# Answers {failures counted (0: already blocked), ms the block has left (0: none), 1 if this set it}.
_RECORD_FAILURE = """
local left = redis.call('PTTL', KEYS[2])
if left == -1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  left = tonumber(ARGV[3])
end
if left > 0 then return {0, left, 0} end
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if count < tonumber(ARGV[1]) then return {count, 0, 0} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], count, 'PX', ARGV[3])
return {count, tonumber(ARGV[3]), 1}
"""


def _on_event_loop() -> bool:
    """True on a thread that runs an asyncio loop: no blocking call to Redis there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def address_tag(remote: str) -> str:
    """The address as it appears in keys: itself if short and printable, else a digest."""
    if len(remote) <= 64 and remote.isascii() and remote.isprintable() and "}" not in remote:
        return remote
    return "sha256:" + hashlib.sha256(remote.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class RedisFailedAttemptLimiter(FailedAttemptLimiter):
    """:class:`~tokenguard.limiter.FailedAttemptLimiter` with its counts and blocks in Redis."""

    def __init__(
        self,
        url: str,
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
        block_for: timedelta = BLOCK_FOR,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        super().__init__(max_failures, window, block_for, max_clients=max_clients, clock=clock)
        self.url = url
        self.key_prefix = key_prefix
        self._redis = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
        self._record_failure = self._redis.register_script(_RECORD_FAILURE)
        self._args = (max_failures, math.ceil(self.window * 1000), math.ceil(self.block_for * 1000))
        self._resting_until = -math.inf
        self._unavailable = False
        self._outage_lock = threading.Lock()

    def keys(self, remote: str) -> tuple[str, str]:
        """The failure counter's key and the block's key for ``remote``."""
        tag = address_tag(remote)
        return f"{self.key_prefix}failures:{{{tag}}}", f"{self.key_prefix}blocked:{{{tag}}}"

    def _check_shared(self, remote: str) -> None:
        if _on_event_loop():
            return
        left = self._ask(self._redis.pttl, self.keys(remote)[1])
        if left is None or left == -2:  # Redis unreachable, or no block
            return
        seconds = self.block_for if left == -1 else left / 1000
        now = self._clock()
        with self._lock:
            self._block_locked(remote, now + seconds)
        raise TooManyAttempts(max(1, math.ceil(seconds)))

    def _count(self, remote: str) -> None:
        answer = None if _on_event_loop() else self._ask(
            self._record_failure, keys=self.keys(remote), args=self._args)
        if answer is None:
            super()._count(remote)  # in this process, until Redis answers again
            return
        count, left, set_here = (int(part) for part in answer)
        if left > 0:
            now = self._clock()
            with self._lock:
                self._block_locked(remote, now + left / 1000)
        if set_here:
            self._report(remote, count)

    def _ask(self, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``command``'s answer, or ``None`` when Redis is unreachable (logged once per outage)."""
        now = self._clock()
        if now < self._resting_until:
            return None
        try:
            answer = command(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            with self._outage_lock:
                self._resting_until = now + RETRY_AFTER
                first, self._unavailable = not self._unavailable, True
            if first:
                logger.warning("Redis unavailable for the failed-attempt limiter (%s): counting "
                               "in this process until it answers", type(exc).__name__)
            return None
        if self._unavailable:
            with self._outage_lock:
                back, self._unavailable = self._unavailable, False
            if back:
                logger.info("Redis answers the failed-attempt limiter again")
        return answer

    def close(self) -> None:
        self._redis.close()
