"""Shared parts of the security suite: a store that counts its queries, a fixed key."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from tokenguard.stores.memory import MemoryStore

SECRET = "security-suite-secret-key-0123456789-abcdefghijkl"

_COUNTED = ("insert", "get", "find", "list", "update", "delete", "revoke_owner", "touch")


class CountingStore(MemoryStore):
    """A real MemoryStore that counts every call, per method, across threads."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def reset(self) -> None:
        with self._count_lock:
            self.calls = Counter()

    def _count(self, name: str) -> None:
        with self._count_lock:
            self.calls[name] += 1

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if name in _COUNTED:
            counted: Callable[..., Any] = attr

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                self._count(name)
                return counted(*args, **kwargs)

            return wrapper
        return attr


def backend_url(request: Any, backend: str) -> str:
    """A fresh store URL: memory, or an empty database from the fixtures of tests/conftest.py."""
    if backend == "memory":
        return "memory://"
    fixture = {"sqlite": "sqlite_url", "postgres": "postgres_url", "mariadb": "mysql_url"}[backend]
    url: str = request.getfixturevalue(fixture)
    return url


def cross_process_bound(guard: Any) -> float:
    """Seconds another process may still accept a revoked token: the verification cache's TTL."""
    return float(guard.cache.ttl)
