"""Cross-instance revocation bound: two processes on the machine's PostgreSQL, with and without Redis.

The processes are ``tests/_instance_worker.py`` (the same ones the test suite
runs): one authenticates a token in a loop from its cache, the other revokes
it. The bound is how long after ``revoke`` returned the first one still
accepted the token (``time.monotonic`` is one clock for every process).
"""

from __future__ import annotations

import json
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import HERE, KEY, QUICK, Report, Row, header
from datasets import PG_ADMIN, PG_URL

from tokenguard import TokenGuard
from tokenguard.cache import DEFAULT_TTL

WORKER = HERE.parent / "tests" / "_instance_worker.py"
REDIS_URL = "redis://127.0.0.1:6379/0"
DATABASE = "tg_bench_revocation"


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, str(WORKER), *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError(process.communicate(timeout=10)[1])
    return process


def finish(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=60)
    if process.returncode != 0:
        raise RuntimeError(err)
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def staleness(url: str, redis_url: str | None, ttl: float) -> tuple[float, float]:
    """Seconds another instance accepted a token after ``revoke`` returned (0 if never), and
    seconds from the start of the ``revoke`` call to that instance's first refusal."""
    setup = TokenGuard(url, secret_key=KEY, load_entry_points=False, cache_ttl=None)
    issued = setup.create_token("alice", "revocation bound")
    setup.close()
    channel = "tokenguard-bench-" + secrets.token_hex(4)
    redis_arg, key = redis_url or "-", KEY.decode()
    killer = start("kill", url, key, issued.info.id, redis_arg, channel, "revoke")
    verifier = start("verify", url, key, issued.token, redis_arg, channel, str(ttl), str(ttl + 10))
    time.sleep(0.2)
    assert killer.stdin is not None
    killer.stdin.write("go\n")
    killer.stdin.flush()
    killed = finish(killer)
    seen = finish(verifier)
    if seen["errors"] or seen["first_refused"] is None:
        raise RuntimeError(f"verifier: {seen}")
    returned, started = float(killed["returned"]), float(killed["started"])  # type: ignore[arg-type]
    stale = max(0.0, float(seen["last_accepted"] or 0.0) - returned)  # type: ignore[arg-type]
    return stale, float(seen["first_refused"]) - started  # type: ignore[arg-type]


def main() -> None:
    header("revocation: bound across instances")
    report = Report("revocation")
    if not listening(5432):
        report.add(Row("revocation", "not measured: no PostgreSQL on 127.0.0.1:5432", 0, ""))
        report.save()
        return
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    url = PG_URL.format(name=DATABASE)
    try:
        if listening(6379):
            runs = [staleness(url, REDIS_URL, 30.0) for _ in range(3 if QUICK else 7)]
            stale = [r[0] for r in runs]
            refused = [r[1] for r in runs]
            report.add(Row("revocation", "with Redis: accepted after revoke returned (median)",
                           statistics.median(stale) * 1000, "ms", target="≪ 1 s", holds=max(stale) < 1.0,
                           note=f"max {max(stale) * 1000:.1f} ms over {len(runs)} runs; cache age 30 s"))
            report.add(Row("revocation", "with Redis: revoke call start to first refusal (median)",
                           statistics.median(refused) * 1000, "ms",
                           note=f"max {max(refused) * 1000:.1f} ms; includes the database write"))
        else:
            report.add(Row("revocation", "with Redis: not measured, nothing on 127.0.0.1:6379", 0, ""))
        ttl = 1.0 if QUICK else DEFAULT_TTL
        runs = [staleness(url, None, ttl) for _ in range(2 if QUICK else 3)]
        stale = [r[0] for r in runs]
        report.add(Row("revocation", f"without Redis: accepted after revoke returned (cache age {ttl:g} s)",
                       statistics.median(stale) * 1000, "ms", target=f"≤ {ttl:g} s (cache age)",
                       holds=max(stale) <= ttl + 0.3, note=f"max {max(stale) * 1000:.0f} ms"))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    report.save()


if __name__ == "__main__":
    Path(WORKER).resolve(strict=True)
    main()
