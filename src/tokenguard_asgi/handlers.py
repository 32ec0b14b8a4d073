"""Starlette exception handlers that answer tokenguard's refusals, for apps mounted below the middleware.

``TokenGuardMiddleware`` answers a refusal the app raises (``guard.require``
in an endpoint, FastAPI's ``current_token``). A Starlette or FastAPI app
*mounted* below it has an error middleware of its own, which would make any
exception a 500 before the outer middleware sees it: give that app these
handlers, and its refusals get the same answer::

    outer.mount("/v1", FastAPI(exception_handlers=refusal_handlers()))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from tokenguard.errors import REFUSALS, TokenGuardError
from tokenguard_asgi._translate import refuse_websocket, to_starlette
from tokenguard_asgi.middleware import middleware_of

Handler = Callable[[HTTPConnection, Exception], Awaitable[Response | None]]


async def answer_refusal(conn: HTTPConnection, exc: Exception) -> Response | None:
    """The refusal's own answer: a response, or for a websocket the handshake refused."""
    if not isinstance(exc, TokenGuardError):  # pragma: no cover - registered for REFUSALS only
        raise exc
    middleware = middleware_of(conn)
    if isinstance(conn, WebSocket):
        await refuse_websocket(conn, exc, middleware.options.realm)
        return None
    return to_starlette(middleware.authenticator.respond(exc))


def refusal_handlers() -> dict[type[Exception], Handler]:
    """``exception_handlers=`` for a Starlette or FastAPI app: one handler per kind of refusal."""
    return dict.fromkeys(REFUSALS, answer_refusal)
