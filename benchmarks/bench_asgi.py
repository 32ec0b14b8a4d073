"""Overhead of TokenGuardMiddleware + require_scope on a Starlette endpoint, in process.

Calls the ASGI app directly (no server, no HTTP client), so what is measured is
the app: Starlette routing alone, and the same endpoint with a token checked.

    .venv/bin/python benchmarks/bench_asgi.py [--requests 20000] [--rounds 5] [--store memory|sqlite]

Prints requests/s per variant (median of the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware, require_scope


async def bare(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@require_scope("read")
async def protected(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def scope_for(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": b"", "headers": [(b"host", b"bench"), *headers],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}


async def run(app: ASGIApp, scope: dict[str, Any], count: int) -> tuple[float, float]:
    """(requests per wall-clock second, CPU microseconds per request) over ``count`` requests."""
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        await app(dict(scope), receive, send)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert set(statuses) == {200}, f"unexpected statuses {set(statuses)}"
    return count / wall, cpu / count * 1e6


Variant = Callable[[], tuple[ASGIApp, dict[str, Any]]]


def measure(variants: dict[str, Variant], count: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (req/s, CPU us/request) per variant; rounds interleave the variants so that
    background load on the machine hits each of them alike."""
    built = {name: make() for name, make in variants.items()}
    for app, scope in built.values():
        asyncio.run(run(app, scope, min(count, 2000)))  # warm-up
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in built}
    for _ in range(rounds):
        for name, (app, scope) in built.items():
            samples[name].append(asyncio.run(run(app, scope, count)))
    return {name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs))
            for name, runs in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = "memory://" if args.store == "memory" else f"sqlite:///{tmp}/bench.db"
        guard = TokenGuard(url, secret_key=secrets.token_bytes(32), load_entry_points=False)
        token = guard.create_token("bench", "bench", scopes=["read"]).token
        plain = Starlette(routes=[Route("/bare", bare)])
        routes = [Route("/bare", bare), Route("/p", protected)]
        guarded = TokenGuardMiddleware(Starlette(routes=routes), guard)
        auth = [(b"authorization", f"Bearer {token}".encode())]
        variants = {
            "bare endpoint, no middleware": lambda: (plain, scope_for("/bare", [])),
            "bare endpoint behind middleware, anonymous": lambda: (guarded, scope_for("/bare", [])),
            "protected endpoint, valid token": lambda: (guarded, scope_for("/p", auth)),
        }
        results = measure(variants, args.requests, args.rounds)
        guard.close()
    base_rate, base_cpu = results["bare endpoint, no middleware"]
    print(f"store={args.store} requests={args.requests} rounds={args.rounds} (medians)")
    for name, (rate, cpu) in results.items():
        print(f"  {name:45s} {rate:8.0f} req/s  {rate / base_rate:5.2f}x of bare   "
              f"CPU {cpu:6.1f} us/request ({cpu - base_cpu:+6.1f})")


if __name__ == "__main__":
    main()
