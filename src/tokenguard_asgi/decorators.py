"""``require_scope`` for Starlette endpoints: functions and methods, sync and async, bare or with scopes."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from tokenguard.errors import REFUSALS, TokenGuardError
from tokenguard.web.auth import authorize, holds
from tokenguard_asgi._translate import refuse_websocket, to_starlette
from tokenguard_asgi.auth import TokenCredentials, TokenPrincipal
from tokenguard_asgi.middleware import SCOPE_KEY, middleware_of

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
    websocket handshake gets that same answer, or is closed with 1008 where
    the server cannot answer a handshake with HTTP.
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

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_endpoint(*args: Any, **kwargs: Any) -> Any:
            conn = args[0] if args and type(args[0]) is Request else _connection(args, kwargs, function)
            refusal = _refusal(conn, wanted, project_from)
            if refusal is None:
                return await function(*args, **kwargs)
            if isinstance(conn, WebSocket):
                await refuse_websocket(conn, refusal, middleware_of(conn).options.realm)
                return None
            return _render(conn, refusal)

        if project_from is not None or not _takes_only_request(function):
            return async_endpoint  # type: ignore[return-value]

        @functools.wraps(function)
        async def request_endpoint(request: Any) -> Any:
            """``async_endpoint`` for ``(request)``, as Starlette and FastAPI call it: no packing."""
            if type(request) is not Request:
                return await async_endpoint(request)
            auth = request.scope.get("auth")
            if type(auth) is TokenPrincipal and holds(auth.token, wanted):  # what the middleware made
                return await function(request)
            refusal = _refusal(request, wanted, None)
            return await function(request) if refusal is None else _render(request, refusal)

        return request_endpoint  # type: ignore[return-value]

    @functools.wraps(function)
    def sync_endpoint(*args: Any, **kwargs: Any) -> Any:
        conn = args[0] if args and type(args[0]) is Request else _connection(args, kwargs, function)
        refusal = _refusal(conn, wanted, project_from)
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


def _refusal(conn: HTTPConnection, wanted: frozenset[str],
             project_from: str | None) -> TokenGuardError | None:
    """``None`` when the request's token may pass, else why not: the web layer's one scope check."""
    scope = conn.scope
    auth = scope.get("auth")
    info = auth.token if isinstance(auth, TokenCredentials) else None
    if project_from is None and holds(info, wanted):
        return None
    middleware = scope.get(SCOPE_KEY)
    client = scope.get("client")
    try:
        authorize(info, wanted, None if project_from is None else _project(conn, project_from),
                  client[0] if client else None, None if middleware is None else middleware.guard)
    except REFUSALS as exc:
        return exc
    return None


def _render(conn: HTTPConnection, refusal: TokenGuardError) -> Response:
    """The refusal's own answer, exactly as every adapter sends it."""
    return to_starlette(middleware_of(conn).authenticator.respond(refusal))


def _project(conn: HTTPConnection, project_from: str | None) -> str | None:
    if project_from is None:
        return None
    try:
        return str(conn.path_params[project_from])
    except KeyError:
        raise LookupError(f"require_scope: the route has no path parameter {project_from!r}") from None
