"""The URLconf of the tests' Django project: protected views of every kind, DRF, ninja, the web layer."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.decorators import method_decorator
from django.views import View

from tokenguard_django import get_guard
from tokenguard_django.decorators import require_scope


def owner_of(request: HttpRequest) -> dict[str, Any]:
    token = getattr(request, "token", None)
    return {"owner": None if token is None else token.owner, "id": None if token is None else token.id}


@require_scope("read")
def read_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(owner_of(request))


@require_scope("write", project_from="project")
def project_view(request: HttpRequest, project: str) -> HttpResponse:
    return JsonResponse({**owner_of(request), "project": project})


@require_scope("write", project_from=lambda request, project: project.upper())
def upper_project_view(request: HttpRequest, project: str) -> HttpResponse:
    return JsonResponse({**owner_of(request), "project": project})


@require_scope("write")
async def async_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(owner_of(request))


@require_scope
def any_token_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(owner_of(request))


@method_decorator(require_scope("read"), name="dispatch")
class ReadClassView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(owner_of(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(owner_of(request))


class WriteClassView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse({"open": True})

    @method_decorator(require_scope("write"))
    def post(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(owner_of(request))


@method_decorator(require_scope("write"), name="dispatch")
class AsyncClassView(View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(owner_of(request))


def open_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(owner_of(request))


async def async_open_view(request: HttpRequest) -> HttpResponse:
    """Unprotected and async: under ASGI nothing but the middleware stands before it."""
    token = request.token  # type: ignore[attr-defined]  # set by the middleware, always
    if token is None:
        return JsonResponse({"owner": None, "id": None})
    return JsonResponse({"owner": token.owner, "id": token.id})


def requires_inside(request: HttpRequest) -> HttpResponse:
    """A view that checks by itself: the guard's refusal becomes the RFC 6750 answer."""
    get_guard().require(request.token, "management")  # type: ignore[attr-defined]
    return JsonResponse(owner_of(request))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("read", read_view),
    path("projects/<str:project>", project_view),
    path("upper/<str:project>", upper_project_view),
    path("async", async_view),
    path("any", any_token_view),
    path("class/read", ReadClassView.as_view()),
    path("class/write", WriteClassView.as_view()),
    path("class/async", AsyncClassView.as_view()),
    path("open", open_view),
    path("async/open", async_open_view),
    path("inside", requires_inside),
    path("", include("tokenguard_django.urls")),
]

if importlib.util.find_spec("rest_framework") is not None:
    from django_test_drf import urlpatterns as drf_urls

    urlpatterns += [path("drf/", include(drf_urls))]

if importlib.util.find_spec("ninja") is not None:
    from django_test_ninja import api, bare_api

    urlpatterns += [path("ninja/", api.urls), path("ninja-bare/", bare_api.urls)]
