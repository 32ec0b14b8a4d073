"""``GET /notes/<contender>``: the same DRF view, bare and behind each library, as each documents it.

- ``bare``: no authentication, no permission.
- ``tokenguard``: ``TokenGuardAuthentication`` + ``HasScope("read")`` (with
  ``TokenGuardMiddleware`` in the project, or without it: DRF's authentication alone).
- ``knox``: django-rest-knox's ``TokenAuthentication`` + ``IsAuthenticated``.
- ``api_key``: djangorestframework-api-key's ``HasAPIKey`` (a permission; keys have no user).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import path
from knox.auth import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

from tokenguard.models import TokenInfo
from tokenguard_django.rest_framework import HasScope, TokenGuardAuthentication


class Bare(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"owner": "alice"})


class Tokenguard(APIView):
    authentication_classes = [TokenGuardAuthentication]
    permission_classes = [HasScope("read")]

    def get(self, request: Request) -> Response:
        return Response({"owner": request.auth.owner})


class Knox(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"owner": request.user.get_username()})


class ApiKey(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [HasAPIKey]

    def get(self, request: Request) -> Response:
        return Response({"owner": "alice"})


class HandOver:
    """The ceiling, no contender: hands every request one token verified at start-up (``VERIFIED_ONCE``)."""

    VERIFIED_ONCE: TokenInfo | None = None

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        request.token = self.VERIFIED_ONCE  # type: ignore[attr-defined]
        return self.get_response(request)


VIEWS = {"bare": Bare.as_view(), "tokenguard": Tokenguard.as_view(), "knox": Knox.as_view(),
         "api_key": ApiKey.as_view()}


def notes(request: HttpRequest, contender: str) -> Any:
    """One URL pattern for every contender: resolving costs each of them the same."""
    return VIEWS[contender](request)


urlpatterns = [path("notes/<str:contender>", notes)]
