"""A query flood: 10,000 random well-formed tokens from one address, with and without the limiter.

Every token has a valid checksum (``tokenguard.tokens.generate``), so each distinct one
passes the offline checks and costs a look-up: without a limiter, the client's request
rate is the database's query rate. The guard runs on SQLite; every SQL statement the
database runs is counted (``sqlite3``'s trace callback on each connection the store's
engine opens, which also sees the store's raw look-up connections), and so are
``store.find`` calls (the statements are the look-ups, plus a ``SELECT 1`` each time
the store opens a connection).

Rows:

* one instance, ``limiter=None`` (before) and the default limiter (after), all at once;
* the default bounds over ten minutes (the same tokens, one every 60 ms, on a fake clock);
* two instances behind a load balancer, alternating, on one database: ``limiter=None``,
  a limiter in each process, and (when Redis answers on 127.0.0.1:6379) the default of
  ``invalidation="redis://…"``, one count for both.

    python benchmarks/bench_flood.py            # 10,000 tokens
    BENCH_QUICK=1 python benchmarks/bench_flood.py
"""

from __future__ import annotations

import logging
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import KEY, QUICK
from sqlalchemy import event

from tokenguard import InvalidToken, TokenGuard, tokens
from tokenguard.errors import TooManyAttempts
from tokenguard.limiter import FailedAttemptLimiter
from tokenguard.stores.sqlalchemy import SQLAlchemyStore

TOKENS = 1_000 if QUICK else 10_000
REDIS_URL = "redis://127.0.0.1:6379/0"
SPREAD_SECONDS = 600.0


@dataclass
class Outcome:
    statements: int = 0
    finds: int = 0
    refused_401: int = 0
    refused_429: int = 0
    seconds: float = 0.0


class Database:
    """One SQLite file; counts the statements it runs and the look-ups of every store on it."""

    def __init__(self, directory: Path) -> None:
        self.url = f"sqlite:///{directory / f'{secrets.token_hex(4)}.db'}"
        self.statements = 0
        self.finds = 0

    def store(self) -> SQLAlchemyStore:
        store = SQLAlchemyStore(self.url)
        event.listen(store.engine, "connect", self._trace)  # before its first connection
        find = store.find

        def counted_find(digest: str) -> Any:
            self.finds += 1
            return find(digest)

        store.find = counted_find  # type: ignore[method-assign]
        return store

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(self._count)

    def _count(self, _statement: str) -> None:
        self.statements += 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def real_time() -> None:
    """No tick: the guards' clocks run as they do."""


def flood(guards: list[TokenGuard], db: Database, remote: str,
          tick: Callable[[], None] = real_time) -> Outcome:
    """Send TOKENS random well-formed tokens from ``remote``, to each guard in turn."""
    guesses = [tokens.generate("tg") for _ in range(TOKENS)]
    db.statements = db.finds = 0
    outcome = Outcome()
    started = time.perf_counter()
    for n, guess in enumerate(guesses):
        tick()
        try:
            guards[n % len(guards)].authenticate(guess, remote=remote)
        except TooManyAttempts:
            outcome.refused_429 += 1
        except InvalidToken:
            outcome.refused_401 += 1
    outcome.seconds = time.perf_counter() - started
    outcome.statements, outcome.finds = db.statements, db.finds
    return outcome


@contextmanager
def instances(directory: Path, count: int, **options: Any) -> Iterator[tuple[list[TokenGuard], Database]]:
    db = Database(directory)
    made = [instance_options(options) for _ in range(count)]
    guards = [TokenGuard(db.store(), secret_key=KEY, load_entry_points=False, **kwargs) for kwargs in made]
    guards[0].create_token("alice", "real")  # the schema, and one real token
    try:
        yield guards, db
    finally:
        for guard in guards:
            if guard.limiter is not None:
                guard.limiter.close()
            guard.close()


def instance_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options for one instance: a ``limiter`` factory is called once per instance."""
    made = dict(options)
    if callable(made.get("limiter")):
        made["limiter"] = made["limiter"]()
    return made


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def forget_in_redis(remote: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.delete(f"tokenguard:limiter:failures:{{{remote}}}", f"tokenguard:limiter:blocked:{{{remote}}}")
    client.close()


def main() -> int:
    logging.getLogger("tokenguard.limiter").setLevel(logging.ERROR)  # each block's warning: expected
    clock = FakeClock()
    spread = SPREAD_SECONDS / TOKENS

    def tick() -> None:
        clock.now += spread

    over = f"1 instance, over {SPREAD_SECONDS / 60:g} min"
    runs: list[tuple[str, str, int, dict[str, Any], Callable[[], None]]] = [
        ("1 instance, all at once", "`limiter=None` (before)", 1, {"limiter": None}, real_time),
        ("1 instance, all at once", "default (after)", 1, {}, real_time),
        (over, "`limiter=None`", 1, {"limiter": None}, tick),
        (over, "default bounds, fake clock", 1, {"limiter": lambda: FailedAttemptLimiter(clock=clock)}, tick),
        ("2 instances, alternating", "`limiter=None`", 2, {"limiter": None}, real_time),
        ("2 instances, alternating", "default, in each process", 2, {}, real_time),
    ]
    if redis_answers():
        runs.append(("2 instances, alternating", "default with `invalidation=redis://`", 2,
                     {"invalidation": REDIS_URL}, real_time))
    else:
        print("(Redis is not answering on 127.0.0.1:6379: the shared row is left out)", file=sys.stderr)
    rows: list[tuple[str, str, Outcome]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for setup, limiter, count, options, ticking in runs:
            remote = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"  # fresh in Redis
            try:
                with instances(Path(tmp), count, **options) as (guards, db):
                    rows.append((setup, limiter, flood(guards, db, remote, ticking)))
            finally:
                if "invalidation" in options:
                    forget_in_redis(remote)
    print(f"\n{TOKENS:,} random well-formed tokens from one address, SQLite\n")
    print("| setup | limiter | SQL statements | `store.find` | 401 | 429 | time |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for setup, limiter, o in rows:
        print(f"| {setup} | {limiter} | {o.statements:,} | {o.finds:,} | {o.refused_401:,} | "
              f"{o.refused_429:,} | {o.seconds:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
