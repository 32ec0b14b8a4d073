"""The ASGI apps served by uvicorn for ``bench_http.py`` (factories: ``uvicorn --factory``).

Configured from the environment the benchmark sets: ``BENCH_DATABASE_URL``,
``BENCH_SECRET_KEY`` and ``BENCH_PEER_TOKEN_FILE`` (the token the peer's dict
knows, read from a file so it never sits in a command line).
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tokenguard import TokenGuard
from tokenguard_asgi import TokenGuardMiddleware, require_scope


async def bare_notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": "alice"})


@require_scope("read")
async def protected_notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": request.auth.token.owner})


@requires("read")
async def peer_notes(request: Request) -> JSONResponse:
    return JSONResponse({"owner": request.user.username})


class BearerBackend(AuthenticationBackend):
    """Starlette's documented pattern: a backend that maps a bearer token to a user."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        scheme, _, value = conn.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        owner = self.known.get(value)
        if owner is None:
            raise AuthenticationError("invalid token")
        return AuthCredentials(["read"]), SimpleUser(owner)


def bare() -> Starlette:
    return Starlette(routes=[Route("/notes", bare_notes)])


def tokenguard() -> Starlette:
    guard = TokenGuard(os.environ["BENCH_DATABASE_URL"], secret_key=os.environ["BENCH_SECRET_KEY"],
                       load_entry_points=False)
    return Starlette(routes=[Route("/notes", protected_notes)],
                     middleware=[Middleware(TokenGuardMiddleware, guard=guard)])


def starlette_auth() -> Starlette:
    token = Path(os.environ["BENCH_PEER_TOKEN_FILE"]).read_text().strip()
    backend = BearerBackend({token: "alice"})
    return Starlette(routes=[Route("/notes", peer_notes)],
                     middleware=[Middleware(AuthenticationMiddleware, backend=backend)])
