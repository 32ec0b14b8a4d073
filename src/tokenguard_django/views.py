"""The settings page and the management API, served by the shared web layer.

Mounted with ``path("", include("tokenguard_django.urls"))``. The owner is the
signed-in ``request.user`` (its primary key) or ``TOKENGUARD["owner_loader"](request)``.
These views carry the web layer's own CSRF protection (a signed token bound to
the signed-in owner, plus an Origin check), as on every adapter, and take bearer
tokens: Django's CSRF middleware leaves them alone.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tokenguard_django.registry import get_state
from tokenguard_django.translate import current_owner, to_django, web_request


def _serve(request: HttpRequest, rest: str, *, api: bool) -> HttpResponse:
    state = get_state()
    web = state.web
    root = web.options.api_path if api else web.options.settings_path
    incoming = web_request(request, root, rest, current_owner(state, request), web.options.max_body_size)
    return to_django(web.dispatch(incoming))


@csrf_exempt
def management_api(request: HttpRequest, rest: str = "") -> HttpResponse:
    """``TOKENGUARD["api_path"]`` (``/api/tokens``) and below: JSON."""
    return _serve(request, rest, api=True)


@csrf_exempt
def settings_page(request: HttpRequest, rest: str = "") -> HttpResponse:
    """``TOKENGUARD["settings_path"]`` (``/settings/tokens``) and below: HTML."""
    return _serve(request, rest, api=False)
