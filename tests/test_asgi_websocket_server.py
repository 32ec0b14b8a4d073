"""Websocket refusals through a real uvicorn server, seen by a real client (the ``websockets`` package).

uvicorn offers the ASGI ``websocket.http.response`` extension (both its
``websockets`` and ``websockets-sansio`` implementations): a refused handshake
is answered with the RFC 6750 response itself (401, 403, 400 or 503, the
``WWW-Authenticate`` challenge, the JSON body), not the bare 403 a close before
accepting becomes. Behind a server without the extension (here: uvicorn with
the extension taken out of the scope), the handshake is accepted and closed at
once with 1008 (1013 when the store is down) and the ``error`` as the reason.

The server listens on a socket bound before it starts, so a client may connect
at once (the kernel queues the connection): nothing polls, sleeps or times out.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from tokenguard import MemoryStore, StoreUnavailable, TokenGuard, TokenInfo, TokenRecord
from tokenguard_asgi import TokenGuardMiddleware, require_scope
from tokenguard_asgi.fastapi import current_token

IMPLEMENTATIONS = ["websockets", "websockets-sansio"]
pytestmark = [  # uvicorn's older implementation runs on websockets' legacy API, and says so
    pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:remove second argument of ws_handler:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The `websockets` implementation is deprecated"),
]
REALM = 'Bearer realm="api"'
INVALID = ('Bearer realm="api", error="invalid_token", '
           'error_description="the access token is invalid, expired or revoked"')
MALFORMED = 'Bearer realm="api", error="invalid_request", error_description="the credentials are malformed"'
INSUFFICIENT = ('Bearer realm="api", error="insufficient_scope", '
                'error_description="the access token lacks the required scope", scope="write"')


class SwitchableStore(MemoryStore):
    down = False

    def find(self, digest: str) -> TokenRecord | None:
        if self.down:
            raise StoreUnavailable("connection refused")
        return super().find(digest)


@require_scope("write")
async def writer(websocket: Any) -> None:
    await websocket.accept()
    await websocket.send_text(f"welcome, {websocket.auth.token.owner}")
    await websocket.close()


async def echo(websocket: Any) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.display_name or "anonymous")
    await websocket.close()


def starlette_app(guard: TokenGuard) -> Starlette:
    return Starlette(routes=[WebSocketRoute("/ws/writer", writer), WebSocketRoute("/ws", echo)],
                     middleware=[Middleware(TokenGuardMiddleware, guard=guard)])


def fastapi_app(guard: TokenGuard) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TokenGuardMiddleware, guard=guard)

    @app.websocket("/ws/writer")
    async def fastapi_writer(websocket: WebSocket,
                             token: Annotated[TokenInfo, Security(current_token, scopes=["write"])]) -> None:
        await websocket.accept()
        await websocket.send_text(f"welcome, {token.owner}")
        await websocket.close()

    return app


def without_denial_responses(app: ASGIApp) -> ASGIApp:
    """The app behind a server that cannot answer a websocket handshake with HTTP."""

    async def server(scope: Scope, receive: Receive, send: Send) -> None:
        extensions = {k: v for k, v in (scope.get("extensions") or {}).items()
                      if k != "websocket.http.response"}
        await app({**scope, "extensions": extensions}, receive, send)

    return server


@contextmanager
def uvicorn_serving(app: ASGIApp, ws: str) -> Iterator[str]:
    """``app`` under uvicorn (websocket implementation ``ws``) in a thread; yield its ``ws://`` URL."""
    import uvicorn

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off", ws=ws))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        listening.close()


@pytest.fixture
def world() -> Iterator[tuple[TokenGuard, SwitchableStore]]:
    store = SwitchableStore()
    guard = TokenGuard(store, secret_key=secrets.token_bytes(32), load_entry_points=False,
                       max_tokens_per_owner=None)
    yield guard, store
    guard.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refusal(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    """The HTTP answer to a handshake the server refused: status, headers, JSON body."""
    with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers=headers, open_timeout=None):
        pass
    response = refused.value.response
    headers_seen = {name.lower(): value for name, value in response.headers.raw_items()}
    return response.status_code, headers_seen, json.loads(response.body or b"null")


