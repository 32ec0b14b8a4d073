"""The middleware behind a real uvicorn server on 127.0.0.1, called with httpx."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from _live import serve_asgi
from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware, require_scope


def serving(app: ASGIApp) -> AbstractContextManager[str]:
    """Run ``app`` under uvicorn in a thread on an ephemeral port; yield its base URL."""
    return serve_asgi(app, lifespan="on")


@require_scope("read")
def read_notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": request.user.identity, "scopes": request.auth.scopes})


@require_scope("write")
async def write_notes(request: Request) -> JSONResponse:
    return JSONResponse({"saved": (await request.body()).decode()}, status_code=201)


async def public(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.user.display_name or 'stranger'}")


@pytest.fixture
def base_url(tokenguard_guard: TokenGuard) -> Iterator[str]:
    app = Starlette(
        routes=[Route("/notes", read_notes), Route("/notes", write_notes, methods=["POST"]),
                Route("/public", public)],
        middleware=[Middleware(TokenGuardMiddleware, guard=tokenguard_guard)],
    )
    with serving(app) as url:
        yield url


def test_statuses_over_a_real_server(base_url: str, make_token: Callable[..., str]) -> None:
    read, write = make_token("read", owner="alice"), make_token("write", owner="alice")
    with httpx.Client(base_url=base_url, timeout=5) as client:
        anonymous = client.get("/notes")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
        assert client.get("/notes", headers={"Authorization": f"Bearer {read}"}).json() == {
            "owner": "alice", "scopes": ["read"]}
        assert client.get("/notes", headers={"Api-Token": read}).status_code == 200
        refused = client.post("/notes", headers={"Api-Token": read}, content=b"hi")
        assert refused.status_code == 403
        assert refused.headers["www-authenticate"].endswith('scope="write"')
        saved = client.post("/notes", headers={"Api-Token": write}, content=b"hi")
        assert (saved.status_code, saved.json()) == (201, {"saved": "hi"})
        assert client.get("/public").text == "hello stranger"
        assert client.get("/public", headers={"Api-Token": read}).text == "hello alice"


def test_duplicate_headers_survive_the_server(base_url: str, make_token: Callable[..., str]) -> None:
    token = make_token("read")
    with httpx.Client(base_url=base_url, timeout=5) as client:
        response = client.get("/notes", headers=[("Authorization", f"Bearer {token}"),
                                                 ("Authorization", f"Bearer {token}")])
        assert response.status_code == 400
        assert 'error="invalid_request"' in response.headers["www-authenticate"]
        invalid = client.get("/public", headers={"Authorization": "Bearer tg_" + "1" * 38})
        assert invalid.status_code == 401
        assert invalid.json()["error"] == "invalid_token"


def test_query_string_token_is_ignored_by_the_server(base_url: str, make_token: Callable[..., str]) -> None:
    token = make_token("read")
    with httpx.Client(base_url=base_url, timeout=5) as client:
        assert client.get("/notes", params={"access_token": token}).status_code == 401


def test_concurrent_clients_over_a_real_server(tokenguard_guard: TokenGuard) -> None:
    tokens = [tokenguard_guard.create_token(f"user{i}", "load", scopes=["read"]).token for i in range(8)]
    app = TokenGuardMiddleware(Starlette(routes=[Route("/notes", read_notes)]), tokenguard_guard)
    results: list[str] = []

    def call(token: str) -> None:
        with httpx.Client(timeout=5) as client:
            for _ in range(5):
                results.append(client.get(f"{url}/notes", headers={"Api-Token": token}).json()["owner"])

    with serving(app) as url:
        threads = [threading.Thread(target=call, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(results) == sorted(f"user{i}" for i in range(8) for _ in range(5))
