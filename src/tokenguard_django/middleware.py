"""``MIDDLEWARE += ["tokenguard_django.middleware.TokenGuardMiddleware"]``: ``request.token``, always.

Sync and async capable. A request with credentials has them verified before any
view runs, protected or not, as on the other adapters (RFC 6750 §3.1): a malformed
header is answered 400, a bad, expired or revoked token 401, a store that is down
503. A request without credentials passes unchanged with ``request.token = None``.
The settings page and the management API check their own callers. A tokenguard
error raised by a view (``guard.require(request.token, "write")``) gets the
answer ``require_scope`` gives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from tokenguard.errors import TokenGuardError
from tokenguard.web.auth import REFUSALS
from tokenguard_django.registry import get_state
from tokenguard_django.translate import TOKEN_ATTRIBUTE, carries_credentials, identify, refusal, to_django

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
        if carries_credentials(request.META, get_state().web.options):
            # the store is Django's ORM: never on the event loop
            answer = await sync_to_async(self.identify, thread_sensitive=True)(request)
            if answer is not None:
                return answer
        else:  # nothing to verify: no trip to a worker thread
            setattr(request, TOKEN_ATTRIBUTE, None)
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response

    def identify(self, request: HttpRequest) -> HttpResponse | None:
        """Set ``request.token``; the refusal to answer instead of the view, if any."""
        state = get_state()
        if state.web.handles(request.path_info):
            setattr(request, TOKEN_ATTRIBUTE, None)  # the mount points check their own callers
            return None
        authenticator = state.web.authenticator
        try:
            identify(authenticator, request)
        except REFUSALS as exc:
            setattr(request, TOKEN_ATTRIBUTE, None)
            return to_django(authenticator.respond(exc))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, TokenGuardError):
            return None
        return refusal(get_state().web.authenticator, exception)
