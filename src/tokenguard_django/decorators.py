"""``@require_scope("write", project_from="project")`` for function views (sync or async) and, with
``method_decorator``, class-based views.

The token comes from ``request.token`` (``TokenGuardMiddleware``), or is verified
here when the middleware is not installed. Failures are answered as RFC 6750
says (400/401/403/503), exactly as on the other adapters: the web layer decides.
A protected view takes only requests that carry a token in a header, so Django's
CSRF check (for cookie sessions) does not apply to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from tokenguard.models import TokenInfo
from tokenguard.web.auth import holds
from tokenguard_django.registry import get_state
from tokenguard_django.translate import TOKEN_ATTRIBUTE, checked

F = TypeVar("F", bound=Callable[..., Any])
ProjectFrom = str | Callable[..., "str | None"]


@overload
def require_scope(view: F, /) -> F: ...
@overload
def require_scope(*scopes: str, project_from: ProjectFrom | None = None) -> Callable[[F], F]: ...


def require_scope(*scopes: Any, project_from: ProjectFrom | None = None) -> Any:
    """Let the view run only for a token holding every scope (and the project, if any).

    ``@require_scope`` bare asks for any valid token. ``project_from`` names a URL
    keyword argument of the view holding the project, or is a callable taking the
    request and the view's keyword arguments.
    """
    if len(scopes) == 1 and callable(scopes[0]) and project_from is None:
        return _protect(scopes[0], frozenset(), None)
    for scope in scopes:
        if not isinstance(scope, str):
            raise TypeError("require_scope takes scope names: @require_scope('read')")

    def decorator(view: F) -> F:
        return _protect(view, frozenset(scopes), project_from)

    return decorator


def _project(project_from: ProjectFrom | None, request: HttpRequest,
             kwargs: dict[str, Any]) -> Callable[[], str | None] | None:
    if project_from is None:
        return None
    if callable(project_from):
        return lambda: project_from(request, **kwargs)
    name = project_from

    def from_kwargs() -> str | None:
        if kwargs.get(name) is None:
            raise LookupError(f"require_scope: the view has no argument {name!r}")
        return str(kwargs[name])

    return from_kwargs


def _check(scopes: frozenset[str], project_from: ProjectFrom | None, request: HttpRequest,
           kwargs: dict[str, Any]) -> TokenInfo | HttpResponse:
    authenticator = get_state().web.authenticator
    return checked(authenticator, request, scopes, _project(project_from, request, kwargs))


def _dispatches_async(view: Callable[..., Any]) -> bool:
    """``view`` is the ``dispatch`` of a class-based view with async handlers (``method_decorator``)."""
    bound = getattr(view, "func", view)
    return bool(getattr(getattr(bound, "__self__", None), "view_is_async", False))


def _protect(view: F, scopes: frozenset[str], project_from: ProjectFrom | None) -> F:
    async def protected_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if project_from is None and holds(getattr(request, TOKEN_ATTRIBUTE, None), scopes):
            return await view(request, *args, **kwargs)  # verified by the middleware, and enough
        # the check may reach the store (Django's ORM): never on the event loop
        found = await sync_to_async(_check, thread_sensitive=True)(scopes, project_from, request, kwargs)
        if isinstance(found, HttpResponse):
            return found
        return await view(request, *args, **kwargs)

    if iscoroutinefunction(view):
        wrapped: Any = functools.wraps(view)(protected_async)
        markcoroutinefunction(wrapped)
    else:
        in_loop = _dispatches_async(view)

        def protected(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if in_loop:  # an async class-based view: its dispatch must give an awaitable
                return protected_async(request, *args, **kwargs)
            found = _check(scopes, project_from, request, kwargs)
            if isinstance(found, HttpResponse):
                return found
            return view(request, *args, **kwargs)

        wrapped = functools.wraps(view)(protected)
    wrapped.csrf_exempt = True  # a header token is no ambient credential
    return cast(F, wrapped)
