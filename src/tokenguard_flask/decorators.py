"""``require_scope`` for views, and ``current_token`` for the token that passed it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from flask import Flask, current_app, g, request
from werkzeug.local import LocalProxy

from tokenguard.models import TokenInfo
from tokenguard.web.auth import REFUSALS, MissingCredentials
from tokenguard_flask._contexts import request_context_var
from tokenguard_flask.extension import ENVIRON_KEY, header_getter, state, to_flask

F = TypeVar("F", bound=Callable[..., Any])
ProjectFrom = str | Callable[..., "str | None"]
_UNSET = object()


def _current() -> TokenInfo | None:
    request_context = request_context_var.get(None)
    if request_context is None:  # no request: None in an app context, else Flask's own error
        return cast("TokenInfo | None", g.get(ENVIRON_KEY))
    environ = request_context.request.environ
    try:
        token: TokenInfo | None = environ[ENVIRON_KEY]
    except KeyError:  # asked before the extension's before_request ran (an app's earlier hook)
        token = environ[ENVIRON_KEY] = _identified_quietly(environ)
    return token


def _identified_quietly(environ: dict[str, Any]) -> TokenInfo | None:
    """The request's token for a hook that runs before the extension's; ``None`` if refused.

    The refusal itself is the extension's ``before_request`` to answer, which runs next
    and asks again; a hook just sees no token.
    """
    try:
        return state().web.authenticator.identify(header_getter(environ), environ.get("REMOTE_ADDR"))
    except REFUSALS:
        return None


class _CurrentToken(LocalProxy):  # type: ignore[type-arg]
    """werkzeug's ``LocalProxy``, with ``TokenInfo``'s public attributes as properties.

    ``current_token.owner`` is then one property read: a name the proxy's class does
    not have reaches ``__getattr__`` only after Python's own look-up failed, and that
    failure (an ``AttributeError`` made and dropped) costs more than the read itself.
    Every other operation is the proxy's own.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(_current(), name)


def _forwarded(name: str) -> property:
    def read(proxy: _CurrentToken) -> Any:
        request_context = request_context_var.get(None)  # _current(), inlined for a set token
        if request_context is None:
            return getattr(_current(), name)  # no request: None's, or Flask's own error
        token = request_context.request.environ.get(ENVIRON_KEY, _UNSET)
        return getattr(_current() if token is _UNSET else token, name)

    read.__name__ = name
    return property(read)


for _name in dir(TokenInfo):
    if not _name.startswith("_"):
        setattr(_CurrentToken, _name, _forwarded(_name))


#: The verified token of the current request, ``None`` when it carries none.
current_token: TokenInfo = cast(TokenInfo, _CurrentToken(_current))


@overload
def require_scope(view: F, /) -> F: ...
@overload
def require_scope(*scopes: str, project_from: ProjectFrom | None = None) -> Callable[[F], F]: ...


def require_scope(*scopes: Any, project_from: ProjectFrom | None = None) -> Any:
    """Let the view run only for a token holding every scope (and the project, if any).

    ``@require_scope`` bare asks for any valid token. ``project_from`` names a
    view argument holding the project, or is a callable taking the view's
    keyword arguments. Failures are answered as RFC 6750 says (400/401/403/503).
    Sync and async views both work.
    """
    if len(scopes) == 1 and callable(scopes[0]) and project_from is None:
        return _protect(scopes[0], (), None)
    for scope in scopes:
        if not isinstance(scope, str):
            raise TypeError("require_scope takes scope names: @require_scope('read')")

    def decorator(view: F) -> F:
        return _protect(view, tuple(scopes), project_from)

    return decorator


def _project(project_from: ProjectFrom | None, kwargs: dict[str, Any]) -> str | None:
    if project_from is None:
        return None
    if callable(project_from):
        return project_from(**kwargs)
    value = kwargs.get(project_from)
    if value is None:
        raise LookupError(f"require_scope: the view has no argument {project_from!r}")
    return str(value)


def _protect(view: F, scopes: tuple[str, ...], project_from: ProjectFrom | None) -> F:
    wanted = frozenset(scopes)
    plain_sync = not inspect.iscoroutinefunction(view)

    @functools.wraps(view)
    def protected(*args: Any, **kwargs: Any) -> Any:
        if project_from is None:  # the common case: the token before_request verified holds wanted
            request_context = request_context_var.get()  # the context itself: no proxy look-ups
            found = request_context.request.environ.get(ENVIRON_KEY)
            # Effective scopes are configured ones (ScopeHierarchy.expand): one subset test
            # decides; anything else (an admin token, an unknown scope) goes the full way.
            if found is not None and wanted <= found.effective_scopes:
                app = request_context.app
                if plain_sync and type(app).ensure_sync is Flask.ensure_sync:
                    return view(*args, **kwargs)
                return app.ensure_sync(view)(*args, **kwargs)
        return _checked_view(view, scopes, project_from, args, kwargs)

    return cast(F, protected)


def _checked_view(view: Callable[..., Any], scopes: tuple[str, ...], project_from: ProjectFrom | None,
                  args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Every check, in order: identify (unless before_request did), then project, then scopes.

    The project comes after the token: an app's ``project_from`` (a look-up, an
    ``abort(404)``) never runs for a request without a valid token.
    """
    authenticator = state().web.authenticator
    environ = request.environ
    try:
        found = environ.get(ENVIRON_KEY, _UNSET)  # verified by the extension's before_request
        info = (authenticator.identify(header_getter(environ), request.remote_addr)
                if found is _UNSET else found)
        if info is None:
            raise MissingCredentials("authentication required")
        project = _project(project_from, kwargs)
        info = authenticator.authorize(info, scopes, project, request.remote_addr)
    except REFUSALS as exc:
        return to_flask(authenticator.respond(exc))
    environ[ENVIRON_KEY] = info
    return current_app.ensure_sync(view)(*args, **kwargs)
