"""``MIDDLEWARE += ["tokenguard_django.middleware.TokenGuardMiddleware"]``: ``request.token``, always.

Sync and async capable. A request with credentials has them verified before any
view runs, protected or not, as on the other adapters (RFC 6750 §3.1): a malformed
header is answered 400, a bad, expired or revoked token 401, a store that is down
503. A request without credentials passes unchanged with ``request.token = None``.
The settings page and the management API check their own callers. A tokenguard
error raised by a view (``guard.require(request.token, "write")``) gets the
answer ``require_scope`` gives.

Under ASGI a warm token is answered from the guard's verification cache on the
event loop, as are a request without credentials and a refusal the cache decides;
only a token the store must answer is verified in a worker thread
(``sync_to_async``): Django's ORM is never called on the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from tokenguard.errors import TokenGuardError
from tokenguard.web.auth import REFUSALS, RequestAuthenticator
from tokenguard_django import translate
from tokenguard_django.registry import get_state
from tokenguard_django.translate import TOKEN_ATTRIBUTE, refusal, to_django

Handler = Callable[[HttpRequest], Any]


class TokenGuardMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        answer = self.identify(request)
        return answer if answer is not None else self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        answer = self.read(request)  # from memory: a warm token is answered on the loop
        if isinstance(answer, str):  # only the store can answer: Django's ORM, never on the event loop
            answer = await sync_to_async(self.verify, thread_sensitive=True)(request, answer)
        if answer is not None:
            return answer
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response

    def identify(self, request: HttpRequest) -> HttpResponse | None:
        """Set ``request.token``; the refusal to answer instead of the view, if any."""
        answer = self.read(request)
        return self.verify(request, answer) if isinstance(answer, str) else answer

    def read(self, request: HttpRequest) -> HttpResponse | str | None:
        """``identify`` from memory alone, or the token (a ``str``) only the store can verify.

        Never reaches the store: the async path calls it on the event loop.
        """
        state = get_state()
        if state.web.handles(request.path_info):
            setattr(request, TOKEN_ATTRIBUTE, None)  # the mount points check their own callers
            return None
        authenticator = state.web.authenticator
        try:
            found = translate.read(authenticator, request)
        except REFUSALS as exc:
            return _refused(authenticator, request, exc)
        return found if isinstance(found, str) else None

    def verify(self, request: HttpRequest, token: str) -> HttpResponse | None:
        """Set ``request.token`` to the store's answer for ``token``; the refusal, if any."""
        authenticator = get_state().web.authenticator
        try:
            translate.verify(authenticator, request, token)
        except REFUSALS as exc:
            return _refused(authenticator, request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, TokenGuardError):
            return None
        return refusal(get_state().web.authenticator, exception)


def _refused(authenticator: RequestAuthenticator, request: HttpRequest, exc: TokenGuardError) -> HttpResponse:
    """The answer to a refused credential, in place of the view: ``request.token`` is ``None``."""
    setattr(request, TOKEN_ATTRIBUTE, None)
    return to_django(authenticator.respond(exc))
