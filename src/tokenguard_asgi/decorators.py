"""``require_scope`` for Starlette endpoints: functions and methods, sync and async, bare or with scopes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from tokenguard.errors import TokenGuardError
from tokenguard.models import TokenInfo
from tokenguard.web.auth import REFUSALS
from tokenguard_asgi._translate import remote_address, to_starlette
from tokenguard_asgi.auth import TokenCredentials, TokenPrincipal
from tokenguard_asgi.middleware import (
    WEBSOCKET_POLICY_VIOLATION,
    middleware_of,
)

_F = TypeVar("_F", bound=Callable[..., Any])


@overload
def require_scope(function: _F, /) -> _F: ...


@overload
def require_scope(*scopes: str, project_from: str | None = None) -> Callable[[_F], _F]: ...


def require_scope(*scopes: Any, project_from: str | None = None) -> Any:
    """Let the endpoint run only for a token holding every scope in ``scopes``.

    ``@require_scope`` bare asks for any valid token. ``project_from`` names a
    path parameter whose value the token's projects must allow. Refusals are
    RFC 6750 responses: 401 without a token, 403 ``insufficient_scope``; a
    websocket is closed with 1008 instead.
    """
    if len(scopes) == 1 and callable(scopes[0]):
        return _guarded(scopes[0], (), None)
    for scope in scopes:
        if not isinstance(scope, str):
            raise TypeError(f"require_scope takes scope names, not {type(scope).__name__}")

    def decorate(function: _F) -> _F:
        return _guarded(function, scopes, project_from)

    return decorate


def _guarded(function: _F, scopes: tuple[str, ...], project_from: str | None) -> _F:
    wanted = frozenset(scopes)
    check_fast = project_from is None  # a project needs the path parameters: the full check

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
            conn = args[0] if args and type(args[0]) is Request else _connection(args, kwargs, function)
            # Effective scopes are configured ones (ScopeHierarchy.expand): one subset test decides;
            # anything else (anonymous, an unknown scope, a project) takes _refusal's full way.
            credentials = conn.scope.get("auth")
            if check_fast and type(credentials) is TokenPrincipal and wanted <= credentials._effective:
                return await function(*args, **kwargs)
            refusal = _refusal(conn, scopes, project_from)
            if refusal is None:
                return await function(*args, **kwargs)
            if isinstance(conn, WebSocket):
                await conn.close(code=WEBSOCKET_POLICY_VIOLATION,
                                 reason=middleware_of(conn).authenticator.close_reason(refusal))
                return None
            return _render(conn, refusal)

        if not (check_fast and _takes_only_request(function)):
            return async_endpoint  # type: ignore[return-value]

        @functools.wraps(function)
        async def request_endpoint(request: Any) -> Any:
            """``async_endpoint`` for ``(request)``, as Starlette and FastAPI call it: no packing."""
            if type(request) is Request:
                credentials = request.scope.get("auth")
                if type(credentials) is TokenPrincipal and wanted <= credentials._effective:
                    return await function(request)
            return await async_endpoint(request)

        return request_endpoint  # type: ignore[return-value]

    @functools.wraps(function)
    def sync_endpoint(*args: Any, **kwargs: Any) -> Any:
        conn = args[0] if args and type(args[0]) is Request else _connection(args, kwargs, function)
        credentials = conn.scope.get("auth")
        if check_fast and type(credentials) is TokenPrincipal and wanted <= credentials._effective:
            return function(*args, **kwargs)
        refusal = _refusal(conn, scopes, project_from)
        return function(*args, **kwargs) if refusal is None else _render(conn, refusal)

    return sync_endpoint  # type: ignore[return-value]


def _takes_only_request(function: Callable[..., Any]) -> bool:
    """True for ``(request)``: one parameter, by that name, given by position or keyword.

    Starlette calls an endpoint ``endpoint(request)``, FastAPI ``endpoint(request=…)``
    (it reads the signature through ``functools.wraps``): a wrapper with exactly that
    parameter serves both without packing ``*args, **kwargs``.
    """
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    return (len(parameters) == 1 and parameters[0].name == "request"
            and parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            and parameters[0].default is inspect.Parameter.empty)


def _connection(
    args: tuple[Any, ...], kwargs: dict[str, Any], function: Callable[..., Any]
) -> HTTPConnection:
    """The request (or websocket) among the endpoint's arguments: ``request`` or ``self, request``."""
    for value in args:
        if isinstance(value, HTTPConnection):
            return value
    for value in kwargs.values():
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError(f"{function.__qualname__} received no Request or WebSocket to check")


def _refusal(
    conn: HTTPConnection, scopes: tuple[str, ...], project_from: str | None
) -> TokenGuardError | None:
    """``None`` when the request's token may pass, else why not."""
    authenticator = middleware_of(conn).authenticator
    project = _project(conn, project_from)
    try:
        authenticator.authorize(_token_of(conn), scopes, project, remote_address(conn.scope))
    except REFUSALS as exc:
        return exc
    return None


def _render(conn: HTTPConnection, refusal: TokenGuardError) -> Response:
    """The RFC 6750 response, exactly as the Flask adapter sends it."""
    return to_starlette(middleware_of(conn).authenticator.respond(refusal))


def _token_of(conn: HTTPConnection) -> TokenInfo | None:
    credentials = conn.scope.get("auth")
    return credentials.token if isinstance(credentials, TokenCredentials) else None


def _project(conn: HTTPConnection, project_from: str | None) -> str | None:
    if project_from is None:
        return None
    try:
        return str(conn.path_params[project_from])
    except KeyError:
        raise LookupError(f"require_scope: the route has no path parameter {project_from!r}") from None
