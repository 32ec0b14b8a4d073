"""The settings page and the management API, served by the shared web layer.

Mounted with ``path("", include("tokenguard_django.urls"))``. The owner is the
signed-in ``request.user`` (its primary key) or ``TOKENGUARD["owner_loader"](request)``.
CSRF is Django's own (``tokenguard_django.csrf``): the page is ``csrf_protect``-ed and
its forms carry ``csrfmiddlewaretoken``; the API takes bearer tokens past Django's
check and has a signed-in browser's writes pass it. With ``TOKENGUARD["base_template"]``
the page is inside the project's own Django base template (``tokenguard_django.layout``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from tokenguard_django.csrf import host_csrf, with_csrf_cookie
from tokenguard_django.layout import host_layout
from tokenguard_django.registry import get_state
from tokenguard_django.translate import current_owner, to_django, web_request


def _serve(request: HttpRequest, rest: str, *, api: bool) -> HttpResponse:
    state = get_state()
    web = state.web
    root = web.options.api_path if api else web.options.settings_path
    incoming = web_request(request, root, rest, current_owner(state, request), web.options.max_body_size,
                           host_csrf(request), host_layout(request, web.options))
    return to_django(web.dispatch(incoming))


@csrf_exempt  # a bearer token is no ambient credential; the web layer asks Django's check for cookies
def management_api(request: HttpRequest, rest: str = "") -> HttpResponse:
    """``TOKENGUARD["api_path"]`` (``/api/tokens``) and below: JSON."""
    return with_csrf_cookie(request, lambda: _serve(request, rest, api=True))


@csrf_protect
def settings_page(request: HttpRequest, rest: str = "") -> HttpResponse:
    """``TOKENGUARD["settings_path"]`` (``/settings/tokens``) and below: HTML."""
    return _serve(request, rest, api=False)