def closed(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """The close code and reason of a handshake accepted and closed at once."""
    with pytest.raises(ConnectionClosedError) as closing, \
            connect(url, additional_headers=headers, open_timeout=None) as ws:
        ws.recv()
    frame = closing.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_refused_handshake_is_the_rfc6750_answer(world: tuple[TokenGuard, SwitchableStore],
                                                   implementation: str) -> None:
    guard, store = world
    reader = guard.create_token("alice", "r", scopes=["read"]).token
    writer_token = guard.create_token("alice", "w", scopes=["write"]).token
    with uvicorn_serving(starlette_app(guard), implementation) as base:
        status, headers, body = refusal(f"{base}/ws", bearer("tg_" + "A" * 38))
        assert (status, headers["www-authenticate"], body["error"]) == (401, INVALID, "invalid_token")
        assert (headers["content-type"], headers["cache-control"]) == ("application/json", "no-store")
        status, headers, body = refusal(f"{base}/ws", bearer("a b"))
        assert (status, headers["www-authenticate"], body["error"]) == (400, MALFORMED, "invalid_request")
        status, headers, body = refusal(f"{base}/ws/writer", {})
        assert (status, headers["www-authenticate"]) == (401, REALM)
        assert body == {"error": "unauthorized", "error_description": "this endpoint requires an API token"}
        status, headers, body = refusal(f"{base}/ws/writer", bearer(reader))
        assert (status, headers["www-authenticate"]) == (403, INSUFFICIENT)
        assert body == {"error": "insufficient_scope", "scope": "write",
                        "error_description": "the access token lacks the required scope"}
        with connect(f"{base}/ws/writer", additional_headers=bearer(writer_token), open_timeout=None) as ws:
            assert ws.recv() == "welcome, alice"
        cold = guard.create_token("alice", "cold", scopes=["read"]).token
        store.down = True
        status, headers, body = refusal(f"{base}/ws", bearer(cold))
        assert (status, headers["retry-after"], body["error"]) == (503, "5", "temporarily_unavailable")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_without_the_extension_the_handshake_is_closed_with_the_reason(
    world: tuple[TokenGuard, SwitchableStore], implementation: str,
) -> None:
    guard, store = world
    reader = guard.create_token("alice", "r", scopes=["read"]).token
    with uvicorn_serving(without_denial_responses(starlette_app(guard)), implementation) as base:
        assert closed(f"{base}/ws", bearer("tg_" + "A" * 38)) == (1008, "invalid_token")
        assert closed(f"{base}/ws", bearer("a b")) == (1008, "invalid_request")
        assert closed(f"{base}/ws/writer", {}) == (1008, "unauthorized")
        assert closed(f"{base}/ws/writer", bearer(reader)) == (1008, "insufficient_scope")
        with connect(f"{base}/ws", additional_headers=bearer(reader), open_timeout=None) as ws:
            assert ws.recv() == "alice"
        cold = guard.create_token("alice", "cold", scopes=["read"]).token
        store.down = True
        assert closed(f"{base}/ws", bearer(cold)) == (1013, "temporarily_unavailable")


@pytest.mark.parametrize("extension", [True, False], ids=["denial-response", "close-1008"])
def test_fastapis_websocket_dependency_refuses_the_handshake_the_same_way(
    world: tuple[TokenGuard, SwitchableStore], extension: bool,
) -> None:
    guard, _ = world
    reader = guard.create_token("bob", "r", scopes=["read"]).token
    writer_token = guard.create_token("bob", "w", scopes=["write"]).token
    app: Callable[..., Any] = fastapi_app(guard)
    with uvicorn_serving(app if extension else without_denial_responses(app), "websockets-sansio") as base:
        url = f"{base}/ws/writer"
        if extension:
            status, headers, body = refusal(url, bearer(reader))
            assert (status, headers["www-authenticate"], body["error"]) == (403, INSUFFICIENT,
                                                                             "insufficient_scope")
            assert refusal(url, {})[0] == 401
        else:
            assert closed(url, bearer(reader)) == (1008, "insufficient_scope")
            assert closed(url, {}) == (1008, "unauthorized")
        with connect(url, additional_headers=bearer(writer_token), open_timeout=None) as ws:
            assert ws.recv() == "welcome, bob"
