"""``guard.expiring()`` and ``guard.unused()`` on tables of 1k, 100k and 1M tokens, SQLite and PostgreSQL.

Each table is filled in bulk (executemany on SQLite, COPY on PostgreSQL), never
token by token, and holds the same ``DUE`` tokens that expire within the week and
the same ``DUE`` not used for 90 days; every other token expires later and was used
lately, as in a live app. Both calls read one indexed range (``expires_at``;
``last_used_at`` with ``created_at``), so their cost should follow the ``DUE`` tokens
they return, not the size of the table: the ratio to the 1k table stays near 1.
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import KEY, QUICK, Report, Row, header, interleaved, median, ratio, us
from datasets import COLUMNS, PG_ADMIN, PG_DSN, PG_URL, postgres_available

from tokenguard import TokenGuard

SIZES = {"1k": 1_000, "100k": 100_000, "1M": 1_000_000}
if QUICK:
    SIZES = {"1k": 1_000, "100k": 20_000, "1M": 50_000}
#: tokens each query finds, in every table
DUE = 100
WEEK, STALE = timedelta(days=7), timedelta(days=90)


def rows(size: int, now: datetime) -> Iterator[tuple[object, ...]]:
    """``DUE`` expiring within the week, ``DUE`` unused for over 90 days, the rest neither."""
    for i in range(size):
        expires_at = now + timedelta(days=30 + i % 700)
        last_used_at = now - timedelta(seconds=60 + i % 40_000)
        if i < DUE:
            expires_at = now + timedelta(days=1, minutes=i)
        elif i < 2 * DUE:
            last_used_at = now - timedelta(days=100, minutes=i)
        yield (f"life{i:08d}", f"{i:064x}", f"owner{i % 50_000}", "bench", "read", "", False,
               now - timedelta(days=60), expires_at, last_used_at, None, "tg_…life", None)


def guard_on(url: str) -> TokenGuard:
    return TokenGuard(url, secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None)


def sqlite_table(workdir: Path, size: int, label: str, now: datetime) -> str:
    path = workdir / f"lifecycle-{label}.db"
    url = f"sqlite:///{path}"
    with guard_on(url) as guard:
        guard.list_tokens("nobody")  # the schema, made by the store itself
    stamp = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a naive UTC datetime in SQLite

    def text(value: object) -> object:
        return value.replace(tzinfo=None).strftime(stamp) if isinstance(value, datetime) else value

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")  # 256 MiB: four indexes of 1M rows, built in memory
        connection.execute("BEGIN")
        placeholders = ", ".join("?" for _ in COLUMNS)
        connection.executemany(
            f"INSERT INTO tokenguard_tokens ({', '.join(COLUMNS)}) VALUES ({placeholders})",
            (tuple(text(v) for v in row) for row in rows(size, now)))
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return url


def _copy_chunks(size: int, now: datetime) -> Iterator[bytes]:
    buffer = io.StringIO()
    for n, row in enumerate(rows(size, now), 1):
        buffer.write("\t".join(r"\N" if v is None else "f" if v is False else
                               v.isoformat() if isinstance(v, datetime) else str(v) for v in row))
        buffer.write("\n")
        if n % 50_000 == 0:
            yield buffer.getvalue().encode()
            buffer = io.StringIO()
    yield buffer.getvalue().encode()


def postgres_table(size: int, label: str, now: datetime) -> str:
    import psycopg

    name = f"tg_bench_life_{label}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    with guard_on(url) as guard:
        guard.list_tokens("nobody")
    with psycopg.connect(PG_DSN.format(name=name)) as connection:
        with connection.cursor() as cursor, cursor.copy(
                f"COPY tokenguard_tokens ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for chunk in _copy_chunks(size, now):
                copy.write(chunk)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE tokenguard_tokens")
    return url


def drop_postgres(label: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "tg_bench_life_{label}" WITH (FORCE)')


def checked(call: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
    found = call()
    if len(found) != DUE:
        raise AssertionError(f"expected {DUE} tokens, found {len(found)}")
    return call


def measure(report: Report, section: str, urls: dict[str, str]) -> None:
    guards = {label: guard_on(url) for label, url in urls.items()}
    contenders: dict[str, Callable[[], Any]] = {}
    for label, guard in guards.items():
        contenders[f"expiring {label}"] = checked(lambda g=guard: g.expiring(within=WEEK))
        contenders[f"unused {label}"] = checked(lambda g=guard: g.unused(for_=STALE))
    samples = interleaved(contenders)
    base, top = next(iter(SIZES)), list(SIZES)[-1]
    calls = (("expiring", "guard.expiring(within=7 days)"), ("unused", "guard.unused(for_=90 days)"))
    for query, call in calls:
        for label, size in SIZES.items():
            name = f"{query} {label}"
            r = ratio(samples, name, f"{query} {base}")
            is_top = label == top
            report.add(Row(section, f"{call}, {size:,} tokens", us(median(samples[name])), "µs", r,
                           f"{base} tokens", "≤ 1.2x" if is_top else "", r <= 1.2 if is_top else None,
                           f"{DUE} found" if label == base else ""))
    for guard in guards.values():
        guard.close()


def build(section: str, make: Callable[[int, str], str]) -> dict[str, str]:
    made = {}
    for label, size in SIZES.items():
        started = time.monotonic()
        made[label] = make(size, label)
        print(f"  {section}: {size:,} tokens written in {time.monotonic() - started:.1f} s", flush=True)
    return made


def main() -> None:
    header("lifecycle: expiring and unused tokens at scale")
    report = Report("lifecycle")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        workdir = Path(tmp)
        measure(report, "SQLite",
                build("SQLite", lambda size, label: sqlite_table(workdir, size, label, now)))
    if postgres_available():
        try:
            measure(report, "PostgreSQL",
                    build("PostgreSQL", lambda size, label: postgres_table(size, label, now)))
        finally:
            for label in SIZES:
                drop_postgres(label)
    else:
        report.add(Row("PostgreSQL", "lifecycle queries not measured: nothing listens on 127.0.0.1:5432",
                       0, ""))
    report.save()


if __name__ == "__main__":
    main()
