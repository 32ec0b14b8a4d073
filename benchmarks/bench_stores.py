"""Verification without cache, on SQLite and PostgreSQL, against the raw driver; and at scale.

Every contender looks a token up by its digest on a connection it keeps:
raw ``sqlite3``, prepared ``psycopg`` 3, SQLAlchemy Core, the naive ORM (a new
Session per request), and ``TokenGuard.authenticate`` + ``require`` with the
cache off (the store's own path). Then the same verification on tables of
1k, 100k and 1M tokens, and for an owner of 1,000 tokens against an owner of one.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import KEY, QUICK, Report, Row, header, interleaved, median, ratio, us
from datasets import (
    PG_DSN,
    Dataset,
    drop_postgres,
    postgres_available,
    postgres_dataset,
    sqlite_dataset,
)
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tokenguard import TokenGuard, TokenInfo, tokens
from tokenguard.stores.sql_rows import FIND_BY_DIGEST, RECORD_COLUMNS
from tokenguard.stores.sql_schema import TokenRow

SQL = f"SELECT {', '.join(RECORD_COLUMNS)} FROM tokenguard_tokens WHERE digest = "
SIZES = {"1k": 1_000, "100k": 100_000, "1M": 1_000_000}
if QUICK:
    SIZES = {"1k": 1_000, "100k": 20_000, "1M": 50_000}


def uncached_guard(url: str) -> TokenGuard:
    return TokenGuard(url, secret_key=KEY, load_entry_points=False, cache_ttl=None,
                      max_tokens_per_owner=None)


def cycling(values: list[str]) -> Callable[[], str]:
    return itertools.cycle(values).__next__


def verify_with(guard: TokenGuard, tokens: list[str]) -> Callable[[], Any]:
    """Verify ``tokens`` in turn. Each is used once first: ``last_used_at`` is written at most
    once a minute per token, and that write is not what is measured here."""
    for token in tokens:
        guard.authenticate(token)
    next_token, authenticate, require = cycling(tokens), guard.authenticate, guard.require
    return lambda: require(authenticate(next_token()), "read")


def digests(tokens: list[str]) -> list[str]:
    hasher = uncached_guard("memory://")._hasher
    return [hasher.digest(t) for t in tokens]


def hand_written(cursor: sqlite3.Cursor, sql: str, made: list[str]) -> Callable[[], Any]:
    """The same verification without any library: parse, HMAC, query, build a new TokenInfo."""
    hasher = uncached_guard("memory://")._hasher
    next_token, parse, fromiso = cycling(made), tokens.parse, datetime.fromisoformat

    def when(text: str | None) -> datetime | None:
        return None if text is None else fromiso(text).replace(tzinfo=UTC)

    def verify() -> TokenInfo:
        r = cursor.execute(sql, (hasher.digest(parse(next_token(), "tg")),)).fetchone()
        info = TokenInfo(r[0], r[2], r[3], frozenset(r[4].split()), frozenset(r[5].split()), bool(r[6]),
                         when(r[7]), when(r[8]), when(r[9]), when(r[10]), r[11], r[12])
        if info.revoked_at is not None or "write" not in info.scopes:
            raise AssertionError("refused")
        return info

    return verify


def drivers_sqlite(report: Report, data: Dataset) -> None:
    path = data.url.removeprefix("sqlite:///")
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    cursor = raw.cursor()
    engine = create_engine(data.url)
    kept = engine.connect()
    guard = uncached_guard(data.url)
    keys = cycling(digests(data.tokens))
    sql = SQL + "?"

    hand = hand_written(cursor, sql, data.tokens)

    def orm_naive() -> Any:
        with Session(engine) as session:
            return session.scalars(select(TokenRow).where(TokenRow.digest == keys())).first()

    samples = interleaved({
        "raw": lambda: cursor.execute(sql, (keys(),)).fetchone(),
        "core": lambda: kept.execute(FIND_BY_DIGEST, {"digest": keys()}).first(),
        "orm": orm_naive,
        "hand": hand,
        "tokenguard": verify_with(guard, data.tokens),
    })
    section = "SQLite"
    report.add(Row(section, "raw sqlite3, kept connection", us(median(samples["raw"])), "µs"))
    report.add(Row(section, "SQLAlchemy Core, kept connection", us(median(samples["core"])), "µs",
                   ratio(samples, "core", "raw"), "raw sqlite3"))
    report.add(Row(section, "SQLAlchemy ORM, naive (Session per request)", us(median(samples["orm"])), "µs",
                   ratio(samples, "orm", "raw"), "raw sqlite3"))
    report.add(Row(section, "hand-written: parse+HMAC+raw query+TokenInfo", us(median(samples["hand"])), "µs",
                   ratio(samples, "hand", "raw"), "raw sqlite3",
                   note="written by hand in plain Python: a new TokenInfo per call"))
    r = ratio(samples, "tokenguard", "raw")
    report.add(Row(section, "tokenguard verify, no cache", us(median(samples["tokenguard"])), "µs", r,
                   "raw sqlite3", "≤ 2x", r <= 2.0))
    guard.close()
    kept.close()
    engine.dispose()
    raw.close()


def drivers_postgres(report: Report, data: Dataset) -> None:
    import psycopg

    keys = cycling(digests(data.tokens))
    sql = SQL + "%s"
    raw = psycopg.connect(PG_DSN.format(name=f"tg_bench_{data.label}"), autocommit=True)
    cursor = raw.cursor()

    def prepared() -> Any:
        cursor.execute(sql, (keys(),), prepare=True)
        return cursor.fetchone()

    engine = create_engine(data.url)
    kept = engine.connect()
    guard = uncached_guard(data.url)
    samples = interleaved({
        "raw": prepared,
        "core": lambda: kept.execute(FIND_BY_DIGEST, {"digest": keys()}).first(),
        "tokenguard": verify_with(guard, data.tokens),
    })
    section = "PostgreSQL"
    report.add(Row(section, "psycopg 3 prepared, kept connection", us(median(samples["raw"])), "µs"))
    report.add(Row(section, "SQLAlchemy Core, kept connection", us(median(samples["core"])), "µs",
                   ratio(samples, "core", "raw"), "prepared psycopg"))
    r = ratio(samples, "tokenguard", "raw")
    report.add(Row(section, "tokenguard verify, no cache", us(median(samples["tokenguard"])), "µs", r,
                   "prepared psycopg", "≤ 1.2x", r <= 1.2))
    guard.close()
    kept.close()
    engine.dispose()
    raw.close()


def scale(report: Report, section: str, datasets: list[Dataset]) -> None:
    guards = {d.label: uncached_guard(d.url) for d in datasets}
    contenders = {d.label: verify_with(guards[d.label], d.tokens) for d in datasets}
    first = datasets[0]
    contenders["heavy"] = verify_with(guards[first.label], [first.heavy])
    contenders["single"] = verify_with(guards[first.label], [first.single])
    samples = interleaved(contenders)
    base = datasets[0].label
    for d in datasets:
        r = ratio(samples, d.label, base)
        is_top = d is datasets[-1]
        report.add(Row(section, f"tokenguard verify, no cache, {d.size:,} tokens",
                       us(median(samples[d.label])), "µs", r, f"{base} tokens",
                       "≤ 1.2x" if is_top else "", r <= 1.2 if is_top else None))
    r = ratio(samples, "heavy", "single")
    report.add(Row(section, f"owner of {1000:,} tokens (no cache)", us(median(samples["heavy"])), "µs", r,
                   "owner of 1 token", "≈ 1x (≤ 1.2x)", r <= 1.2))
    for guard in guards.values():
        guard.close()


def build(section: str, make: Callable[[int, str], Dataset]) -> list[Dataset]:
    made = []
    for label, size in SIZES.items():
        started = time.monotonic()
        made.append(make(size, label))
        print(f"  {section}: {size:,} tokens written in {time.monotonic() - started:.1f} s", flush=True)
    return made


def main() -> None:
    header("stores: verification without cache, and at scale")
    report = Report("stores")
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        workdir = Path(tmp)
        sqlite_sets = build("SQLite", lambda size, label: sqlite_dataset(workdir, size, label))
        drivers_sqlite(report, sqlite_sets[0])
        scale(report, "SQLite", sqlite_sets)
    if postgres_available():
        try:
            pg_sets = build("PostgreSQL", postgres_dataset)
            drivers_postgres(report, pg_sets[0])
            scale(report, "PostgreSQL", pg_sets)
        finally:
            for label in SIZES:
                drop_postgres(label)
    else:
        report.add(Row("PostgreSQL", "not measured: nothing listens on 127.0.0.1:5432", 0, ""))
    report.save()


if __name__ == "__main__":
    main()
