"""``require_scope`` for views, and ``current_token`` for the token that passed it.

Both read the request through Flask's public API: ``request._get_current_object()``
(Flask's documented way to reach the object behind a proxy, one call instead of
a proxy look-up per attribute: ``extension.current_request``) and its WSGI
environ, where the extension's ``before_request`` leaves the request's token.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from flask import Response, current_app, has_app_context
from werkzeug.local import LocalProxy

from tokenguard.errors import REFUSALS, MissingCredentials
from tokenguard.models import TokenInfo
from tokenguard.web.auth import RequestAuthenticator, authorize, holds
from tokenguard_flask.extension import ENVIRON_KEY, current_request, state, to_flask

F = TypeVar("F", bound=Callable[..., Any])
ProjectFrom = str | Callable[..., "str | None"]
_UNSET: Any = object()


def _environ() -> dict[str, Any]:
    """The current request's WSGI environ; Flask's own ``RuntimeError`` outside a request."""
    environ: dict[str, Any] = current_request().environ
    return environ


def _current() -> TokenInfo | None:
    try:
        environ = _environ()
    except RuntimeError:  # no request: None in an app context, else Flask's own error
        if has_app_context():
            return None
        raise
    token = environ.get(ENVIRON_KEY, _UNSET)
    if token is _UNSET:  # asked before the extension's before_request ran (an app's earlier hook)
        token = environ[ENVIRON_KEY] = _identified_quietly(environ)
    return cast("TokenInfo | None", token)


def _identified_quietly(environ: dict[str, Any]) -> TokenInfo | None:
    """The request's token for a hook that runs before the extension's; ``None`` if refused.

    The refusal itself is the extension's ``before_request`` to answer, which runs next
    and asks again; a hook just sees no token.
    """
    try:
        return state().web.authenticator.identify_environ(environ, environ.get("REMOTE_ADDR"))
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
        try:  # _current(), inlined for a request whose token is known
            token = current_request().environ.get(ENVIRON_KEY, _UNSET)
        except RuntimeError:
            token = _UNSET
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


def _project(project_from: ProjectFrom, kwargs: dict[str, Any]) -> str | None:
    if callable(project_from):
        return project_from(**kwargs)
    value = kwargs.get(project_from)
    if value is None:
        raise LookupError(f"require_scope: the view has no argument {project_from!r}")
    return str(value)


def _refusal(environ: dict[str, Any], wanted: frozenset[str], project_from: ProjectFrom | None,
             kwargs: dict[str, Any]) -> Response | None:
    """``None`` when the request may reach the view, else the refusal's answer: every check.

    The token is the extension's ``before_request``'s, or read now when the view is
    called without it (a test's request context, say).
    """
    authenticator: RequestAuthenticator = state().web.authenticator
    remote = environ.get("REMOTE_ADDR")
    try:
        info = environ.get(ENVIRON_KEY, _UNSET)
        if info is _UNSET:
            info = environ[ENVIRON_KEY] = authenticator.identify_environ(environ, remote)
        project = None
        if project_from is not None:
            if info is None:
                raise MissingCredentials()
            project = _project(project_from, kwargs)
        authorize(info, wanted, project, remote, authenticator.guard)
    except REFUSALS as exc:
        return to_flask(authenticator.respond(exc))
    return None


def _protect(view: F, scopes: tuple[str, ...], project_from: ProjectFrom | None) -> F:
    wanted = frozenset(scopes)
    is_async = inspect.iscoroutinefunction(view)
    fast = project_from is None  # no project to take from the view's arguments
    if fast and not is_async and _takes_nothing(view):

        @functools.wraps(view)
        def protected_route() -> Any:
            """``protected`` below, for a view of a route without variables: nothing to pass on."""
            environ: dict[str, Any] = current_request().environ
            if not holds(environ.get(ENVIRON_KEY), wanted):
                refused = _refusal(environ, wanted, None, {})
                if refused is not None:
                    return refused
            return view()

        return cast(F, protected_route)

    @functools.wraps(view)
    def protected(*args: Any, **kwargs: Any) -> Any:
        """Every check, in order: identify (unless before_request did), then project, then scopes.

        The project comes after the token: an app's ``project_from`` (a look-up, an
        ``abort(404)``) never runs for a request without a valid token.
        """
        environ: dict[str, Any] = current_request().environ
        if not (fast and holds(environ.get(ENVIRON_KEY), wanted)):  # else: verified upstream, and enough
            refused = _refusal(environ, wanted, project_from, kwargs)
            if refused is not None:
                return refused
        if is_async:
            return current_app.ensure_sync(view)(*args, **kwargs)
        return view(*args, **kwargs)

    return cast(F, protected)


def _takes_nothing(view: Callable[..., Any]) -> bool:
    """True for a view of no parameters: Flask calls it with no arguments, nor can anyone else."""
    try:
        return not inspect.signature(view).parameters
    except (TypeError, ValueError):
        return False
