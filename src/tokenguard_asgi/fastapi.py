"""FastAPI: security dependencies, shown in OpenAPI as an HTTP bearer scheme with scopes.

::

    from fastapi import Security
    from tokenguard_asgi.fastapi import current_token, token_for_project

    @app.get("/notes")
    def notes(token: TokenInfo = Security(current_token, scopes=["read"])): ...

    @app.post("/projects/{project}/notes")
    def write(project: str,
              token: TokenInfo = Security(token_for_project("project"), scopes=["write"])): ...

``TokenGuardMiddleware`` authenticates the request; these dependencies only
check the scopes (and the project), with the web layer's one scope check. A
refusal is raised as tokenguard's own error (``MissingCredentials``,
``InsufficientScope``), not as an ``HTTPException``: FastAPI's handlers leave
it alone and the middleware answers it exactly as ``require_scope`` and the
Flask adapter do (JSON ``{"error", "error_description"}`` and
``WWW-Authenticate``), a websocket handshake included. An app that catches the
refusal (an optional token) catches ``tokenguard.TokenGuardError``. A FastAPI
app mounted *below* the app that has the middleware answers through its own
error middleware: give it ``exception_handlers=refusal_handlers()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.requests import HTTPConnection

from tokenguard.models import TokenInfo
from tokenguard_asgi.auth import TokenCredentials
from tokenguard_asgi.handlers import refusal_handlers
from tokenguard_asgi.middleware import middleware_of

#: The OpenAPI security scheme: documentation only, the middleware reads the headers.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="APIToken",
    bearerFormat="API token",
    description="An API token from the settings page, sent as `Authorization: Bearer <token>`.",
)

Documented = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _authorized(scopes: Sequence[str], connection: HTTPConnection, project: str | None) -> TokenInfo:
    scope = connection.scope
    auth = scope.get("auth")
    client = scope.get("client")
    return middleware_of(connection).authenticator.authorize(
        auth.token if isinstance(auth, TokenCredentials) else None, scopes, project,
        client[0] if client else None)


async def current_token(security_scopes: SecurityScopes, connection: HTTPConnection,
                        _documented: Documented = None) -> TokenInfo:
    """The request's token when it holds every scope asked for with ``Security(…, scopes=[…])``.

    Without a token: 401 and a ``WWW-Authenticate: Bearer realm=…`` challenge;
    without a scope: 403 ``insufficient_scope`` naming it.
    """
    return _authorized(security_scopes.scopes, connection, None)


def token_for_project(project_from: str = "project") -> Callable[..., Awaitable[TokenInfo]]:
    """``current_token`` that also wants the project named by the path parameter ``project_from``.

    A token restricted to other projects is refused with 403 ``insufficient_scope``.
    The path parameter is declared (and documented in OpenAPI) by the dependency.
    """
    if not project_from.isidentifier() or project_from in _TAKEN:
        raise ValueError(f"token_for_project needs the name of a path parameter, not {project_from!r}")

    async def project_token(security_scopes: SecurityScopes, connection: HTTPConnection,
                            _documented: Documented = None, **path: str) -> TokenInfo:
        return _authorized(security_scopes.scopes, connection, path[project_from])

    parameters = list(inspect.signature(current_token).parameters.values())
    parameters.append(inspect.Parameter(project_from, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[
        str, Path(description="The project the API token must be allowed to reach.")]))
    project_token.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    project_token.__qualname__ = f"token_for_project({project_from!r})"
    return project_token


_TAKEN = frozenset(inspect.signature(current_token).parameters)

__all__ = ["bearer_scheme", "current_token", "refusal_handlers", "token_for_project"]
