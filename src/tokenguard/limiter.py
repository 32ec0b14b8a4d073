"""An optional failed-attempt limiter per client address: brute force is slowed and logged.

Off by default. Register it on a guard to switch it on::

    from tokenguard.limiter import FailedAttemptLimiter
    guard = TokenGuard(url, secret_key=key, plugins=[FailedAttemptLimiter()])

After ``max_failures`` failed authentications from one address within
``window``, that address is refused with :class:`~tokenguard.errors.TooManyAttempts`
(429) for ``block_for``, before any parsing, hashing or storage access. The
block is logged once on ``tokenguard.limiter`` and as an ``auth_blocked`` audit
event. Requests without a known address (``remote=None``) are not limited.

State is kept in this process only and bounded to ``max_clients`` addresses (the
least recently seen are forgotten first), so a flood of spoofed addresses costs
memory but never grows without bound. Behind a proxy, pass the client address
the proxy vouches for as ``remote``, not a header anyone can set.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from tokenguard import audit
from tokenguard.errors import TooManyAttempts, ValidationError
from tokenguard.hookspecs import hookimpl

logger = logging.getLogger("tokenguard.limiter")


@dataclass(slots=True)
class _Client:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class FailedAttemptLimiter:
    """Counts ``tokenguard_auth_failed`` per address (a pluggy plugin of its guard); the guard
    asks :meth:`check` before any work that may reach the store."""

    def __init__(
        self,
        max_failures: int = 20,
        window: timedelta = timedelta(minutes=1),
        block_for: timedelta = timedelta(minutes=5),
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for value, name in ((max_failures, "max_failures"), (max_clients, "max_clients")):
            if not isinstance(value, int) or value < 1:
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
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        #: addresses blocked now, with the monotonic instant their block ends. The guard tests
        #: it on every request (an empty dict is falsy: a warm request pays one test).
        self.blocked: dict[str, float] = {}

    def check(self, remote: str) -> None:
        """Raise ``TooManyAttempts`` while ``remote`` is blocked (the guard asks before the store)."""
        until = self.blocked.get(remote)
        if until is None:
            return
        now = self._clock()
        if now < until:
            raise TooManyAttempts(max(1, math.ceil(until - now)))
        with self._lock:
            if self.blocked.get(remote) == until:
                del self.blocked[remote]

    @hookimpl
    def tokenguard_auth_failed(self, reason: str, hint: str | None, remote: str | None) -> None:
        if remote is None:
            return
        now = self._clock()
        with self._lock:
            client = self._client(remote)
            failures = client.failures
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            failures.append(now)
            if len(failures) < self.max_failures or now < client.blocked_until:
                return
            client.blocked_until = now + self.block_for
            self.blocked[remote] = client.blocked_until
            while len(self.blocked) > self.max_clients:
                del self.blocked[next(iter(self.blocked))]
            count = len(failures)
            failures.clear()
        self._report(remote, count)

    def _client(self, remote: str) -> _Client:
        client = self._clients.get(remote)
        if client is None:
            client = self._clients[remote] = _Client()
            while len(self._clients) > self.max_clients:
                forgotten, _ = self._clients.popitem(last=False)
                self.blocked.pop(forgotten, None)
        else:
            self._clients.move_to_end(remote)
        return client

    def _report(self, remote: str, failures: int) -> None:
        seconds = math.ceil(self.block_for)
        # json.dumps escapes control characters: an address cannot forge a log line.
        logger.warning("client %s blocked for %d s after %d failed authentications",
                       json.dumps(remote, ensure_ascii=True), seconds, failures)
        audit.emit("auth_blocked", outcome="failure", remote=remote, failures=failures,
                   retry_after=seconds)

    def is_blocked(self, remote: str) -> bool:
        """Whether ``remote`` is refused right now (for status pages and tests)."""
        with self._lock:
            until = self.blocked.get(remote)
            return until is not None and self._clock() < until

    def tracked_clients(self) -> int:
        with self._lock:
            return len(self._clients)
