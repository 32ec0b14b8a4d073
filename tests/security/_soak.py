"""A revoke-while-in-use soak: workers authenticate in a loop while the token is revoked.

Each attempt records when it started and how it ended, on ``time.monotonic``
(one system-wide clock on Linux, so timestamps of child processes compare too).
Run as a script, it is the worker of another process and writes its attempts as
JSON lines on stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenguard import StoreUnavailable, TokenGuard
from tokenguard.errors import AuthenticationError

MAX_ATTEMPTS_PER_WORKER = 200_000
#: A pause between attempts: cache hits take microseconds, and the log must stay small.
PAUSE = 0.0005


@dataclass(slots=True)
class Attempt:
    started: float
    ended: float
    outcome: str  # "accepted", "refused" or an error class name


@dataclass
class SoakLog:
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, batch: list[Attempt]) -> None:
        with self.lock:
            self.attempts.extend(batch)

    def accepted_after(self, moment: float) -> list[Attempt]:
        return [a for a in self.attempts if a.outcome == "accepted" and a.started > moment]

    def count(self, outcome: str, *, before: float | None = None, after: float | None = None) -> int:
        return sum(
            1 for a in self.attempts
            if a.outcome == outcome
            and (before is None or a.ended < before)
            and (after is None or a.started > after)
        )

    def errors(self) -> list[str]:
        return sorted({a.outcome for a in self.attempts} - {"accepted", "refused"})


def attempt(authenticate: Callable[[], object]) -> Attempt:
    started = time.monotonic()
    try:
        authenticate()
        outcome = "accepted"
    except AuthenticationError:
        outcome = "refused"
    except StoreUnavailable:
        outcome = "StoreUnavailable"
    except Exception as exc:  # anything else is a finding; it is reported, never swallowed
        outcome = type(exc).__name__
    return Attempt(started, time.monotonic(), outcome)


def run_workers(
    authenticate: Callable[[], object], workers: int, stop: threading.Event, log: SoakLog
) -> list[threading.Thread]:
    def loop() -> None:
        batch: list[Attempt] = []
        for _ in range(MAX_ATTEMPTS_PER_WORKER):
            if stop.is_set():
                break
            batch.append(attempt(authenticate))
            time.sleep(PAUSE)
        log.add(batch)

    threads = [threading.Thread(target=loop, name=f"soak-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    """Child: ``_soak.py URL KEY TOKEN WORKERS SECONDS CACHE_TTL [INVALIDATION]`` -> JSON lines."""
    url, key, token, workers, seconds, cache_ttl = sys.argv[1:7]
    invalidation = sys.argv[7] if len(sys.argv) > 7 else None
    guard = TokenGuard(url, secret_key=key, load_entry_points=False, cache_ttl=float(cache_ttl),
                       invalidation=invalidation)
    guard.authenticate(token)  # warm up: connection pool, caches
    print("ready", flush=True)
    log = SoakLog()
    stop = threading.Event()
    threads = run_workers(lambda: guard.authenticate(token), int(workers), stop, log)
    stop.wait(float(seconds))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for a in log.attempts:
        print(json.dumps([a.started, a.ended, a.outcome]))
    guard.close()


if __name__ == "__main__":
    main()
