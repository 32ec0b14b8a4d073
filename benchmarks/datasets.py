"""Token tables of 1k, 100k and 1M rows, built in bulk (executemany on SQLite, COPY on PostgreSQL).

Filler rows have random digests: they are never verified, they only make the
table and its indexes as large as a real one. The tokens that are verified
are real ones, made by ``TokenGuard.create_token``. One owner ("heavy") holds
1,000 tokens, another ("single") holds one, to compare what they cost.
"""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common import KEY

from tokenguard import TokenGuard

COLUMNS = ("id", "digest", "owner", "name", "scopes", "projects", "admin", "created_at",
           "expires_at", "last_used_at", "revoked_at", "hint", "parent_id")
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname={name}"
HEAVY_TOKENS = 1_000
VERIFIED = 64  # real tokens per table, verified in turn


@dataclass
class Dataset:
    label: str
    size: int
    url: str
    tokens: list[str]  # real, verifiable, one owner each
    heavy: str  # a real token of the owner who holds HEAVY_TOKENS
    single: str  # a real token of an owner who holds one


def _fillers(count: int, start: int, now: str) -> Iterator[tuple[object, ...]]:
    """Rows of random tokens: ``HEAVY_TOKENS - 1`` of them belong to "heavy"."""
    for i in range(start, start + count):
        owner = "heavy" if i < HEAVY_TOKENS - 1 else f"owner{i % 50_000}"
        yield (f"fill{i:08d}", os.urandom(32).hex(), owner, "filler", "read", "", False, now,
               None, None, None, "tg_…fill", None)


def _real_tokens(url: str) -> tuple[list[str], str, str]:
    guard = TokenGuard(url, secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None,
                       cache_ttl=None, default_lifetime=None)
    made = [guard.create_token(f"bench{i}", "bench", scopes=["write"]).token for i in range(VERIFIED)]
    heavy = guard.create_token("heavy", "heavy", scopes=["write"]).token
    single = guard.create_token("single", "single", scopes=["write"]).token
    guard.close()
    return made, heavy, single


def sqlite_dataset(workdir: Path, size: int, label: str) -> Dataset:
    path = workdir / f"tokens-{label}.db"
    url = f"sqlite:///{path}"
    made, heavy, single = _real_tokens(url)  # creates the schema through the store
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        placeholders = ", ".join("?" for _ in COLUMNS)
        connection.executemany(
            f"INSERT INTO tokenguard_tokens ({', '.join(COLUMNS)}) VALUES ({placeholders})",
            _fillers(size - VERIFIED - 2, 0, now),
        )
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return Dataset(label, size, url, made, heavy, single)


def _copy_text(count: int, now: str) -> Iterator[bytes]:
    buffer = io.StringIO()
    for n, row in enumerate(_fillers(count, 0, now), 1):
        buffer.write("\t".join(r"\N" if v is None else ("f" if v is False else str(v)) for v in row))
        buffer.write("\n")
        if n % 50_000 == 0:
            yield buffer.getvalue().encode()
            buffer = io.StringIO()
    yield buffer.getvalue().encode()


def postgres_dataset(size: int, label: str) -> Dataset:
    import psycopg

    name = f"tg_bench_{label}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    made, heavy, single = _real_tokens(url)
    now = datetime.now(UTC).isoformat()
    with psycopg.connect(PG_DSN.format(name=name)) as connection:
        with connection.cursor() as cursor, cursor.copy(
            f"COPY tokenguard_tokens ({', '.join(COLUMNS)}) FROM STDIN"
        ) as copy:
            for chunk in _copy_text(size - VERIFIED - 2, now):
                copy.write(chunk)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE tokenguard_tokens")
    return Dataset(label, size, url, made, heavy, single)


def drop_postgres(label: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "tg_bench_{label}" WITH (FORCE)')


def postgres_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False
