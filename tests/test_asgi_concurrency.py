"""Store calls never block the event loop: a slow store stalls only the requests that need it."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tokenguard import MemoryStore, TokenGuard, TokenRecord, hookimpl
from tokenguard_asgi import TokenGuardMiddleware, require_scope

STORE_DELAY = 0.5


class SlowStore(MemoryStore):
    """A store whose look-up takes as long as a slow database round trip."""

    def find(self, digest: str) -> TokenRecord | None:
        time.sleep(STORE_DELAY)
        return super().find(digest)


class ThreadRecorder:
    """A plugin noting which thread each authentication runs in."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    @hookimpl
    def tokenguard_before_authenticate(self, remote: str | None) -> None:
        self.threads.append(threading.current_thread())


@require_scope("read")
async def notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": request.auth.token.owner})


async def public(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def build(store: Any, plugins: tuple[object, ...] = (), **options: Any) -> tuple[TokenGuardMiddleware,
                                                                                 TokenGuard]:
    guard = TokenGuard(store, secret_key=secrets.token_bytes(32), max_tokens_per_owner=None,
                       plugins=plugins, load_entry_points=False)
    app = Starlette(routes=[Route("/notes", notes), Route("/public", public)])
    return TokenGuardMiddleware(app, guard, **options), guard


async def timed(call: Callable[[], Any]) -> tuple[float, float, int]:
    """(started, finished, status) on the monotonic clock."""
    started = time.monotonic()
    response = await call()
    return started, time.monotonic(), response.status_code


async def slow_and_fast(app: TokenGuardMiddleware, token: str, fast_count: int = 10) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        slow = asyncio.create_task(timed(lambda: client.get("/notes",
                                                             headers={"Authorization": f"Bearer {token}"})))
        await asyncio.sleep(0.05)  # the protected request is now waiting on the store
        fast = await asyncio.gather(*(timed(lambda: client.get("/public")) for _ in range(fast_count)))
        return {"slow": await slow, "fast": fast}


def test_slow_store_does_not_stall_other_requests() -> None:
    app, guard = build(SlowStore())
    token = guard.create_token("alice", "slow", scopes=["read"]).token
    result = asyncio.run(slow_and_fast(app, token))
    slow_started, slow_finished, slow_status = result["slow"]
    assert slow_status == 200
    assert slow_finished - slow_started >= STORE_DELAY
    for _started, finished, status in result["fast"]:
        assert status == 200
        assert finished - slow_started < STORE_DELAY / 2, "an unprotected request waited for the store"
        assert finished < slow_finished


def test_the_stall_is_detected_when_store_calls_run_inline() -> None:
    """The measurement above would catch a blocking call: forced inline, every request waits."""
    app, guard = build(SlowStore())
    token = guard.create_token("alice", "slow", scopes=["read"]).token
    app.runs_inline = True
    blocked = asyncio.run(slow_and_fast(app, token))
    slow_started = blocked["slow"][0]
    assert min(finished - slow_started for _, finished, _ in blocked["fast"]) >= STORE_DELAY


def test_concurrent_slow_lookups_run_in_parallel_threads() -> None:
    app, guard = build(SlowStore())
    tokens = [guard.create_token(f"user{i}", "slow", scopes=["read"]).token for i in range(5)]

    async def run() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = time.monotonic()
            responses = await asyncio.gather(*(client.get("/notes", headers={"Api-Token": token})
                                               for token in tokens))
            assert [r.json()["owner"] for r in responses] == [f"user{i}" for i in range(5)]
            return time.monotonic() - started

    assert asyncio.run(run()) < STORE_DELAY * 3


@pytest.mark.parametrize(
    ("store", "options", "inline"),
    [
        (MemoryStore(), {}, True),
        (MemoryStore(), {"inline_memory_store": False}, False),
        (SlowStore(), {}, False),
    ],
    ids=["memory-store-inline", "fast-path-switched-off", "other-store-in-thread"],
)
def test_only_the_memory_store_runs_inline(store: Any, options: dict[str, Any], inline: bool) -> None:
    recorder = ThreadRecorder()
    app, guard = build(store, plugins=(recorder,), **options)
    token = guard.create_token("alice", "where", scopes=["read"]).token

    async def run() -> threading.Thread:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/notes", headers={"Api-Token": token})).status_code == 200
        return threading.current_thread()

    loop_thread = asyncio.run(run())
    assert len(recorder.threads) == 1
    assert (recorder.threads[0] is loop_thread) is inline


def test_sqlite_store_runs_in_a_worker_thread(sqlite_url: str) -> None:
    recorder = ThreadRecorder()
    app, guard = build(sqlite_url, plugins=(recorder,))
    token = guard.create_token("alice", "sql", scopes=["read"]).token

    async def run() -> tuple[threading.Thread, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/notes", headers={"Authorization": f"Bearer {token}"})
        return threading.current_thread(), response.json()["owner"]

    loop_thread, owner = asyncio.run(run())
    assert owner == "alice"
    assert recorder.threads and recorder.threads[0] is not loop_thread
    guard.close()


def test_an_async_owner_loader_never_holds_a_worker_thread() -> None:
    """A loader that awaits, then wants a thread itself, with two threads for the whole app."""
    import anyio.to_thread
    from starlette.concurrency import run_in_threadpool

    async def owner_loader(request: Request) -> str:
        await asyncio.sleep(0.05)  # a session read
        return await run_in_threadpool(lambda: "alice")  # an ORM look-up in a thread

    guard = TokenGuard(MemoryStore(), secret_key=secrets.token_bytes(32), load_entry_points=False)
    middleware = TokenGuardMiddleware(Starlette(routes=[Route("/public", public)]), guard,
                                      owner_loader=owner_loader)

    async def main() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            with anyio.fail_after(20):  # before: every thread waited on a loader waiting for one
                answers = await asyncio.gather(*(client.get("/api/tokens") for _ in range(12)))
        return [answer.status_code for answer in answers]

    assert asyncio.run(main()) == [200] * 12


def test_a_body_cut_short_by_the_client_is_not_acted_on() -> None:
    """The client sent half a form and left: a truncated form is still a form, so nothing is done."""
    guard = TokenGuard(MemoryStore(), secret_key=secrets.token_bytes(32), load_entry_points=False)
    manager = guard.create_token("alice", "manager", scopes=["management"]).token
    middleware = TokenGuardMiddleware(Starlette(routes=[Route("/public", public)]), guard)
    body = b'{"name": "deploy", "projects": ["alpha"]}'
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/tokens", "raw_path": b"/api/tokens", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"authorization", b"Bearer " + manager.encode()),
                         (b"content-length", str(len(body)).encode())]}
    messages = [{"type": "http.request", "body": body[:18], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    assert sent == []
    assert [t.name for t in guard.list_tokens("alice")] == ["manager"]
