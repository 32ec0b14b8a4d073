"""The failed-attempt limiter per client address: on by default, it caps what a flood can cost.

Every well-formed unknown token costs a database query, so without a limit one
client sending random well-formed tokens turns its request rate into a query
rate. Each guard therefore has a limiter unless built with ``limiter=None``::

    TokenGuard(url, secret_key=key)                        # the default limiter
    TokenGuard(url, secret_key=key, limiter=None)          # none
    TokenGuard(url, secret_key=key, limiter=FailedAttemptLimiter(50, block_for=timedelta(minutes=5)))

After ``max_failures`` failed authentications (unknown, malformed, revoked or
expired tokens) from one address within a fixed ``window`` that opens at the
first of them, that address is refused with :class:`~tokenguard.errors.TooManyAttempts`
(429, ``Retry-After``) for ``block_for``, before any parsing, hashing or storage
access, whatever token it sends. The block is logged once on ``tokenguard.limiter``
and as an ``auth_blocked`` audit event. Requests without a known address
(``remote=None``) are neither counted nor refused.

The defaults, 100 failures per minute and a 1 minute block, are far above what a
real client produces (a typo or a stale token fails a few times, then a person or a
retry policy gives up; 100 a minute is a failure every 0.6 s, sustained) and far
below a flood: one address costs the store at most about 100 look-ups a minute
instead of its full request rate. The block is short because an address may be
shared (a NAT, an office): a neighbour's misconfigured script locks everyone out
for a minute at most.

Memory is bounded: counts are kept for ``max_clients`` addresses (10,000; the least
recently failing are forgotten first) and blocks for as many (the oldest lifted first),
about 0.4 KB an address, so 4 MB at most, whatever a flood of addresses does. More would
buy little: a client with more addresses than that already gets 100 look-ups a minute
from each of them, a flood that a limiter per address cannot stop. A guard built with ``invalidation="redis://…"``
counts in that Redis instead (:mod:`tokenguard.redis_limiter`), so every instance
sees one count and honours one block.

The address is the one the framework reports (Flask's ``request.remote_addr``, the
ASGI scope's ``client``). Behind a reverse proxy it is the proxy's, for every client,
unless the server is told which proxy to trust: see the README, "Failed-attempt
limiter and client addresses behind a proxy".
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tokenguard import audit
from tokenguard.cache import REDIS_SCHEMES
from tokenguard.errors import TooManyAttempts, ValidationError
from tokenguard.hookspecs import hookimpl

logger = logging.getLogger("tokenguard.limiter")

#: Failures from one address, within ``WINDOW``, that block it.
MAX_FAILURES = 100
WINDOW = timedelta(minutes=1)
#: How long a blocked address is refused.
BLOCK_FOR = timedelta(minutes=1)
#: Addresses whose failures are counted at once, and addresses blocked at once (each).
MAX_CLIENTS = 10_000


@dataclass(slots=True)
class _Window:
    ends: float
    failures: int = 0


class FailedAttemptLimiter:
    """Counts ``tokenguard_auth_failed`` per address (a pluggy plugin of its guard); the guard
    asks :meth:`check` before any work that may reach the store.

    The guard's limiter is fixed when the guard is built (``limiter=``, or one given among
    ``plugins=``): a limiter registered on ``guard.plugins`` later counts failures (and
    :meth:`is_blocked` answers), but the guard does not refuse on its account.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
        block_for: timedelta = BLOCK_FOR,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for value, name in ((max_failures, "max_failures"), (max_clients, "max_clients")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive int", field=name)
        for span, name in ((window, "window"), (block_for, "block_for")):
            if not isinstance(span, timedelta) or span <= timedelta(0):
                raise ValidationError(f"{name} must be a positive timedelta", field=name)
        self.max_failures = max_failures
        self.window = window.total_seconds()
        self.block_for = block_for.total_seconds()
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        #: addresses blocked now, with the monotonic instant their block ends. The guard tests
        #: it on every request (an empty dict is falsy: a warm request pays one test). Changed
        #: in place only: the guard keeps a reference to this very dict.
        self.blocked: dict[str, float] = {}

    def check(self, remote: str) -> None:
        """Raise ``TooManyAttempts`` while ``remote`` is blocked (the guard asks before the store)."""
        until = self.blocked.get(remote)
        if until is not None:
            now = self._clock()
            if now < until:
                raise TooManyAttempts(max(1, math.ceil(until - now)))
            with self._lock:
                if self.blocked.get(remote) == until:
                    del self.blocked[remote]
        self._check_shared(remote)

    def _check_shared(self, remote: str) -> None:
        """Where blocks are shared with other instances, ask there (nothing to ask here)."""

    @hookimpl
    def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
        if remote is not None:
            self._count(remote)

    def _count(self, remote: str) -> None:
        """Count one failure from ``remote`` in this process; block it at ``max_failures``."""
        now = self._clock()
        with self._lock:
            until = self.blocked.get(remote)
            if until is not None and now < until:
                return  # a request that passed check() just before the block began
            window = self._window(remote, now)
            window.failures += 1
            if window.failures < self.max_failures:
                return
            count = window.failures
            del self._windows[remote]  # the next window opens at the next failure
            self._block_locked(remote, now + self.block_for)
        self._report(remote, count)

    def _window(self, remote: str, now: float) -> _Window:
        window = self._windows.get(remote)
        if window is None or now >= window.ends:
            window = _Window(now + self.window)
            self._windows[remote] = window
            while len(self._windows) > self.max_clients:
                self._windows.popitem(last=False)
        self._windows.move_to_end(remote)
        return window

    def _block_locked(self, remote: str, until: float) -> None:
        """Mirror a block in ``blocked`` (the caller holds the lock); the oldest go first."""
        blocked = self.blocked
        blocked.pop(remote, None)
        blocked[remote] = until
        while len(blocked) > self.max_clients:
            del blocked[next(iter(blocked))]

    def _report(self, remote: str, failures: int) -> None:
        seconds = math.ceil(self.block_for)
        # json.dumps escapes control characters: an address cannot forge a log line.
        logger.warning("client %s blocked for %d s after %d failed authentications",
                       json.dumps(remote, ensure_ascii=True), seconds, failures)
        audit.emit("auth_blocked", outcome="failure", remote=remote, failures=failures,
                   retry_after=seconds)

    def is_blocked(self, remote: str) -> bool:
        """Whether ``remote`` is refused right now (for status pages and tests)."""
        try:
            self.check(remote)
        except TooManyAttempts:
            return True
        return False

    def tracked_clients(self) -> int:
        """Addresses whose failures this process counts now (bounded by ``max_clients``)."""
        with self._lock:
            return len(self._windows)

    def close(self) -> None:
        """Release what the limiter holds (nothing, in process; a Redis connection otherwise)."""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(max_failures={self.max_failures}, "
                f"window={self.window:g} s, block_for={self.block_for:g} s)")


def default_limiter(invalidation: object) -> FailedAttemptLimiter:
    """The guard's limiter when none is given: in the Redis of ``invalidation`` if it has one.

    ``invalidation`` is the guard's option of that name: a ``redis://`` URL, a
    ``RedisInvalidation`` (its URL is used), anything else or ``None`` (in process).
    """
    url = invalidation
    if not isinstance(url, str):
        module = sys.modules.get("tokenguard.redis_invalidation")  # loaded if one was built
        if module is None or not isinstance(invalidation, module.RedisInvalidation):
            return FailedAttemptLimiter()
        url = invalidation.url
    if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES):
        return FailedAttemptLimiter()  # the guard refuses such an invalidation option itself
    from tokenguard.redis_limiter import RedisFailedAttemptLimiter

    return RedisFailedAttemptLimiter(url)
