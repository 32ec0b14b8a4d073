"""Real servers on 127.0.0.1 for both adapters, a raw-socket client, and a signed-in httpx client.

Both apps have the same routes: ``GET /notes`` (scope read), ``POST /notes``
(scope write), ``GET /public`` (no token needed), ``GET|POST /login/<user>`` (a
cookie session, as the host app's own sign-in), plus the settings page and the
management API that the adapters mount themselves.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from _live import serve_asgi
from tokenguard import TokenGuard

ADAPTERS = ("flask", "asgi")
API = "/api/tokens"
PAGE = "/settings/tokens"
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})")


def flask_app(guard: TokenGuard, **options: Any) -> Any:
    from flask import Flask, session

    from tokenguard_flask import FlaskTokenGuard, current_token, require_scope

    app = Flask("tokenguard_security_app")
    app.config.update(SECRET_KEY=secrets.token_hex(16))
    FlaskTokenGuard(app, guard, owner_loader=lambda: session.get("user"), **options)

    @app.route("/login/<user>", methods=["GET", "POST"])
    def login(user: str) -> str:
        session["user"] = user
        return "signed in"

    @app.get("/notes")
    @require_scope("read")
    def notes() -> dict[str, Any]:
        return {"owner": current_token.owner}

    @app.post("/notes")
    @require_scope("write")
    def write_notes() -> tuple[dict[str, Any], int]:
        return {"owner": current_token.owner}, 201

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"public": True}

    return app


def asgi_app(guard: TokenGuard, **options: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from tokenguard_asgi import TokenGuardMiddleware, require_scope

    async def login(request: Request) -> PlainTextResponse:
        request.session["user"] = request.path_params["user"]
        return PlainTextResponse("signed in")

    @require_scope("read")
    async def notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner})

    @require_scope("write")
    async def write_notes(request: Request) -> JSONResponse:
        return JSONResponse({"owner": request.auth.token.owner}, status_code=201)

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"public": True})

    return Starlette(
        routes=[Route("/login/{user}", login, methods=["GET", "POST"]), Route("/notes", notes),
                Route("/notes", write_notes, methods=["POST"]), Route("/public", public)],
        middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_hex(16)),
                    Middleware(TokenGuardMiddleware, guard=guard,
                               owner_loader=lambda request: request.session.get("user"), **options)],
    )


@contextmanager
def serve_flask(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serve(adapter: str, guard: TokenGuard, **options: Any) -> Iterator[str]:
    if adapter == "flask":
        with serve_flask(flask_app(guard, **options)) as url:
            yield url
    else:
        with serve_asgi(asgi_app(guard, **options), lifespan="off") as url:
            yield url


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def raw(base_url: str, request: bytes, timeout: float = 10.0) -> tuple[int | None, bytes]:
    """Send ``request`` as is; return the status (``None`` if the server sent none) and the bytes."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port_of(base_url)), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # a server may close early on a request it refuses
            sock.sendall(request)
        sock.settimeout(timeout)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    data = b"".join(chunks)
    match = _STATUS_LINE.match(data)
    return (int(match.group(1)) if match else None), data


def get(path: str, *headers: bytes, host: bytes = b"127.0.0.1") -> bytes:
    """A ``GET`` with ``Connection: close`` and the given raw header lines."""
    lines = [b"GET " + path.encode() + b" HTTP/1.1", b"Host: " + host, *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def signed_in(base_url: str, user: str = "alice") -> tuple[httpx.Client, dict[str, str]]:
    """A cookie-session client and the headers a same-origin page sends on writes."""
    client = httpx.Client(base_url=base_url, timeout=10)
    assert client.post(f"/login/{user}").status_code == 200
    listing = client.get(API)
    assert listing.status_code == 200, listing.text
    return client, {"X-CSRF-Token": listing.headers["X-CSRF-Token"], "Origin": base_url}
