"""FastAPI: ``current_token`` as a security dependency, shown in OpenAPI as an HTTP bearer scheme.

::

    from fastapi import Security
    from tokenguard_asgi.fastapi import current_token

    @app.get("/notes")
    def notes(token: TokenInfo = Security(current_token, scopes=["read"])): ...

``TokenGuardMiddleware`` authenticates the request; this dependency only
checks the scopes. A refusal is raised as :class:`TokenRejected` (a Starlette
``HTTPException``); the middleware then sends the RFC 6750 response the Flask
adapter sends (JSON ``{"error", "error_description"}`` and
``WWW-Authenticate``) in place of FastAPI's ``{"detail": …}``.
"""

from __future__ import annotations

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection

from tokenguard.models import TokenInfo
from tokenguard.web.auth import REFUSALS
from tokenguard_asgi._translate import remote_address
from tokenguard_asgi.auth import TokenCredentials, TokenRejected
from tokenguard_asgi.middleware import WEBSOCKET_POLICY_VIOLATION, middleware_of

#: The OpenAPI security scheme: documentation only, the middleware reads the headers.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="APIToken",
    bearerFormat="API token",
    description="An API token from the settings page, sent as `Authorization: Bearer <token>`.",
)


async def current_token(
    security_scopes: SecurityScopes,
    connection: HTTPConnection,
    _documented: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
) -> TokenInfo:
    """The request's token when it holds every scope asked for with ``Security(…, scopes=[…])``.

    Without a token: 401 and a ``WWW-Authenticate: Bearer realm=…`` challenge;
    without a scope: 403 ``insufficient_scope`` naming it.
    """
    authenticator = middleware_of(connection).authenticator
    credentials = connection.scope.get("auth")
    token = credentials.token if isinstance(credentials, TokenCredentials) else None
    try:
        return authenticator.authorize(token, security_scopes.scopes, None,
                                       remote_address(connection.scope))
    except REFUSALS as exc:
        if connection.scope["type"] == "websocket":  # closed 1008, as require_scope closes it
            raise WebSocketException(WEBSOCKET_POLICY_VIOLATION, authenticator.close_reason(exc)) from None
        raise TokenRejected.refuse(connection.scope, authenticator.respond(exc)) from None


__all__ = ["bearer_scheme", "current_token"]
