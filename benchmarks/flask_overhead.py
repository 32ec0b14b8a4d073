"""Requests per second of a protected Flask view against the same view unprotected.

In process, through Flask's test client (no sockets), timed in CPU seconds of this
process. The protected view gets a valid token; the unprotected view of the same
app gets a request without one (the extension's check then finds no credentials);
a plain app without tokenguard is the floor. The difference is what tokenguard
costs: reading the header, parsing and hashing the token, the store (or cache)
look-up and the scope check. Prints the median of several interleaved runs.

    .venv/bin/python benchmarks/flask_overhead.py [--requests 20000] [--runs 5] [--store memory://]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask

from tokenguard import TokenGuard
from tokenguard_flask import FlaskTokenGuard, require_scope


def plain_app() -> Flask:
    app = Flask("plain")

    @app.get("/open")
    def open_view() -> dict[str, bool]:
        return {"ok": True}

    return app


def build(store: str) -> tuple[Flask, str]:
    guard = TokenGuard(store, secret_key=secrets.token_bytes(32), load_entry_points=False)
    app = Flask("bench")
    FlaskTokenGuard(app, guard)

    @app.get("/open")
    def open_view() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/guarded")
    @require_scope("read")
    def guarded_view() -> dict[str, bool]:
        return {"ok": True}

    return app, guard.create_token("bench", "bench", scopes=["read"]).token


def rate(app: Flask, path: str, headers: dict[str, str], requests: int) -> float:
    """Requests per second of this process's CPU time (other processes on the machine don't count)."""
    client = app.test_client()
    assert client.get(path, headers=headers).status_code == 200
    start = time.process_time()
    for _ in range(requests):
        client.get(path, headers=headers)
    return requests / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", default="memory://", help="memory:// or sqlite (a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{Path(tmp) / 'bench.db'}" if args.store == "sqlite" else args.store
        app, token = build(store)
        plain = plain_app()
        auth = {"Authorization": f"Bearer {token}"}
        floor_rates, open_rates, guarded_rates = [], [], []
        for _ in range(args.runs):  # interleaved, so drift affects all alike
            floor_rates.append(rate(plain, "/open", {}, args.requests))
            open_rates.append(rate(app, "/open", {}, args.requests))
            guarded_rates.append(rate(app, "/guarded", auth, args.requests))
    floor = statistics.median(floor_rates)
    unprotected, protected = statistics.median(open_rates), statistics.median(guarded_rates)
    print(f"store: {args.store}; {args.requests} requests x {args.runs} runs, medians of CPU-time rates")
    print(f"app without tokenguard:  {floor:,.0f} req/s")
    print(f"unprotected view:        {unprotected:,.0f} req/s")
    print(f"protected view:          {protected:,.0f} req/s")
    print(f"ratio protected/unprotected: {protected / unprotected:.3f} "
          f"({(1 / protected - 1 / unprotected) * 1e6:.1f} µs added per request)")


if __name__ == "__main__":
    main()
