"""django-ninja: ``NinjaAPI(auth=TokenGuardAuth())``, or per operation ``auth=TokenGuardAuth("write")``.

``request.auth`` is the token's ``TokenInfo``. Shown in the OpenAPI document as
an HTTP bearer scheme (ninja's ``HttpBearer``). A refusal is raised as the
tokenguard error it is, and answered with the web layer's own RFC 6750 response
by ``TokenGuardMiddleware`` (``process_exception``), or, for a project without
the middleware, by the handlers :func:`answer_refusals` adds to the API. A
request without a token is refused too (401 with the ``Bearer`` challenge): in
a list of authentication classes, put this one last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja.security import HttpBearer

from tokenguard.errors import TokenGuardError
from tokenguard.models import TokenInfo
from tokenguard_django.registry import get_state
from tokenguard_django.translate import identify, refusal, remote

__all__ = ["TokenGuardAuth", "answer_refusals"]


class TokenGuardAuth(HttpBearer):
    """The project's tokens for ninja operations; with scopes, the token must hold them all."""

    def __init__(self, *scopes: str, project_from: str | Callable[[HttpRequest], str | None] | None = None,
                 ) -> None:
        super().__init__()
        for scope in scopes:
            if not isinstance(scope, str):
                raise TypeError("TokenGuardAuth takes scope names: TokenGuardAuth('write')")
        self.scopes = scopes
        self.project_from = project_from

    def __call__(self, request: HttpRequest) -> TokenInfo:
        """The request's token, holding the scopes; raises the refusal otherwise."""
        authenticator = get_state().web.authenticator
        info = authenticator.authorize(identify(authenticator, request), ())
        return authenticator.authorize(info, self.scopes, self._project(request), remote(request))

    def authenticate(self, request: HttpRequest, token: str) -> TokenInfo:
        """Ninja's hook for the bearer value alone: the full checks of ``__call__`` instead."""
        return self(request)

    def _project(self, request: HttpRequest) -> str | None:
        if self.project_from is None:
            return None
        if callable(self.project_from):
            return self.project_from(request)
        match = request.resolver_match
        value = None if match is None else match.kwargs.get(self.project_from)
        if value is None:
            raise LookupError(f"TokenGuardAuth: the operation has no path parameter {self.project_from!r}")
        return str(value)


def answer_refusals(api: Any) -> Any:
    """Answer tokenguard's refusals on ``api`` itself (without ``TokenGuardMiddleware``); returns ``api``."""

    def answer(request: HttpRequest, exc: Exception) -> HttpResponse:
        assert isinstance(exc, TokenGuardError)
        found = refusal(get_state().web.authenticator, exc)
        if found is None:
            raise exc
        return found

    api.add_exception_handler(TokenGuardError, answer)
    return api
