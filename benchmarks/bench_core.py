"""Core verification in process: tokenguard with a warm cache against the hand-written floors.

Also: what one HMAC and a pure-Python base62 encode cost (reference points),
the bytes one cached token takes, and what a repeated unknown token costs with
the negative cache.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tempfile
import tracemalloc
from pathlib import Path

from common import KEY, QUICK, Report, Row, header, interleaved, median, ratio, us
from floor import base62, plain_floor, tuned_floor

from tokenguard import InvalidToken, TokenGuard, tokens

SCOPE = "read"


def make_guard(url: str, **options: object) -> TokenGuard:
    return TokenGuard(url, secret_key=KEY, load_entry_points=False, max_tokens_per_owner=None,
                      **options)  # type: ignore[arg-type]


def floor_rows(report: Report) -> None:
    guard = make_guard("memory://")
    made = [guard.create_token("alice", f"t{i}", scopes=["write"]).token for i in range(1000)]
    token = made[500]
    plain, tuned = plain_floor(KEY, "tg", made, SCOPE), tuned_floor(KEY, "tg", made, SCOPE)
    authenticate, require = guard.authenticate, guard.require
    data = token.encode()
    samples = interleaved({
        "hmac": lambda: hmac.new(KEY, data, hashlib.sha256).hexdigest(),
        "base62": lambda: base62(123456789012345, 22),
        "plain": lambda: plain(token),
        "tuned": lambda: tuned(token),
        "tokenguard": lambda: require(authenticate(token), SCOPE),
        "authenticate": lambda: authenticate(token),
    }, seconds=0.05)
    section = "floor"
    report.add(Row(section, "one HMAC-SHA256 via hmac.new", us(median(samples["hmac"])), "µs"))
    report.add(Row(section, "pure-Python base62 encode (22 chars)", us(median(samples["base62"])), "µs"))
    report.add(Row(section, "floor, written plainly", us(median(samples["plain"])), "µs",
                   ratio(samples, "plain", "tuned"), "tuned floor"))
    report.add(Row(section, "floor, tuned", us(median(samples["tuned"])), "µs"))
    r = ratio(samples, "tokenguard", "tuned")
    report.add(Row(section, "tokenguard authenticate+require, warm cache", us(median(samples["tokenguard"])),
                   "µs", r, "tuned floor", "≤ 1.5x", r <= 1.5))
    report.add(Row(section, "tokenguard authenticate alone, warm cache", us(median(samples["authenticate"])),
                   "µs", ratio(samples, "authenticate", "tuned"), "tuned floor"))


def memory_rows(report: Report, workdir: Path) -> None:
    """Bytes per cached token, with records read from SQLite (fresh objects, as in production)."""
    count = 2_000 if QUICK else 10_000
    guard = make_guard(f"sqlite:///{workdir}/memory.db", cache_size=count)
    warm = make_guard(guard.store, cache_ttl=None)  # type: ignore[arg-type]
    made = [guard.create_token(f"user{i % 100}", f"token {i}", scopes=["write"]).token for i in range(count)]
    for token in made:  # last use written now, so caching below writes nothing
        warm.authenticate(token)
    guard.cache.clear()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for token in made:
        guard.authenticate(token)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    per_token = grown / count
    report.add(Row("memory", f"bytes per cached token ({count:,} cached, SQLite records)", per_token, "B"))
    report.add(Row("memory", "cache at its default bound (10,000 tokens)", per_token * 10_000 / 2**20, "MiB",
                   note="filed longest ago out first: cache_size=10_000, cache_ttl=5 s"))
    guard.close()


def negative_rows(report: Report, workdir: Path) -> None:
    url = f"sqlite:///{workdir}/negative.db"
    cached, uncached = make_guard(url), make_guard(url, cache_ttl=None)
    cached.create_token("alice", "real")
    unknown = tokens.generate("tg")

    def refuse(guard: TokenGuard) -> None:
        try:
            guard.authenticate(unknown)
        except InvalidToken:
            return
        raise AssertionError("an unknown token was accepted")

    samples = interleaved({"negative": lambda: refuse(cached), "query": lambda: refuse(uncached)},
                          seconds=0.05)
    report.add(Row("unknown", "repeated unknown token, negative cache", us(median(samples["negative"])), "µs",
                   ratio(samples, "negative", "query"), "one store query each"))
    report.add(Row("unknown", "repeated unknown token, no cache (SQLite query)", us(median(samples["query"])),
                   "µs"))
    cached.close()
    uncached.close()


def main() -> None:
    header("core: verification floor, memory, unknown tokens")
    report = Report("core")
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        floor_rows(report)
        memory_rows(report, Path(tmp))
        negative_rows(report, Path(tmp))
    report.save()


if __name__ == "__main__":
    secrets.token_bytes(1)  # entropy pool warm before any timing
    main()
