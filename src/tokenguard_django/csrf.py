"""CSRF through Django's own ``CsrfViewMiddleware``, in place of the web layer's token.

The settings page's forms carry Django's ``csrfmiddlewaretoken`` (``get_token``)
and its view is ``csrf_protect``-ed: a form sent without it gets Django's 403
(``CSRF_FAILURE_VIEW``) before the web layer sees it. The management API takes
bearer tokens, which are no ambient credential, so its view is exempt; a
signed-in browser's write to it passes Django's check too (the ``X-CSRFToken``
header, ``CSRF_HEADER_NAME``), asked by the web layer when it sees a cookie
caller, as Django REST framework's ``SessionAuthentication`` does.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token

from tokenguard.web.csrf import HostCsrf

#: the form field Django's middleware reads the token from.
DJANGO_CSRF_FIELD = "csrfmiddlewaretoken"


def _unused(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never a response to give
    raise RuntimeError("the CSRF check gives no response of its own")


class _CsrfCookie(CsrfViewMiddleware):
    """Django's middleware without its check: the request's CSRF cookie read, and set when handed out."""

    def process_view(self, request: HttpRequest, callback: object, callback_args: object,
                     callback_kwargs: object) -> None:
        return None


_COOKIE = _CsrfCookie(_unused)
_CHECK = CsrfViewMiddleware(_unused)


def passes_django_check(request: HttpRequest) -> bool:
    """True when the request passed Django's CSRF check (run now, unless it ran already)."""
    return _CHECK.process_view(request, _unused, (), {}) is None


def with_csrf_cookie(request: HttpRequest, answer: Callable[[], HttpResponse]) -> HttpResponse:
    """``answer()`` with Django's CSRF cookie read first and set after, when a token was handed out.

    For the exempt API view: the token a signed-in listing hands out works even
    where ``MIDDLEWARE`` lacks ``CsrfViewMiddleware``.
    """
    _COOKIE.process_request(request)
    response = answer()
    _COOKIE.process_response(request, response)
    return response


def host_csrf(request: HttpRequest) -> HostCsrf:
    """Django's CSRF protection for one request, as the web layer asks for it."""
    return HostCsrf(field=DJANGO_CSRF_FIELD, token=lambda: get_token(request),
                    passed=lambda: passes_django_check(request))
